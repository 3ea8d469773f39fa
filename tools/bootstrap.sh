#!/usr/bin/env bash
# Installs actjit's build dependencies (Debian bookworm, run as root) and
# builds the project into ./build. Used by the README's two commands and by
# .ci/run. Packages already installed are not touched.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  cmake g++ make ccache          # build
  llvm-19-dev                    # LLVM 19 ORC JIT and code generation
  libboost-dev                   # Boost.Spirit X3 (the grammar)
  libeigen3-dev                  # Eigen 3.4 interop
  libsleef-dev                   # SLEEF vector math (exp, log, tanh, erf, ...)
  catch2                         # tests
  libedit-dev                    # the REPL's line editing, history and completion
  libcairo2-dev                  # plots to SVG and PNG
  nlohmann-json3-dev             # reading the reference data in tests
  pkgconf                        # the install test builds a consumer with pkg-config
  python3                        # tools/gen_api_docs.py --check (the API reference is current)
  libdnnl-dev                    # oneDNN: the benchmark's peer (bench/; optional there)
  libmpfr-dev                    # MPFR: the float64 accuracy sweep and its test (optional in CMake)
)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
