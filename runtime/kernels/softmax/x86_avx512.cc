// Float32 row softmax, AVX-512F + FMA: 16 lanes per zmm register.
//
// GCC 12's avx512fintrin.h starts max/convert/shift/cast results from _mm512_undefined_*,
// which -Wmaybe-uninitialized reports once they are inlined here; the warning is false.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "runtime/kernels/softmax/softmax.h"
#include "runtime/kernels/softmax/vector_impl.h"

namespace pare::rt::kernels {

namespace {

struct Avx512 {
  static constexpr size_t kWidth = 16;
  static __m512 load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }
  static __m512 set1(float v) { return _mm512_set1_ps(v); }
  static __m512 add(__m512 a, __m512 b) { return _mm512_add_ps(a, b); }
  static __m512 sub(__m512 a, __m512 b) { return _mm512_sub_ps(a, b); }
  static __m512 mul(__m512 a, __m512 b) { return _mm512_mul_ps(a, b); }
  static __m512 fmadd(__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); }
  // a > b ? a : b
  static __m512 max(__m512 a, __m512 b) { return _mm512_max_ps(a, b); }
  static __m512 round(__m512 v) {
    return _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  static __m512 pow2i(__m512 n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static float reduce_add(__m512 v) {
    // Folds the 128-bit quarters in zmm registers, then the last four lanes.
    __m512 h = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
    h = _mm512_add_ps(h, _mm512_shuffle_f32x4(h, h, 0xB1));
    __m128 s = _mm512_castps512_ps128(h);
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static float reduce_max(__m512 v) {
    // Folds the 128-bit quarters in zmm registers, then the last four lanes.
    __m512 h = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
    h = _mm512_max_ps(h, _mm512_shuffle_f32x4(h, h, 0xB1));
    __m128 m = _mm512_castps512_ps128(h);
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
  }
};

}  // namespace

void f32_softmax_rows_x16__avx512(int64_t cols, const float* x, float* y, int64_t row_begin,
                                  int64_t row_end) {
  softmax_vec::softmax_rows<Avx512>(cols, x, y, row_begin, row_end);
}

}  // namespace pare::rt::kernels
