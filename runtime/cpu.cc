#include "runtime/cpu.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <strings.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif
#define PARE_CPU_X86 1
#elif defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#define PARE_CPU_ARM64 1
#endif

namespace pare::rt {

namespace {

struct IsaName {
  Isa isa;
  const char* name;
};
constexpr IsaName kIsaNames[] = {
    {Isa::kScalar, "scalar"}, {Isa::kAvx2, "avx2"}, {Isa::kAvx512, "avx512"},
    {Isa::kAvx512Vnni, "avx512vnni"}, {Isa::kAmx, "amx"}, {Isa::kNeon, "neon"}, {Isa::kNeonDot, "neondot"},
};

#if PARE_CPU_X86
// XCR0 says which register states the OS saves on a context switch; a CPU feature is
// usable only if the OS saves its registers too.
uint64_t read_xcr0() {
  uint32_t eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<uint64_t>(edx) << 32) | eax;
}

CpuFeatures detect() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  const bool fma = ecx & (1u << 12);
  const bool osxsave = ecx & (1u << 27);
  const bool avx = ecx & (1u << 28);
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;     // bits 1 (SSE), 2 (AVX)
  const bool zmm_saved = (xcr0 & 0xe6) == 0xe6;   // plus 5 (opmask), 6 (ZMM0-15 high), 7 (ZMM16-31)
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return f;
  const bool avx2 = ebx & (1u << 5);
  const bool avx512f = ebx & (1u << 16);
  const bool avx512dq = ebx & (1u << 17);
  const bool avx512bw = ebx & (1u << 30);
  const bool avx512vl = ebx & (1u << 31);
  const bool avx512vnni = ecx & (1u << 11);
  const bool avx512vbmi = ecx & (1u << 1);
  const bool amx_tile = edx & (1u << 24);
  const bool amx_int8 = edx & (1u << 25);
  const bool tiles_saved = (xcr0 & 0x60000) == 0x60000;  // bits 17 (TILECFG), 18 (TILEDATA)
  f.avx2_fma = avx2 && fma && ymm_saved;
  f.avx512 = f.avx2_fma && avx512f && avx512dq && avx512bw && avx512vl && zmm_saved;
  f.avx512vnni = f.avx512 && avx512vnni;
  f.avx512vbmi = f.avx512 && avx512vbmi;
  f.amx = f.avx512vnni && amx_tile && amx_int8 && tiles_saved;
  return f;
}
#elif PARE_CPU_ARM64
CpuFeatures detect() {
  CpuFeatures f;
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.neon = hwcap & HWCAP_ASIMD;
  f.neon_dot = f.neon && (hwcap & HWCAP_ASIMDDP);
  return f;
}
#else
CpuFeatures detect() { return CpuFeatures{}; }
#endif

// Linux hands out the 8 KiB of AMX tile registers only to a process that asks for them
// (arch_prctl ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA; every thread inherits it), and
// the first tile instruction without it kills the process. Asked once, when an ISA choice
// first considers AMX (a PARE_ISA cap below amx never asks): the grant makes every signal
// frame of the process about 8 KiB larger.
bool os_grants_amx_tiles() {
#if defined(__linux__) && defined(__x86_64__)
  static const bool granted = [] {
    constexpr long kArchReqXcompPerm = 0x1023;
    constexpr long kXfeatureXtiledata = 18;
    return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
  }();
  return granted;
#else
  return false;
#endif
}

// This CPU runs the ISA and this build has its kernels (cmake -DPARE_ISAS may leave some out).
bool supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return PARE_KERNELS_AVX2 && f.avx2_fma;
    case Isa::kAvx512: return PARE_KERNELS_AVX512 && f.avx512;
    case Isa::kAvx512Vnni: return PARE_KERNELS_AVX512VNNI && f.avx512vnni;
    case Isa::kAmx: return PARE_KERNELS_AMX && f.amx && os_grants_amx_tiles();
    case Isa::kNeon: return PARE_KERNELS_NEON && f.neon;
    case Isa::kNeonDot: return PARE_KERNELS_NEONDOT && f.neon_dot;
  }
  return false;
}

bool is_arm(Isa isa) { return isa == Isa::kNeon || isa == Isa::kNeonDot; }

// The cap alone, before asking whether the CPU has the ISA.
bool isa_usable_under(Isa isa, Isa cap) {
  if (isa == Isa::kScalar) return true;
  if (cap == Isa::kScalar || is_arm(isa) != is_arm(cap)) return false;
  return static_cast<int>(isa) <= static_cast<int>(cap);
}

// Best first; scalar always last.
constexpr Isa kPreference[] = {Isa::kAmx,     Isa::kAvx512Vnni, Isa::kAvx512, Isa::kAvx2,
                               Isa::kNeonDot, Isa::kNeon,       Isa::kScalar};

}  // namespace

const char* isa_name(Isa isa) {
  for (const IsaName& n : kIsaNames)
    if (n.isa == isa) return n.name;
  return "unknown";
}

bool isa_from_name(const char* name, Isa* out) {
  if (!name) return false;
  for (const IsaName& n : kIsaNames) {
    if (strcasecmp(name, n.name) == 0) {
      *out = n.isa;
      return true;
    }
  }
  return false;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();  // thread-safe, once
  return features;
}

// A cap orders ISAs within one architecture; a cap naming the other architecture's
// ISAs leaves only scalar code.
bool isa_usable(Isa isa, Isa cap) { return isa_usable_under(isa, cap) && supported(isa); }

namespace {

// The first ISA of kPreference under PARE_ISA and, if given, `cap` that this CPU and build
// support. The caps are checked first, so that an ISA above them is never asked about (AMX
// is granted on asking).
Isa best_isa_capped(const Isa* cap) {
  // Read on every call (not cached) so that tests can change the cap between runs.
  Isa env_cap = Isa::kScalar;
  const char* env = std::getenv("PARE_ISA");
  const bool env_capped = env && isa_from_name(env, &env_cap);
  for (Isa isa : kPreference)
    if ((!env_capped || isa_usable_under(isa, env_cap)) && (!cap || isa_usable_under(isa, *cap)) && supported(isa))
      return isa;
  return Isa::kScalar;
}

}  // namespace

Isa best_isa() { return best_isa_capped(nullptr); }

Isa best_isa_under(Isa cap) { return best_isa_capped(&cap); }

namespace {

// The size of /sys/devices/system/cpu/cpu0/cache/index<i> ("32768K", "1M") at the highest
// level of a data or unified cache; 0 when sysfs does not say.
size_t read_last_level_cache_bytes() {
  size_t best = 0;
  int best_level = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    int level = 0;
    char type[32] = {}, unit = 0;
    unsigned long long size = 0;
    FILE* f = std::fopen((dir + "level").c_str(), "r");
    if (!f) break;
    const bool has_level = std::fscanf(f, "%d", &level) == 1;
    std::fclose(f);
    f = std::fopen((dir + "type").c_str(), "r");
    const bool has_type = f && std::fscanf(f, "%31s", type) == 1;
    if (f) std::fclose(f);
    f = std::fopen((dir + "size").c_str(), "r");
    const int fields = f ? std::fscanf(f, "%llu%c", &size, &unit) : 0;
    if (f) std::fclose(f);
    if (!has_level || !has_type || fields < 1 || std::string(type) == "Instruction") continue;
    if (unit == 'K') size <<= 10;
    if (unit == 'M') size <<= 20;
    if (level > best_level) {
      best_level = level;
      best = static_cast<size_t>(size);
    }
  }
  return best;
}

}  // namespace

size_t last_level_cache_bytes() {
  static const size_t bytes = read_last_level_cache_bytes();  // thread-safe, once
  return bytes;
}

}  // namespace pare::rt
