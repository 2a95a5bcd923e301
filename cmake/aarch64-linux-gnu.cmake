# Cross build for 64-bit ARM Linux with Debian's gcc-aarch64-linux-gnu,
# tests run through qemu-user (both in scripts/packages.txt). Only the
# kernels and their ARM tests build this way (no arm64 MPI/PostgreSQL/ZeroMQ):
#   cmake -S . -B build-arm -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
#         -DBNC_KERNELS_ONLY=ON && cmake --build build-arm && ctest --test-dir build-arm
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# ctest runs the test programs under qemu (QEMU_CPU in a test's environment
# picks the emulated CPU, e.g. with or without the dot product extension).
find_program(BNC_QEMU_AARCH64 qemu-aarch64)
if(BNC_QEMU_AARCH64)
    set(CMAKE_CROSSCOMPILING_EMULATOR ${BNC_QEMU_AARCH64} -L /usr/aarch64-linux-gnu)
endif()
