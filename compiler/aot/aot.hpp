// Ahead-of-time compilation: every definition of a source file becomes
// float32 and float64 forward/backward kernels in a static library, with a
// C header declaring them, so a program can call custom activations with no
// LLVM at run time (the kernels call SLEEF's vector math: link -lsleef).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "grammar/diagnostics.hpp"

namespace actjit::aot {

struct Options {
  std::string library;   // output .a path
  std::string header;    // output .h path
  std::string cpu = "native";  // native, x86-64-v2, x86-64-v3, x86-64-v4
  std::string prefix;    // symbol prefix; default: the library's base name without "lib"
};

/// Compiles the definitions of `source`; returns their names. Errors in the
/// source carry positions into it; output errors have none.
Result<std::vector<std::string>> compile(std::string_view source, const Options& options);

/// The C header text for the given definitions (exposed for tests).
std::string header_text(const std::string& prefix, const std::string& guard, const std::string& cpu,
                        const std::vector<std::string>& names, const std::vector<std::vector<std::string>>& params,
                        const std::vector<std::vector<double>>& defaults);

}  // namespace actjit::aot
