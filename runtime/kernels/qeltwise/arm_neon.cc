// Int8 elementwise kernels, NEON (AArch64): 16 elements per block as four q registers of 4
// int32/float lanes (the loops are in vector_impl.h).
#include <arm_neon.h>

#include "runtime/kernels/qeltwise/vector_impl.h"
#include "runtime/kernels/simd/arm_neon_int8.h"

namespace pare::rt::kernels {

namespace {
// y = table[x] on 16 bytes at a time: tbl looks up 64 bytes by an index below 64 and tbx
// keeps the result where the index is 64 or more, so the four quarters of the table are
// looked up with x, x - 64, x - 128 and x - 192 (wrapping, so the other quarters' bytes
// fall out of range).
void lookup_neon(size_t n, const uint8_t* x, const uint8_t table[256], uint8_t* y) {
  uint8x16x4_t quarters[4];
  for (int q = 0; q < 4; ++q)
    for (int r = 0; r < 4; ++r) quarters[q].val[r] = vld1q_u8(table + 64 * q + 16 * r);
  const uint8x16_t step = vdupq_n_u8(64);
  const auto block = [&](const uint8_t* in, uint8_t* out) {
    uint8x16_t v = vld1q_u8(in);
    uint8x16_t acc = vqtbl4q_u8(quarters[0], v);
    for (int q = 1; q < 4; ++q) {
      v = vsubq_u8(v, step);
      acc = vqtbx4q_u8(acc, quarters[q], v);
    }
    vst1q_u8(out, acc);
  };
  q8_eltwise_vec::unary<16>(n, x, y, block);
}

constexpr Q8EltwiseVariant kNeon =
    q8_eltwise_vec::make_q8_eltwise_variant<simd::NeonInt8>("neon", Isa::kNeon, lookup_neon);
}  // namespace

const Q8EltwiseVariant& q8_eltwise_neon() { return kNeon; }

}  // namespace pare::rt::kernels
