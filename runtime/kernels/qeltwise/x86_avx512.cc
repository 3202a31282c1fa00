// Int8 elementwise kernels, AVX-512: 32 elements per block as two zmm of 16 int32/float
// lanes; vpmovdb stores the low bytes (the loops are in vector_impl.h).
#include "runtime/kernels/qeltwise/vector_impl.h"
#include "runtime/kernels/simd/x86_avx512_int8.h"

namespace pare::rt::kernels {

namespace {
constexpr Q8EltwiseVariant kAvx512 =
    q8_eltwise_vec::make_q8_eltwise_variant<simd::Avx512Int8>("avx512", Isa::kAvx512);
}  // namespace

const Q8EltwiseVariant& q8_eltwise_avx512() { return kAvx512; }

}  // namespace pare::rt::kernels
