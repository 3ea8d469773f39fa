// The ORC LLJIT engine (see engine.hpp). Every llvm::Error and Expected is
// consumed here and becomes a Diagnostic.
#include "compiler/jit/engine.hpp"

#include <dlfcn.h>

#include <atomic>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/MemoryBuffer.h>
#include <cstring>
#include <mutex>

#include "compiler/jit/codegen.hpp"
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
  std::string prefix = "actjit_k" + std::to_string(impl_->counter.fetch_add(1));
  lower::KernelSymbols names;
  auto object = generate(p, dtype, host_target(), prefix, Output::Object, &names);
  if (!object) return object.error();
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(*object, prefix);

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
  for (auto [name, slot] : {std::pair{&names.forward, &code->forward}, {&names.backward, &code->backward},
                            {&names.backward_x, &code->backward_x}}) {
    std::string err = lookup(*name, *slot);
    if (!err.empty()) return Diagnostic{Diagnostic::npos, "cannot find the compiled kernel: " + err};
  }
  return code;
}

std::string Engine::emit_ir(const Program& p, lower::DType dtype) {
  auto text = generate(p, dtype, host_target(), "actjit", Output::LlvmIr);
  return text ? *text : "; " + text.error().message + "\n";
}

std::string Engine::emit_asm(const Program& p, lower::DType dtype) {
  auto text = generate(p, dtype, host_target(), "actjit", Output::Assembly);
  return text ? *text : "# " + text.error().message + "\n";
}

}  // namespace actjit::jit
