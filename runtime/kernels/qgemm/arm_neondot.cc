// Int8 GEMM microkernel, NEON with dot products (sdot): 8 rows x 8 columns of int32
// accumulators, B packed as [8 columns x 4 bytes] per 4 rows of K. sdot multiplies signed
// bytes, so A is read as a ^ 0x80 = a - 128 (exact in int8) and the packed bias carries the
// missing 128 * sum(w) (qgemm_pack_b). Sums of 4 products of at most 128 * 128 are exact.
#include <arm_neon.h>

#include "runtime/kernels/qgemm/neon_epilogue.h"
#include "runtime/kernels/qgemm/qgemm.h"

#define PARE_QGEMM_UNROLL _Pragma("GCC unroll 16")

namespace pare::rt::kernels {

namespace {

using qgemm_neon::Epilogue;
using qgemm_neon::load_tail;
using qgemm_neon::load_u32;

constexpr size_t kNr = 8;
constexpr size_t kHeader = 128;  // bias, multiplier, shift: 96 bytes padded to 64

template <size_t MR>
void tile(size_t nc, size_t k, const uint8_t* a, size_t a_stride, const uint8_t* panel, uint8_t* c,
          size_t c_stride, int32_t c_zero_point, int32_t lo, int32_t hi) {
  const auto* head = reinterpret_cast<const int32_t*>(panel);
  const auto* w = reinterpret_cast<const int8_t*>(panel + kHeader);
  int32x4_t acc[MR][2];
  PARE_QGEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    acc[i][0] = vld1q_s32(head);
    acc[i][1] = vld1q_s32(head + 4);
  }
  // One group of 4 rows of K (the panel's rows past K are zero, so the tail's padding bytes
  // of A, 0x80 after the flip, add nothing).
  auto step = [&](auto&& a_bytes) {
    const int8x16_t b0 = vld1q_s8(w), b1 = vld1q_s8(w + 16);
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const int8x16_t av = vreinterpretq_s8_u32(vdupq_n_u32(a_bytes(a + i * a_stride) ^ 0x80808080u));
      acc[i][0] = vdotq_s32(acc[i][0], b0, av);
      acc[i][1] = vdotq_s32(acc[i][1], b1, av);
    }
    w += 4 * kNr;
  };
  const size_t k4 = k / 4;
  for (size_t g = 0; g < k4; ++g) step([g](const uint8_t* row) { return load_u32(row + 4 * g); });
  if (k % 4) step([k4, k](const uint8_t* row) { return load_tail(row + 4 * k4, k % 4); });

  const Epilogue ep(head + kNr, head + 2 * kNr, c_zero_point, lo, hi);
  PARE_QGEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) ep.store(acc[i][0], acc[i][1], nc, c + i * c_stride);
}

}  // namespace

void q8_gemm_8x8__neondot(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
                          const void* panel_v, uint8_t* c, size_t c_stride, int32_t czp, int32_t lo,
                          int32_t hi) {
  const auto* panel = static_cast<const uint8_t*>(panel_v);
  switch (mr) {
    case 1: return tile<1>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 2: return tile<2>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 3: return tile<3>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 4: return tile<4>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 5: return tile<5>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 6: return tile<6>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    case 7: return tile<7>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
    default: return tile<8>(nc, k, a, a_stride, panel, c, c_stride, czp, lo, hi);
  }
}

}  // namespace pare::rt::kernels
