// Code generation shared by the JIT and the ahead-of-time compiler: a
// Program -> optimized LLVM module -> object file, assembly or IR text, for
// a given CPU. Each call uses its own LLVMContext and TargetMachine, so calls
// from several threads run in parallel. No LLVM types in this header.
#pragma once

#include <string>

#include "compiler/jit/target.hpp"
#include "compiler/lower/lower.hpp"

namespace actjit::jit {

enum class Output { Object, Assembly, LlvmIr };

/// Lowers `p` for `target` with kernel symbols starting with `prefix`,
/// optimizes, and emits `what`. On failure returns a Diagnostic without a
/// position. `wide_prefix`: the float64 kernels' prefix for Abi::Aot's
/// float32 entry points (lower::emit_kernels).
Result<std::string> generate(const Program& p, lower::DType dtype, const TargetInfo& target, const std::string& prefix,
                             Output what, lower::KernelSymbols* symbols = nullptr, lower::Part part = lower::Part::All,
                             lower::Abi abi = lower::Abi::Aot, const std::string& wide_prefix = "");

/// The target for a --cpu name: "native" (the host), or x86-64-v2 (SSE4.2,
/// 128-bit vectors), x86-64-v3 (AVX2, 256), x86-64-v4 (AVX-512, 512).
Result<TargetInfo> target_for_cpu(const std::string& cpu);

/// Initializes LLVM's native target once (thread-safe).
void initialize_llvm();

}  // namespace actjit::jit
