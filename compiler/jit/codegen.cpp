// Code generation for the JIT and the AOT compiler (see codegen.hpp).
#include "compiler/jit/codegen.hpp"
#include "compiler/lower/split.hpp"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Transforms/IPO/AlwaysInliner.h>
#include <llvm/Transforms/InstCombine/InstCombine.h>
#include <llvm/Transforms/Scalar/EarlyCSE.h>
#include <llvm/Transforms/Scalar/SROA.h>
#include <llvm/Transforms/Scalar/SimplifyCFG.h>
#include <llvm/Support/CommandLine.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "compiler/lower/math.hpp"

namespace actjit::jit {

void initialize_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

namespace {

/// Adds the code generation passes for `type` to `pm` (false on failure),
/// without three IR passes that change nothing in these kernels (the same
/// machine code for every catalogue kernel, checked) and cost ~17% of a
/// kernel's code generation: loop strength reduction (with its induction
/// variable analysis; the one loop here counts by its offset already),
/// CodeGenPrepare and constant hoisting. LLVM lets only its command-line
/// options leave them out, and reads them while building the pipeline:
/// they are set for that moment and restored (a mutex orders this process's
/// builds; another LLVM user building a pipeline in the same microseconds
/// would miss those passes too, a matter of speed, not of correctness).
bool add_codegen_passes(llvm::TargetMachine& tm, llvm::legacy::PassManager& pm, llvm::raw_pwrite_stream& os,
                        llvm::CodeGenFileType type) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  auto& options = llvm::cl::getRegisteredOptions();
  std::vector<std::pair<llvm::cl::opt<bool>*, bool>> saved;
  for (const char* name : {"disable-lsr", "disable-cgp", "disable-constant-hoisting"}) {
    auto it = options.find(name);
    if (it == options.end()) continue;
    auto* flag = static_cast<llvm::cl::opt<bool>*>(it->second);  // each a cl::opt<bool> in LLVM 19
    saved.emplace_back(flag, flag->getValue());
    flag->setValue(true);
  }
  bool failed = tm.addPassesToEmitFile(pm, os, nullptr, type);
  for (auto& [flag, value] : saved) flag->setValue(value);
  return !failed;
}

/// Target machines, kept for reuse: building one, and the X86 subtarget it
/// creates on first use (instruction lowering tables), costs about a
/// millisecond, a fifth of a whole compile. A TargetMachine is not safe to
/// share between threads, so each compile leases one for its duration; the
/// pool holds at most as many per target as have been in use at once.
class MachinePool {
 public:
  /// A target machine and, built on first use, its object-file code
  /// generation pipeline: building that (addPassesToEmitFile) costs 0.4 ms
  /// and its first run more; a legacy PassManager runs again on the next
  /// module with the same results (its MachineModuleInfo and MC context are
  /// reset by each run: byte-identical objects, test_cache checks), which
  /// takes ~20% off each kernel's code generation.
  struct Entry {
    std::unique_ptr<llvm::TargetMachine> tm;
    std::unique_ptr<llvm::legacy::PassManager> emit_object;
    llvm::SmallVector<char, 0> object;
    std::unique_ptr<llvm::raw_svector_ostream> object_stream;
  };
  using Machine = std::unique_ptr<Entry>;

  /// A machine (returned to the pool when the lease ends), or null.
  class Lease {
   public:
    Lease(MachinePool& pool, std::string key, Machine m) : pool_(pool), key_(std::move(key)), m_(std::move(m)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() {
      if (m_) pool_.put(key_, std::move(m_));
    }
    llvm::TargetMachine* get() const { return m_ ? m_->tm.get() : nullptr; }
    /// Object code for `m` (null where the target cannot emit objects).
    const llvm::SmallVector<char, 0>* emit_object(llvm::Module& m) {
      if (!m_->emit_object) {
        m_->object_stream = std::make_unique<llvm::raw_svector_ostream>(m_->object);
        m_->emit_object = std::make_unique<llvm::legacy::PassManager>();
        if (!add_codegen_passes(*m_->tm, *m_->emit_object, *m_->object_stream, llvm::CodeGenFileType::ObjectFile)) {
          m_->emit_object.reset();
          return nullptr;
        }
      }
      m_->object.clear();
      m_->emit_object->run(m);
      return &m_->object;
    }

   private:
    MachinePool& pool_;
    std::string key_;
    Machine m_;
  };

  Lease take(const TargetInfo& t, std::string& error) {
    std::string key = t.triple + '\n' + t.cpu + '\n' + t.features;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = idle_.find(key); it != idle_.end()) {
        Machine m = std::move(it->second);
        idle_.erase(it);
        return Lease(*this, key, std::move(m));
      }
    }
    Machine m;
    if (const llvm::Target* target = llvm::TargetRegistry::lookupTarget(t.triple, error)) {
      m = std::make_unique<Entry>();
      // Small code model and PIC: what the JIT links, what `asm` shows, and
      // what goes into position-independent AOT objects. CodeGenOptLevel
      // Less: the same machine code as Default for these kernels (checked
      // on the catalogue; it differs only in instruction order on some
      // CPUs' scheduling models), 10-15% less compile time.
      m->tm.reset(target->createTargetMachine(t.triple, t.cpu, t.features, llvm::TargetOptions(), llvm::Reloc::PIC_,
                                              llvm::CodeModel::Small, llvm::CodeGenOptLevel::Less));
      if (!m->tm) m.reset();
    }
    return Lease(*this, key, std::move(m));
  }

 private:
  void put(const std::string& key, Machine m) {
    std::lock_guard<std::mutex> lock(mu_);
    idle_.emplace(key, std::move(m));
  }
  std::mutex mu_;
  std::multimap<std::string, Machine> idle_;
};

MachinePool& machine_pool() {
  static MachinePool* pool = new MachinePool;  // never destroyed: LLVM's statics may go first at exit
  return *pool;
}

void optimize(llvm::Module& m, llvm::TargetMachine& tm) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  // The kernels are explicit vector code already: no vectorizers, no loop
  // transformations, no interprocedural work beyond inlining the math
  // functions. A short pipeline chosen for that (LLVM's full O2 costs
  // several times more compile time for the same machine code here).
  llvm::ModulePassManager mpm;
  if (std::getenv("ACTJIT_FULL_O2")) {
    mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
  } else {
    mpm.addPass(llvm::AlwaysInlinerPass());
    llvm::FunctionPassManager fpm;
    fpm.addPass(llvm::SROAPass(llvm::SROAOptions::ModifyCFG));
    fpm.addPass(llvm::EarlyCSEPass());
    fpm.addPass(llvm::InstCombinePass());
    fpm.addPass(llvm::SimplifyCFGPass());
    mpm.addPass(llvm::createModuleToFunctionPassAdaptor(std::move(fpm)));
  }
  mpm.run(m, mam);
  lower::scale_by_powers_of_two(m);
  lower::split_long_bodies(m);
}

}  // namespace

Result<std::string> generate(const Program& p, lower::DType dtype, const TargetInfo& target, const std::string& prefix,
                             Output what, lower::KernelSymbols* symbols, lower::Part part, lower::Abi abi,
                             const std::string& wide_prefix) {
  initialize_llvm();
  std::string error;
  MachinePool::Lease lease = machine_pool().take(target, error);
  llvm::TargetMachine* tm = lease.get();
  if (!tm) return Diagnostic{Diagnostic::npos, "no target machine for " + target.triple + ": " + error};
  llvm::LLVMContext ctx;
  llvm::Module m("actjit", ctx);
  m.setDataLayout(tm->createDataLayout());
  m.setTargetTriple(target.triple);
  lower::KernelSymbols names =
      lower::emit_kernels(p, dtype, target.vector_bits, target.cpu, target.features, prefix, m, part, abi, wide_prefix);
  if (symbols) *symbols = names;
  std::string verify;
  llvm::raw_string_ostream vs(verify);
  if (llvm::verifyModule(m, &vs)) {
    vs.flush();
    internal_error(__FILE__, __LINE__, verify.c_str());
  }
  optimize(m, *tm);
  if (what == Output::LlvmIr) {
    std::string text;
    llvm::raw_string_ostream os(text);
    m.print(os, nullptr);
    os.flush();
    return text;
  }
  lower::load_splat_constants(m);  // for the code generator only (see math.hpp)
  if (what == Output::Object) {
    const llvm::SmallVector<char, 0>* object = lease.emit_object(m);
    if (!object) return Diagnostic{Diagnostic::npos, "the target cannot emit object files"};
    return std::string(object->data(), object->size());
  }
  llvm::SmallVector<char, 0> out;
  llvm::raw_svector_ostream os(out);
  llvm::legacy::PassManager pm;
  if (!add_codegen_passes(*tm, pm, os, llvm::CodeGenFileType::AssemblyFile))
    return Diagnostic{Diagnostic::npos, "the target cannot emit assembly"};
  pm.run(m);
  return std::string(out.data(), out.size());
}

Result<TargetInfo> target_for_cpu(const std::string& cpu) {
  if (cpu == "native") return host_target();
  TargetInfo t;
  t.triple = host_target().triple;
  t.cpu = cpu;
  // The features each psABI level implies, spelled out: the code generator
  // knows them from the CPU name, but the lowering reads the feature string
  // (vscalef on AVX-512, an exact FMA product where there is FMA).
  const std::string v2 = "+cx16,+popcnt,+sahf,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3";
  const std::string v3 = v2 + ",+avx,+avx2,+bmi,+bmi2,+f16c,+fma,+lzcnt,+movbe,+xsave";
  const std::string v4 = v3 + ",+avx512bw,+avx512cd,+avx512dq,+avx512f,+avx512vl";
  if (cpu == "x86-64-v2") {
    t.vector_bits = 128;
    t.features = v2;
  } else if (cpu == "x86-64-v3") {
    t.vector_bits = 256;
    t.features = v3;
  } else if (cpu == "x86-64-v4") {
    t.vector_bits = 512;
    t.features = v4;
  } else {
    return Diagnostic{Diagnostic::npos,
                      "unknown cpu '" + cpu + "' (use native, x86-64-v2, x86-64-v3 or x86-64-v4)"};
  }
  return t;
}

}  // namespace actjit::jit
