#!/usr/bin/env bash
# install_roundtrip.sh SRC BUILD - install the build into a temporary
# prefix, then build and run a consumer through pkg-config and through
# CMake's find_package (shared and static), and check the shared
# library's SONAME and that it exports only hl_ symbols.
set -euo pipefail
src=$1 build=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libhammerlock.so' | head -n1)")
test -f "$prefix/include/hammerlock.h"
test -f "$prefix/include/hammerlock/refs.h"
test -f "$libdir/libhammerlock.a"
test -f "$libdir/pkgconfig/hammerlock.pc"
test -f "$libdir/cmake/hammerlock/hammerlockConfig.cmake"

soname=$(readelf -d "$libdir/libhammerlock.so" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libhammerlock.so.0 ] || { echo "bad SONAME '$soname'"; exit 1; }
bad=$(nm -D --defined-only "$libdir/libhammerlock.so" | awk '{print $3}' |
	grep -v -e '^hl_' -e '^HAMMERLOCK_' || true)
[ -z "$bad" ] || { echo "unexpected exported symbols: $bad"; exit 1; }

# Flags of the build under test (sanitizers) must reach the consumer.
extra=${HL_CONSUMER_CFLAGS:-}

# pkg-config
export PKG_CONFIG_PATH=$libdir/pkgconfig
cc=${CC:-cc}
# shellcheck disable=SC2046,SC2086
$cc $extra -std=c11 -o "$tmp/consumer_pc" "$src/tests/install/consumer/consumer.c" \
	$(pkg-config --cflags --libs hammerlock) -pthread
LD_LIBRARY_PATH=$libdir "$tmp/consumer_pc"

# CMake package, shared and static
cmake -S "$src/tests/install/consumer" -B "$tmp/cb" \
	-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$extra" \
	-DCMAKE_EXE_LINKER_FLAGS="$extra" >/dev/null
cmake --build "$tmp/cb" >/dev/null
LD_LIBRARY_PATH=$libdir "$tmp/cb/consumer_cmake"
"$tmp/cb/consumer_static"
echo "install_roundtrip: 4 passed, 0 failed"
