// The JIT engine: one object owns the LLVM ORC LLJIT and the target. A
// Program is lowered and optimized in the calling thread (its own
// LLVMContext), compiled to an object file there, and only linking into the
// JIT happens under the engine's lock, so several threads compile at once.
// Each kernel's code has its own ResourceTracker: releasing the kernel frees
// its code. No LLVM types in this header.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "compiler/jit/target.hpp"
#include "compiler/lower/lower.hpp"

namespace actjit::jit {

class EngineImpl;

/// Machine code of one program's kernels; frees it when destroyed.
class KernelCode {
 public:
  ~KernelCode();
  KernelCode(const KernelCode&) = delete;
  KernelCode& operator=(const KernelCode&) = delete;

  void* forward = nullptr;
  void* backward = nullptr;
  void* backward_x = nullptr;  // null when the program has no parameters

 private:
  friend class Engine;
  KernelCode() = default;
  std::shared_ptr<EngineImpl> engine_;
  void* tracker_ = nullptr;  // llvm::orc::ResourceTracker, kept alive by us
};

class Engine {
 public:
  /// Creates an engine for the host. Errors: no usable target, no SLEEF.
  static Result<std::shared_ptr<Engine>> create();
  ~Engine();

  const TargetInfo& target() const;

  /// Lowers, optimizes, compiles and links the kernels of `p`.
  Result<std::shared_ptr<KernelCode>> compile(const Program& p, lower::DType dtype);

  /// The optimized LLVM IR of the kernels, as text.
  std::string emit_ir(const Program& p, lower::DType dtype);
  /// The machine code of the kernels, as assembly text.
  std::string emit_asm(const Program& p, lower::DType dtype);

 private:
  Engine() = default;
  std::shared_ptr<EngineImpl> impl_;
};

}  // namespace actjit::jit
