// Float32 elementwise kernels, AVX2 + FMA: 8 lanes per ymm register.
#include "runtime/kernels/simd/x86_avx2.h"

#include "runtime/kernels/eltwise/vector_impl.h"

namespace pare::rt::kernels {

namespace {

constexpr F32EltwiseVariant kAvx2 =
    eltwise_vec::make_f32_eltwise_variant<simd::F32x8Avx2>(Isa::kAvx2, "x8__avx2");

}  // namespace

const F32EltwiseVariant& f32_eltwise_avx2() { return kAvx2; }

}  // namespace pare::rt::kernels
