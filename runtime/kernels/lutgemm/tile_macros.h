// Compiler hints shared by the ISA files of the LUT GEMM tiles.
#pragma once

#define PARE_LUT_UNROLL _Pragma("GCC unroll 16")
// The accumulators start as zeros in registers: without this GCC turns their initialisation
// into a memset of a stack copy (rep stos), which costs more than a small tile. Clang has no
// such pass to switch off (and no optimize attribute).
#if defined(__clang__)
#define PARE_LUT_NO_MEMSET
#else
#define PARE_LUT_NO_MEMSET __attribute__((optimize("no-tree-loop-distribute-patterns")))
#endif
