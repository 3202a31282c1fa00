// Int8 elementwise kernels, NEON (AArch64): 16 elements per block as four q registers of 4
// int32/float lanes (the loops are in vector_impl.h).
#include "runtime/kernels/qeltwise/vector_impl.h"
#include "runtime/kernels/simd/arm_neon_int8.h"

namespace pare::rt::kernels {

namespace {
constexpr Q8EltwiseVariant kNeon = q8_eltwise_vec::make_q8_eltwise_variant<simd::NeonInt8>("neon", Isa::kNeon);
}  // namespace

const Q8EltwiseVariant& q8_eltwise_neon() { return kNeon; }

}  // namespace pare::rt::kernels
