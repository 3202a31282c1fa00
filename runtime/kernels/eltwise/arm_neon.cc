// Float32 elementwise kernels, AArch64 NEON: 4 lanes per q register.
#include "runtime/kernels/simd/arm_neon.h"

#include "runtime/kernels/eltwise/vector_impl.h"

namespace pare::rt::kernels {

namespace {

constexpr F32EltwiseVariant kNeon =
    eltwise_vec::make_f32_eltwise_variant<simd::F32x4Neon>(Isa::kNeon, "x4__neon");

}  // namespace

const F32EltwiseVariant& f32_eltwise_neon() { return kNeon; }

}  // namespace pare::rt::kernels
