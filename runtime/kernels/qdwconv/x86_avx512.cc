// Int8 depthwise convolution, AVX-512 (F/BW): vpmaddwd then vpaddd on the channel block of
// x86_avx512.h; the loops are in vector_impl.h.
#include "runtime/kernels/qdwconv/x86_avx512.h"

namespace pare::rt::kernels {

using qdwconv_vec::qdwconv_fixed;
using qdwconv_vec::qdwconv_generic;

void q8_dwconv_3x3s1__avx512(const QDwConvParams& p, const uint8_t* input, const void* packed,
                             uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<Avx512DwBlock, 3, 1, 8>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_3x3s2__avx512(const QDwConvParams& p, const uint8_t* input, const void* packed,
                             uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<Avx512DwBlock, 3, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s1__avx512(const QDwConvParams& p, const uint8_t* input, const void* packed,
                             uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<Avx512DwBlock, 5, 1, 8>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_5x5s2__avx512(const QDwConvParams& p, const uint8_t* input, const void* packed,
                             uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_fixed<Avx512DwBlock, 5, 2, 4>(p, input, packed, output, oh_begin, oh_end);
}

void q8_dwconv_kxk__avx512(const QDwConvParams& p, const uint8_t* input, const void* packed,
                           uint8_t* output, int64_t oh_begin, int64_t oh_end) {
  qdwconv_generic<Avx512DwBlock>(p, input, packed, output, oh_begin, oh_end);
}

}  // namespace pare::rt::kernels
