// The ORC LLJIT engine (see engine.hpp). Every llvm::Error and Expected is
// consumed here and becomes a Diagnostic.
#include "compiler/jit/engine.hpp"

#include <dlfcn.h>

#include <atomic>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <mutex>

#include "compiler/lower/math.hpp"

namespace actjit::jit {

class EngineImpl {
 public:
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::mutex mu;  // guards linking into and removing from the JIT
  std::atomic<uint64_t> counter{0};
  void* sleef = nullptr;

  ~EngineImpl() {
    jit.reset();
    if (sleef) dlclose(sleef);
  }
};

namespace {

std::string to_string(llvm::Error e) {
  std::string s;
  llvm::handleAllErrors(std::move(e), [&](const llvm::ErrorInfoBase& info) { s += info.message(); });
  return s;
}

void initialize_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

std::unique_ptr<llvm::TargetMachine> make_target_machine(std::string& error) {
  const TargetInfo& t = host_target();
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(t.triple, error);
  if (!target) return nullptr;
  llvm::TargetOptions options;
  // Small code model and PIC: what the JIT links, and what `asm` shows.
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      t.triple, t.cpu, t.features, options, llvm::Reloc::PIC_, llvm::CodeModel::Small,
      llvm::CodeGenOptLevel::Default));
}

/// A module with the kernels of `p`, optimized.
struct Lowered {
  std::unique_ptr<llvm::LLVMContext> ctx;
  std::unique_ptr<llvm::Module> module;
  lower::KernelSymbols symbols;
};

Lowered lower_and_optimize(const Program& p, lower::DType dtype, llvm::TargetMachine& tm, const std::string& prefix) {
  const TargetInfo& t = host_target();
  Lowered out;
  out.ctx = std::make_unique<llvm::LLVMContext>();
  out.module = std::make_unique<llvm::Module>("actjit", *out.ctx);
  out.module->setDataLayout(tm.createDataLayout());
  out.module->setTargetTriple(t.triple);
  out.symbols = lower::emit_kernels(p, dtype, t.vector_bits, t.cpu, t.features, prefix, *out.module);
  std::string verify;
  llvm::raw_string_ostream vs(verify);
  if (llvm::verifyModule(*out.module, &vs)) {
    vs.flush();
    internal_error(__FILE__, __LINE__, verify.c_str());
  }
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
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
  mpm.run(*out.module, mam);
  return out;
}

bool emit_file(llvm::Module& m, llvm::TargetMachine& tm, llvm::CodeGenFileType type, llvm::SmallVectorImpl<char>& out) {
  llvm::raw_svector_ostream os(out);
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, os, nullptr, type)) return false;
  pm.run(m);
  return true;
}

}  // namespace

KernelCode::~KernelCode() {
  auto* rt = static_cast<llvm::orc::ResourceTrackerSP*>(tracker_);
  if (!rt) return;
  {
    std::lock_guard<std::mutex> lock(engine_->mu);
    if (llvm::Error e = (*rt)->remove()) llvm::consumeError(std::move(e));
  }
  delete rt;
}

Engine::~Engine() = default;

const TargetInfo& Engine::target() const { return host_target(); }

Result<std::shared_ptr<Engine>> Engine::create() {
  initialize_llvm();
  auto impl = std::make_shared<EngineImpl>();
  impl->sleef = dlopen("libsleef.so.3", RTLD_NOW | RTLD_LOCAL);
  if (!impl->sleef)
    return Diagnostic{Diagnostic::npos, std::string("cannot load the SLEEF vector math library (libsleef.so.3): ") +
                                            dlerror()};
  auto jtmb = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) return Diagnostic{Diagnostic::npos, "cannot detect the host: " + to_string(jtmb.takeError())};
  jtmb->setCodeModel(llvm::CodeModel::Small);
  jtmb->setRelocationModel(llvm::Reloc::PIC_);
  // No process symbols: JIT code may call only the vetted math symbols below.
  auto jit = llvm::orc::LLJITBuilder()
                 .setJITTargetMachineBuilder(std::move(*jtmb))
                 .setLinkProcessSymbolsByDefault(false)
                 .setPlatformSetUp(llvm::orc::setUpInactivePlatform)
                 .create();
  if (!jit) return Diagnostic{Diagnostic::npos, "cannot create the JIT: " + to_string(jit.takeError())};
  impl->jit = std::move(*jit);
  llvm::orc::SymbolMap symbols;
  auto add = [&](const std::string& name, void* address) {
    if (address)
      symbols[impl->jit->mangleAndIntern(name)] = {llvm::orc::ExecutorAddr::fromPtr(address),
                                                   llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable};
  };
  for (const std::string& name : lower::external_math_symbols()) add(name, dlsym(impl->sleef, name.c_str()));
  add("memcpy", reinterpret_cast<void*>(&std::memcpy));
  add("memset", reinterpret_cast<void*>(&std::memset));
  if (llvm::Error e = impl->jit->getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(symbols))))
    return Diagnostic{Diagnostic::npos, "cannot define math symbols: " + to_string(std::move(e))};
  std::shared_ptr<Engine> engine(new Engine());
  engine->impl_ = std::move(impl);
  return engine;
}

Result<std::shared_ptr<KernelCode>> Engine::compile(const Program& p, lower::DType dtype) {
  std::string error;
  auto tm = make_target_machine(error);
  if (!tm) return Diagnostic{Diagnostic::npos, "no target machine: " + error};
  std::string prefix = "actjit_k" + std::to_string(impl_->counter.fetch_add(1));
  Lowered l = lower_and_optimize(p, dtype, *tm, prefix);
  llvm::SmallVector<char, 0> object;
  if (!emit_file(*l.module, *tm, llvm::CodeGenFileType::ObjectFile, object))
    return Diagnostic{Diagnostic::npos, "the target cannot emit object code"};
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(object.data(), object.size()), prefix);

  std::shared_ptr<KernelCode> code(new KernelCode());
  code->engine_ = impl_;
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto tracker = impl_->jit->getMainJITDylib().createResourceTracker();
  if (llvm::Error e = impl_->jit->addObjectFile(tracker, std::move(buffer)))
    return Diagnostic{Diagnostic::npos, "cannot link the kernel: " + to_string(std::move(e))};
  code->tracker_ = new llvm::orc::ResourceTrackerSP(tracker);
  auto lookup = [&](const std::string& name, void*& out) -> std::string {
    if (name.empty()) return {};
    auto sym = impl_->jit->lookup(name);
    if (!sym) return to_string(sym.takeError());
    out = sym->toPtr<void*>();
    return {};
  };
  for (auto [name, slot] : {std::pair{&l.symbols.forward, &code->forward}, {&l.symbols.backward, &code->backward},
                            {&l.symbols.backward_x, &code->backward_x}}) {
    std::string err = lookup(*name, *slot);
    if (!err.empty()) return Diagnostic{Diagnostic::npos, "cannot find the compiled kernel: " + err};
  }
  return code;
}

std::string Engine::emit_ir(const Program& p, lower::DType dtype) {
  std::string error;
  auto tm = make_target_machine(error);
  if (!tm) return "; no target machine: " + error + "\n";
  Lowered l = lower_and_optimize(p, dtype, *tm, "actjit");
  std::string text;
  llvm::raw_string_ostream os(text);
  l.module->print(os, nullptr);
  os.flush();
  return text;
}

std::string Engine::emit_asm(const Program& p, lower::DType dtype) {
  std::string error;
  auto tm = make_target_machine(error);
  if (!tm) return "# no target machine: " + error + "\n";
  Lowered l = lower_and_optimize(p, dtype, *tm, "actjit");
  llvm::SmallVector<char, 0> text;
  if (!emit_file(*l.module, *tm, llvm::CodeGenFileType::AssemblyFile, text)) return "# cannot emit assembly\n";
  return std::string(text.data(), text.size());
}

}  // namespace actjit::jit
