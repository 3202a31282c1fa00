// Int8 elementwise kernels, AVX2 + FMA: 16 elements per block as two ymm of 8 int32/float
// lanes (the loops are in vector_impl.h).
#include "runtime/kernels/qeltwise/vector_impl.h"
#include "runtime/kernels/simd/x86_avx2_int8.h"

namespace pare::rt::kernels {

namespace {
constexpr Q8EltwiseVariant kAvx2 = q8_eltwise_vec::make_q8_eltwise_variant<simd::Avx2Int8>("avx2", Isa::kAvx2);
}  // namespace

const Q8EltwiseVariant& q8_eltwise_avx2() { return kAvx2; }

}  // namespace pare::rt::kernels
