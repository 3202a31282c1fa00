// Float32 elementwise kernels, AVX-512F: 16 lanes per zmm register.
//
// GCC 12's avx512fintrin.h starts convert/shift results from _mm512_undefined_*, which
// -Wmaybe-uninitialized reports once they are inlined here; the warning is false.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "runtime/kernels/simd/x86_avx512.h"

#include "runtime/kernels/eltwise/vector_impl.h"

namespace pare::rt::kernels {

namespace {

constexpr F32EltwiseVariant kAvx512 =
    eltwise_vec::make_f32_eltwise_variant<simd::F32x16Avx512>(Isa::kAvx512, "x16__avx512");

}  // namespace

const F32EltwiseVariant& f32_eltwise_avx512() { return kAvx512; }

}  // namespace pare::rt::kernels
