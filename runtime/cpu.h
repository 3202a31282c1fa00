// CPU feature detection and the ISA cap (PARE_ISA) used to choose kernels at prepare time.
#pragma once

// The ISAs whose SIMD kernels this build compiles: all that the target architecture has,
// unless cmake -DPARE_ISAS=... left some out (it defines PARE_WITHOUT_<ISA>).
#if defined(__x86_64__) && !defined(PARE_WITHOUT_AVX2)
#define PARE_KERNELS_AVX2 1
#else
#define PARE_KERNELS_AVX2 0
#endif
#if defined(__x86_64__) && !defined(PARE_WITHOUT_AVX512)
#define PARE_KERNELS_AVX512 1
#else
#define PARE_KERNELS_AVX512 0
#endif
#if defined(__x86_64__) && !defined(PARE_WITHOUT_AVX512VNNI)
#define PARE_KERNELS_AVX512VNNI 1
#else
#define PARE_KERNELS_AVX512VNNI 0
#endif
#if defined(__x86_64__) && !defined(PARE_WITHOUT_AMX)
#define PARE_KERNELS_AMX 1
#else
#define PARE_KERNELS_AMX 0
#endif
#if defined(__aarch64__) && !defined(PARE_WITHOUT_NEON)
#define PARE_KERNELS_NEON 1
#else
#define PARE_KERNELS_NEON 0
#endif
#if defined(__aarch64__) && !defined(PARE_WITHOUT_NEONDOT)
#define PARE_KERNELS_NEONDOT 1
#else
#define PARE_KERNELS_NEONDOT 0
#endif

#include <cstddef>

namespace pare::rt {

// kAmx: AVX-512 VNNI plus the AMX int8 tile unit (only the int8 GEMM has a variant for it;
// every other family runs its VNNI or AVX-512 kernels under this cap).
enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Vnni = 3, kAmx = 4, kNeon = 10, kNeonDot = 11 };

const char* isa_name(Isa isa);
bool isa_from_name(const char* name, Isa* out);

struct CpuFeatures {
  bool avx2_fma = false;    // AVX2 + FMA + OS saves YMM state
  bool avx512 = false;      // AVX-512 F/BW/DQ/VL + OS saves ZMM state
  bool avx512vnni = false;
  bool amx = false;         // with avx512vnni: AMX-TILE + AMX-INT8 + OS saves tile state (the
                            // process still asks Linux for the tiles before first use, cpu.cc)
  bool avx512vbmi = false;  // with avx512: byte permutes (vpermb, vpermi2b); not an ISA level
  bool neon = false;
  bool neon_dot = false;
};

// Detected once (cpuid + XCR0 on x86, HWCAP on AArch64).
const CpuFeatures& cpu_features();
// Best ISA this CPU supports and this build has kernels for, capped by PARE_ISA if set (an
// unknown value is ignored).
Isa best_isa();
// The best ISA of best_isa() that is also not above `cap` (an app's own cap, as
// pare_options_set_max_isa gives it).
Isa best_isa_under(Isa cap);
// True when `isa` is supported here and not above `cap`.
bool isa_usable(Isa isa, Isa cap);

// Bytes of the largest cache level of CPU 0 as Linux reports it (sysfs), 0 when unknown.
// Read once.
size_t last_level_cache_bytes();

}  // namespace pare::rt
