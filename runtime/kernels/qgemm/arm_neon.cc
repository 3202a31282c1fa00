// Int8 GEMM microkernel, NEON without dot products: 8 rows x 8 columns of int32 accumulators.
// B is packed widened to int16 (8 columns per row of K); A's bytes are zero-extended to
// int16 and smlal (by lane) adds the exact int32 products.
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
  const auto* w = reinterpret_cast<const int16_t*>(panel + kHeader);
  int32x4_t acc[MR][2];
  PARE_QGEMM_UNROLL
  for (size_t i = 0; i < MR; ++i) {
    acc[i][0] = vld1q_s32(head);
    acc[i][1] = vld1q_s32(head + 4);
  }
  // Four rows of K per step (the panel's rows past K are zero).
  auto step = [&](auto&& a_bytes) {
    int16x8_t b[4];
    PARE_QGEMM_UNROLL
    for (int q = 0; q < 4; ++q) b[q] = vld1q_s16(w + kNr * q);
    PARE_QGEMM_UNROLL
    for (size_t i = 0; i < MR; ++i) {
      const uint8x8_t x = vreinterpret_u8_u32(vdup_n_u32(a_bytes(a + i * a_stride)));
      const int16x4_t av = vreinterpret_s16_u16(vget_low_u16(vmovl_u8(x)));
      acc[i][0] = vmlal_lane_s16(acc[i][0], vget_low_s16(b[0]), av, 0);
      acc[i][1] = vmlal_high_lane_s16(acc[i][1], b[0], av, 0);
      acc[i][0] = vmlal_lane_s16(acc[i][0], vget_low_s16(b[1]), av, 1);
      acc[i][1] = vmlal_high_lane_s16(acc[i][1], b[1], av, 1);
      acc[i][0] = vmlal_lane_s16(acc[i][0], vget_low_s16(b[2]), av, 2);
      acc[i][1] = vmlal_high_lane_s16(acc[i][1], b[2], av, 2);
      acc[i][0] = vmlal_lane_s16(acc[i][0], vget_low_s16(b[3]), av, 3);
      acc[i][1] = vmlal_high_lane_s16(acc[i][1], b[3], av, 3);
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

void q8_gemm_8x8__neon(size_t mr, size_t nc, size_t k, const uint8_t* a, size_t a_stride,
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
