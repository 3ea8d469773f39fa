// The actjit command line (LANGUAGE.md section 5): eval, grad, diff, list,
// ir, asm. Everything goes through the public C++ API and its JIT kernels.
#pragma once

namespace actjit::cli {

/// Runs the command line; returns the exit status (0 ok, 1 bad input,
/// 2 usage error, 3 internal failure such as a JIT that cannot start).
int run(int argc, char** argv);

}  // namespace actjit::cli
