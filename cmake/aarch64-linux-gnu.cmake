# Cross build for AArch64 Linux with Debian's g++-aarch64-linux-gnu; cross-built tests run
# on the host through qemu-user:
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DPARE_BUILD_TOOLCHAIN=OFF -DPARE_BUILD_BENCHMARKS=OFF
# The base target stays ARMv8.0-A so that generic code never needs a newer core; the
# dotprod kernels get -march=armv8.2-a+dotprod per file (runtime/CMakeLists.txt) and are
# chosen at run time only when HWCAP reports them.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(PARE_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_C_COMPILER ${PARE_CROSS_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${PARE_CROSS_TRIPLE}-g++)

# Debian installs the target's libc and libstdc++ here (libc6-dev-arm64-cross and friends).
set(PARE_CROSS_SYSROOT /usr/${PARE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH ${PARE_CROSS_SYSROOT})
# Programs (flatc) run on the host; libraries, headers and packages come from the target.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# ctest (and add_test with a target name) prefixes every test command with this.
find_program(PARE_QEMU_AARCH64 qemu-aarch64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${PARE_QEMU_AARCH64} -L ${PARE_CROSS_SYSROOT})
