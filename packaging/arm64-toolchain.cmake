# Cross-building PiCloud for arm64 (64-bit Raspberry Pi OS, Debian on a
# Pi) with Debian's multiarch toolchain: crossbuild-essential-arm64 and the
# :arm64 library packages (./dev package --arch arm64 installs them).
#
# Poco and libpq come in through the directory packaging/arm64-shim.sh
# makes (PICLOUD_ARM64_SHIM): their -dev packages cannot be installed for
# arm64 beside the amd64 ones on Debian 12, so the shim pairs the amd64
# packages' headers (the same on both) with the arm64 runtime libraries.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(PICLOUD_DEB_ARCHITECTURE arm64 CACHE STRING "the Debian architecture of the packages")
# The built binaries run under qemu-user on this machine.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L /usr/aarch64-linux-gnu)

if(PICLOUD_ARM64_SHIM)
  list(PREPEND CMAKE_PREFIX_PATH "${PICLOUD_ARM64_SHIM}")
  set(PostgreSQL_INCLUDE_DIR /usr/include/postgresql CACHE PATH "libpq's headers (the amd64 package's)")
  set(PostgreSQL_LIBRARY "${PICLOUD_ARM64_SHIM}/lib/aarch64-linux-gnu/libpq.so" CACHE FILEPATH "arm64 libpq")
endif()

# Never the build machine's own libraries: pkg-config reads the arm64
# .pc files, and find_library() skips the amd64 directory.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig")
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)
