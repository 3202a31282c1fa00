#include "runtime/cpu.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#if defined(__x86_64__) && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace pare::rt {
namespace {

constexpr Isa kAll[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Vnni, Isa::kAmx, Isa::kNeon, Isa::kNeonDot};

bool supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::kScalar: return true;
    case Isa::kAvx2: return f.avx2_fma;
    case Isa::kAvx512: return f.avx512;
    case Isa::kAvx512Vnni: return f.avx512vnni;
    case Isa::kAmx: return f.amx;
    case Isa::kNeon: return f.neon;
    case Isa::kNeonDot: return f.neon_dot;
  }
  return false;
}

// Sets PARE_ISA for one scope and restores the previous value.
class ScopedIsaEnv {
 public:
  explicit ScopedIsaEnv(const char* value) {
    if (const char* old = std::getenv("PARE_ISA")) old_ = old, had_ = true;
    if (value) setenv("PARE_ISA", value, 1);
    else unsetenv("PARE_ISA");
  }
  ~ScopedIsaEnv() {
    if (had_) setenv("PARE_ISA", old_.c_str(), 1);
    else unsetenv("PARE_ISA");
  }

 private:
  std::string old_;
  bool had_ = false;
};

TEST(Cpu, IsaNamesRoundTrip) {
  for (Isa isa : kAll) {
    Isa parsed = Isa::kScalar;
    ASSERT_TRUE(isa_from_name(isa_name(isa), &parsed)) << isa_name(isa);
    EXPECT_EQ(parsed, isa);
  }
  EXPECT_STREQ(isa_name(Isa::kAvx512Vnni), "avx512vnni");
  EXPECT_STREQ(isa_name(Isa::kAmx), "amx");
  EXPECT_STREQ(isa_name(Isa::kNeonDot), "neondot");
  Isa parsed = Isa::kScalar;
  EXPECT_TRUE(isa_from_name("AVX2", &parsed));
  EXPECT_EQ(parsed, Isa::kAvx2);
  EXPECT_FALSE(isa_from_name("sse4", &parsed));
  EXPECT_FALSE(isa_from_name("", &parsed));
  EXPECT_FALSE(isa_from_name(nullptr, &parsed));
}

TEST(Cpu, FeaturesAreConsistent) {
  const CpuFeatures& f = cpu_features();
  EXPECT_EQ(&f, &cpu_features());  // detected once
  EXPECT_TRUE(!f.avx512vnni || f.avx512);
  EXPECT_TRUE(!f.avx512 || f.avx2_fma);
  EXPECT_TRUE(!f.neon_dot || f.neon);
#if defined(__x86_64__)
  EXPECT_FALSE(f.neon);
#elif defined(__aarch64__)
  EXPECT_FALSE(f.avx2_fma);
  EXPECT_TRUE(f.neon);  // every AArch64 Linux CPU has Advanced SIMD
#endif
}

#if defined(__x86_64__) && defined(__linux__)
// Linux lists a vector extension in /proc/cpuinfo only when the CPU has it and the
// kernel saves its registers: an independent view of the same facts.
TEST(Cpu, MatchesProcCpuinfoFlags) {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  std::set<std::string> flags;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) flags.insert(w);
    break;
  }
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags";
  auto has = [&](const char* f) { return flags.count(f) != 0; };
  const CpuFeatures& f = cpu_features();
  EXPECT_EQ(f.avx2_fma, has("avx2") && has("fma"));
  EXPECT_EQ(f.avx512, f.avx2_fma && has("avx512f") && has("avx512dq") && has("avx512bw") &&
                          has("avx512vl"));
  EXPECT_EQ(f.avx512vnni, f.avx512 && has("avx512_vnni"));
}
#endif

TEST(Cpu, IsaUsableRespectsCapAndSupport) {
  for (Isa cap : kAll) {
    EXPECT_TRUE(isa_usable(Isa::kScalar, cap));
    for (Isa isa : kAll) {
      if (!isa_usable(isa, cap)) continue;
      EXPECT_TRUE(supported(isa)) << isa_name(isa);
      EXPECT_TRUE(isa == Isa::kScalar || static_cast<int>(isa) <= static_cast<int>(cap));
    }
  }
  for (Isa isa : kAll) {
    if (isa == Isa::kScalar) continue;
    EXPECT_FALSE(isa_usable(isa, Isa::kScalar)) << isa_name(isa);
  }
  // A cap of the other architecture leaves only scalar code.
  EXPECT_FALSE(isa_usable(Isa::kAvx2, Isa::kNeonDot));
  EXPECT_FALSE(isa_usable(Isa::kNeon, Isa::kAvx512Vnni));
  if (supported(Isa::kAvx2)) {
    EXPECT_TRUE(isa_usable(Isa::kAvx2, Isa::kAvx2));
    EXPECT_TRUE(isa_usable(Isa::kAvx2, Isa::kAvx512Vnni));
    EXPECT_FALSE(isa_usable(Isa::kAvx512, Isa::kAvx2));
  }
}

Isa expected_best(Isa cap, bool capped) {
  const Isa order[] = {Isa::kAmx, Isa::kAvx512Vnni, Isa::kAvx512, Isa::kAvx2, Isa::kNeonDot, Isa::kNeon};
  for (Isa isa : order) {
    if (!supported(isa)) continue;
    if (!capped) return isa;
    const bool same_arch = (isa >= Isa::kNeon) == (cap >= Isa::kNeon);
    if (cap != Isa::kScalar && same_arch && isa <= cap) return isa;
  }
  return Isa::kScalar;
}

TEST(Cpu, BestIsaHonoursTheCap) {
  {
    ScopedIsaEnv env(nullptr);
    EXPECT_EQ(best_isa(), expected_best(Isa::kScalar, false));
    EXPECT_TRUE(supported(best_isa()));
  }
  for (Isa cap : kAll) {
    ScopedIsaEnv env(isa_name(cap));
    const Isa best = best_isa();
    EXPECT_EQ(best, expected_best(cap, true)) << "PARE_ISA=" << isa_name(cap);
    EXPECT_TRUE(supported(best));
    EXPECT_TRUE(isa_usable(best, cap));
  }
  {
    ScopedIsaEnv env("scalar");
    EXPECT_EQ(best_isa(), Isa::kScalar);
  }
  {
    ScopedIsaEnv env("not-an-isa");  // ignored
    EXPECT_EQ(best_isa(), expected_best(Isa::kScalar, false));
  }
#if defined(__x86_64__)
  {
    ScopedIsaEnv env("neon");
    EXPECT_EQ(best_isa(), Isa::kScalar);
  }
  {
    ScopedIsaEnv env("avx2");
    EXPECT_EQ(best_isa(), supported(Isa::kAvx2) ? Isa::kAvx2 : Isa::kScalar);
  }
#endif
}

// An app's own cap works as PARE_ISA does, and the lower of the two wins.
TEST(Cpu, BestIsaUnderAnAppCap) {
  for (Isa cap : kAll) {
    ScopedIsaEnv env(nullptr);
    EXPECT_EQ(best_isa_under(cap), expected_best(cap, true)) << "cap " << isa_name(cap);
  }
  for (Isa env_cap : kAll)
    for (Isa cap : kAll) {
      ScopedIsaEnv env(isa_name(env_cap));
      const Isa lower = static_cast<int>(env_cap) < static_cast<int>(cap) ? env_cap : cap;
      const bool same_arch = (env_cap >= Isa::kNeon) == (cap >= Isa::kNeon) || env_cap == Isa::kScalar ||
                             cap == Isa::kScalar;
      EXPECT_EQ(best_isa_under(cap), same_arch ? expected_best(lower, true) : Isa::kScalar)
          << "PARE_ISA=" << isa_name(env_cap) << ", cap " << isa_name(cap);
    }
}

#if defined(__x86_64__) && defined(__linux__)
// Whether Linux has granted this process the AMX tile state (ARCH_GET_XCOMP_PERM).
bool amx_tiles_granted() {
  uint64_t features = 0;
  if (syscall(SYS_arch_prctl, 0x1022, &features) != 0) return false;
  return features & (uint64_t{1} << 18);
}

// The grant enlarges every signal frame, so a process capped below amx never asks for it;
// one that may use AMX asks before the first choice that can pick it. Runs in a fresh
// process (the grant cannot be undone).
TEST(Cpu, AmxTilesAreAskedForOnlyWhenAmxMayRun) {
  if (!cpu_features().amx) GTEST_SKIP() << "this CPU has no AMX-INT8";
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("PARE_ISA", "avx512vnni", 1);
        if (best_isa() != Isa::kAvx512Vnni || amx_tiles_granted()) std::exit(3);
        unsetenv("PARE_ISA");
        // An app's own cap (pare_options_set_max_isa) likewise.
        if (best_isa_under(Isa::kAvx512Vnni) != Isa::kAvx512Vnni || amx_tiles_granted()) std::exit(5);
        if (best_isa() != Isa::kAmx || !amx_tiles_granted()) std::exit(4);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "");
}
#endif

}  // namespace
}  // namespace pare::rt
