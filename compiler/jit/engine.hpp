// The JIT engine: one object owns the LLVM ORC LLJIT and the target. A
// Program's kernels (forward, backward, backward without parameter
// gradients) are lowered, optimized and compiled to one object file each,
// in the calling thread and one helper thread (each with its own
// LLVMContext); only linking into the JIT happens under the engine's lock,
// so several threads compile at once. The objects go to and come from the
// on-disk ObjectCache. Each kernel's code lives in a JITDylib of its own
// (so its symbols keep fixed names): releasing the kernel frees its code.
// No LLVM types in this header.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "compiler/jit/object_cache.hpp"
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
  void* fused = nullptr;       // only in code from Engine::compile_fused

 private:
  friend class Engine;
  KernelCode() = default;
  std::shared_ptr<EngineImpl> engine_;
  void* dylib_ = nullptr;  // llvm::orc::JITDylib holding this kernel alone; removed with it
};

/// What the engine has done since it was created.
struct EngineStats {
  uint64_t llvm_compiles = 0;  ///< programs compiled by LLVM
  uint64_t disk_hits = 0;      ///< programs whose objects came from the disk cache
  uint64_t disk_writes = 0;    ///< programs written to the disk cache
};

class Engine {
 public:
  /// Creates an engine for the host. Errors: no usable target, no SLEEF.
  static Result<std::shared_ptr<Engine>> create();
  ~Engine();

  const TargetInfo& target() const;

  /// Lowers, optimizes, compiles and links the kernels of `p`, or links
  /// their objects from the disk cache.
  Result<std::shared_ptr<KernelCode>> compile(const Program& p, lower::DType dtype);
  /// The fused kernel (y and f'(x) in one pass) of an elementwise `p`, in
  /// code of its own (compiled when first asked for; disk-cached too).
  Result<std::shared_ptr<KernelCode>> compile_fused(const Program& p, lower::DType dtype);
  /// The backward kernel of `p` alone (output_vjp_program's), likewise.
  Result<std::shared_ptr<KernelCode>> compile_backward(const Program& p, lower::DType dtype);
  /// The forward kernel of `p` alone (the one-register build of
  /// Program::narrow_forward), likewise.
  Result<std::shared_ptr<KernelCode>> compile_forward(const Program& p, lower::DType dtype);

  /// The on-disk object cache's directory ("" turns it off). Default: off;
  /// the runtime sets default_cache_dir().
  void set_cache_dir(const std::string& dir);
  std::string cache_dir() const;
  EngineStats stats() const;

  /// The optimized LLVM IR of the kernels, as text.
  std::string emit_ir(const Program& p, lower::DType dtype);
  /// The machine code of the kernels, as assembly text.
  std::string emit_asm(const Program& p, lower::DType dtype);

 private:
  Engine() = default;
  /// Links `objects` (the kernels of `p`) into a JITDylib of their own.
  Result<std::shared_ptr<KernelCode>> link(const Program& p, const std::vector<std::string>& objects,
                                           const std::vector<lower::Part>& parts);
  Result<std::shared_ptr<KernelCode>> compile_parts(const Program& p, lower::DType dtype,
                                                    const std::vector<lower::Part>& parts);

  std::shared_ptr<EngineImpl> impl_;
};

}  // namespace actjit::jit
