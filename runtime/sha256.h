// SHA-256 (FIPS 180-4): the content hash of .pare files and the source hash in their metadata.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace pare::rt {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  std::array<uint8_t, 32> finish();  // the object must not be updated afterwards

  static std::string hex(const std::array<uint8_t, 32>& digest);
  // 64 hex digits (either case) to a digest; false for anything else.
  static bool parse_hex(const std::string& text, std::array<uint8_t, 32>* digest);

 private:
  void compress(const uint8_t* block);

  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> block_{};
  size_t block_used_ = 0;
  uint64_t total_bytes_ = 0;
};

}  // namespace pare::rt
