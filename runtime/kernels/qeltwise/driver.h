// Row walkers shared by the vector variants: they call a block function on kBlock elements
// at a time and run the tail through padded buffers, so every element goes through the same
// vector code wherever it sits in the row. A step-0 operand is replaced by a block filled
// with its value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pare::rt::kernels::q8_driver {

constexpr size_t kMaxBlock = 64;

// block(const In* x, Out* y) on kBlock elements.
template <size_t kBlock, typename In, typename Out, typename Block>
inline void unary(size_t n, const In* x, Out* y, const Block& block) {
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock) block(x + i, y + i);
  if (i == n) return;
  In xt[kBlock] = {};
  Out yt[kBlock];
  std::memcpy(xt, x + i, (n - i) * sizeof(In));
  block(xt, yt);
  std::memcpy(y + i, yt, (n - i) * sizeof(Out));
}

// block(const uint8_t* a, const uint8_t* b, uint8_t* y) on kBlock elements.
template <size_t kBlock, typename Block>
inline void binary(size_t n, const uint8_t* a, size_t a_step, const uint8_t* b, size_t b_step,
                   uint8_t* y, const Block& block) {
  static_assert(kBlock <= kMaxBlock, "block too large");
  if (n == 0) return;
  uint8_t a_fill[kBlock], b_fill[kBlock];
  if (a_step == 0) {
    std::memset(a_fill, *a, kBlock);
    a = a_fill;
  }
  if (b_step == 0) {
    std::memset(b_fill, *b, kBlock);
    b = b_fill;
  }
  const size_t a_adv = a_step != 0 ? kBlock : 0, b_adv = b_step != 0 ? kBlock : 0;
  size_t i = 0;
  for (; i + kBlock <= n; i += kBlock, a += a_adv, b += b_adv) block(a, b, y + i);
  if (i == n) return;
  uint8_t at[kBlock] = {}, bt[kBlock] = {}, yt[kBlock];
  std::memcpy(at, a, a_step != 0 ? n - i : kBlock);
  std::memcpy(bt, b, b_step != 0 ? n - i : kBlock);
  block(at, bt, yt);
  std::memcpy(y + i, yt, n - i);
}

}  // namespace pare::rt::kernels::q8_driver
