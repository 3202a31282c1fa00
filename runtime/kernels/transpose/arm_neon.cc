// Three planes into pixels, AArch64 NEON: 4 pixels per step, one st3 (which stores three
// registers interleaved).
#include <arm_neon.h>

#include "runtime/kernels/transpose/transpose.h"

namespace pare::rt::kernels {

void x32_interleave3_x4__neon(size_t plane, const uint32_t* x, uint32_t* y, size_t begin, size_t end) {
  const uint32_t *r = x, *g = x + plane, *b = x + 2 * plane;
  size_t i = begin;
  for (; i + 4 <= end; i += 4) {
    uint32x4x3_t v;
    v.val[0] = vld1q_u32(r + i);
    v.val[1] = vld1q_u32(g + i);
    v.val[2] = vld1q_u32(b + i);
    vst3q_u32(y + 3 * i, v);
  }
  x32_interleave3_ref__scalar(plane, x, y, i, end);
}

}  // namespace pare::rt::kernels
