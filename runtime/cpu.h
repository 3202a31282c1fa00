// CPU feature detection and the ISA cap (PARE_ISA) used to choose kernels at prepare time.
#pragma once

namespace pare::rt {

enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3, kNeon = 10, kNeonDot = 11 };

const char* isa_name(Isa isa);
bool isa_from_name(const char* name, Isa* out);

struct CpuFeatures {
  bool avx2_fma = false;    // AVX2 + FMA + OS saves YMM state
  bool avx512 = false;      // AVX-512 F/BW/DQ/VL + OS saves ZMM state
  bool avx512vnni = false;
  bool avx512vbmi = false;  // with avx512: byte permutes (vpermb, vpermi2b); not an ISA level
  bool neon = false;
  bool neon_dot = false;
};

// Detected once (cpuid + XCR0 on x86, HWCAP on AArch64).
const CpuFeatures& cpu_features();
// Best ISA this CPU supports, capped by PARE_ISA if set (an unknown value is ignored).
Isa best_isa();
// True when `isa` is supported here and not above `cap`.
bool isa_usable(Isa isa, Isa cap);

}  // namespace pare::rt
