#!/usr/bin/env bash
# Installs the built actjit into a temporary prefix and builds and runs the
# consumer project against it: CMake package (shared and static library, C
# and C++), pkg-config (plain C), and the installed tool's AOT path.
# Usage: run.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" > /dev/null
cmake -S "$src/tests/consumer" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" > /dev/null
cmake --build "$work/consumer" -j2 > /dev/null
"$work/consumer/consumer_cpp"
"$work/consumer/consumer_cpp_static"
"$work/consumer/consumer_c"

# pkg-config, plain C, no CMake.
export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
cc "$src/tests/consumer/consumer.c" -o "$work/consumer_pc" $(pkg-config --cflags --libs actjit) -lm \
   -Wl,-rpath,"$work/prefix/lib"
"$work/consumer_pc"

# The installed tool compiles kernels ahead of time; the program needs only SLEEF.
"$work/prefix/bin/actjit" compile "$src/examples/aot/defs.act" -o "$work/libmyacts.a" --header "$work/myacts.h"
cc "$src/examples/aot/main.c" -I"$work" "$work/libmyacts.a" -lsleef -lm -o "$work/aot"
"$work/aot" > /dev/null
if ldd "$work/aot" | grep -qE 'actjit|LLVM'; then
  echo "AOT program depends on actjit or LLVM at run time" >&2
  exit 1
fi
echo "consumer: all ok"
