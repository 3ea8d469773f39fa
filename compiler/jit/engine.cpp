// The ORC LLJIT engine (see engine.hpp). Every llvm::Error and Expected is
// consumed here and becomes a Diagnostic.
#include "compiler/jit/engine.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <llvm/Config/llvm-config.h>
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/MemoryBuffer.h>
#include <cstring>
#include <mutex>
#include <thread>

#include "actjit/actjit.hpp"
#include "compiler/jit/codegen.hpp"
#include "compiler/jit/quiet_thread.hpp"
#include "compiler/lower/math.hpp"

namespace actjit::jit {

class EngineImpl {
 public:
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::mutex mu;  // guards linking into and removing from the JIT, and `cache`
  std::atomic<uint64_t> counter{0};
  void* sleef = nullptr;
  std::shared_ptr<const ObjectCache> cache = std::make_shared<ObjectCache>();
  std::atomic<uint64_t> llvm_compiles{0}, disk_hits{0}, disk_writes{0};

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
  auto* jd = static_cast<llvm::orc::JITDylib*>(dylib_);
  if (!jd) return;
  std::lock_guard<std::mutex> lock(engine_->mu);
  if (llvm::Error e = engine_->jit->getExecutionSession().removeJITDylib(*jd)) llvm::consumeError(std::move(e));
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

namespace {

/// Kernel symbols have fixed names: each kernel links into a JITDylib of
/// its own, so objects from the disk cache link as they are.
constexpr const char* kPrefix = "actjit";

/// Everything the machine code depends on besides the program itself.
std::string cache_key(const Program& p, lower::DType dtype) {
  const TargetInfo& t = host_target();
  std::string key = "actjit ";
  key += Runtime::version();
  key += "\nllvm " LLVM_VERSION_STRING "\nbuild " + build_id() + "\n" + t.triple + "\n" + t.cpu + "\n" +
         t.features + "\n" + std::to_string(t.vector_bits) + (dtype == lower::DType::F64 ? " f64\n" : " f32\n");
  key += p.canonical_key();
  return key;
}

}  // namespace

namespace {

/// A long-lived thread that takes a share of each compile's modules (a
/// thread started per compile cost ~0.25 ms on the 2-vCPU VMs, a twentieth
/// of a compile: its creation and its stack's first touch). Jobs share their
/// work with the caller through a counter, so a job the helper has not
/// started yet is simply withdrawn: the caller has done it all.
class Helper {
 public:
  struct Job {
    std::function<void()> fn;
    bool taken = false, done = false;
  };
  /// The helper, or null (one hardware thread, or no thread to be had).
  static Helper* get() {
    static Helper* helper = [] () -> Helper* {
      if (std::thread::hardware_concurrency() < 2) return nullptr;
      auto* h = new Helper;  // never destroyed: its thread may outlive static destruction
      try {
        quiet_thread([h] { h->loop(); }).detach();
      } catch (const std::system_error&) {
        delete h;
        return nullptr;
      }
      return h;
    }();
    return helper;
  }
  void post(Job& job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(&job);
    }
    wake_.notify_one();
  }
  /// Returns once `job` is done or withdrawn.
  void finish(Job& job) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!job.taken) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), &job));
      return;
    }
    done_.wait(lock, [&] { return job.done; });
  }

 private:
  void loop() {
    for (;;) {
      Job* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return !queue_.empty(); });
        job = queue_.front();
        queue_.pop_front();
        job->taken = true;
      }
      job->fn();
      {
        std::lock_guard<std::mutex> lock(mu_);
        job->done = true;
      }
      done_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable wake_, done_;
  std::deque<Job*> queue_;
};

/// One module per kernel, compiled in parallel where there is a second
/// hardware thread (LLVM's code generation is the cost of a compile).
Result<std::vector<std::string>> generate_objects(const Program& p, lower::DType dtype,
                                                  const std::vector<lower::Part>& parts) {
  std::vector<Result<std::string>> done(parts.size(), Diagnostic{Diagnostic::npos, ""});
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < parts.size();)
      done[i] = generate(p, dtype, host_target(), kPrefix, Output::Object, nullptr, parts[i], lower::Abi::Jit);
  };
  Helper* helper = parts.size() > 1 ? Helper::get() : nullptr;
  Helper::Job job{work};
  if (helper) helper->post(job);
  work();
  if (helper) helper->finish(job);
  std::vector<std::string> objects;
  for (auto& d : done) {
    if (!d) return d.error();
    objects.push_back(std::move(*d));
  }
  return objects;
}

}  // namespace

Result<std::shared_ptr<KernelCode>> Engine::compile(const Program& p, lower::DType dtype) {
  std::vector<lower::Part> parts{lower::Part::Forward, lower::Part::Backward};
  if (!lower::kernel_symbols(p, kPrefix).backward_x.empty()) parts.push_back(lower::Part::BackwardX);
  return compile_parts(p, dtype, parts);
}

Result<std::shared_ptr<KernelCode>> Engine::compile_fused(const Program& p, lower::DType dtype) {
  if (p.row.rowwise) return Diagnostic{Diagnostic::npos, "a row-wise function has no fused kernel"};
  return compile_parts(p, dtype, {lower::Part::Fused});
}

Result<std::shared_ptr<KernelCode>> Engine::compile_backward(const Program& p, lower::DType dtype) {
  return compile_parts(p, dtype, {lower::Part::Backward});
}

Result<std::shared_ptr<KernelCode>> Engine::compile_forward(const Program& p, lower::DType dtype) {
  return compile_parts(p, dtype, {lower::Part::Forward});
}

Result<std::shared_ptr<KernelCode>> Engine::compile_parts(const Program& p, lower::DType dtype,
                                                          const std::vector<lower::Part>& parts) {
  // The disk cache keys the usual set (forward, backward[, backward_x]) by
  // the program alone, a single part by the program and that part.
  std::string suffix = parts == std::vector{lower::Part::Fused}      ? "\nfused"
                       : parts == std::vector{lower::Part::Backward} ? "\nbackward"
                       : parts == std::vector{lower::Part::Forward}  ? "\nforward"
                                                                      : "";
  std::shared_ptr<const ObjectCache> cache;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    cache = impl_->cache;
  }
  std::string key = cache->enabled() ? cache_key(p, dtype) + suffix : std::string();
  if (cache->enabled()) {
    if (auto objects = cache->load(key); objects && objects->size() == parts.size()) {
      if (auto code = link(p, *objects, parts)) {
        impl_->disk_hits.fetch_add(1);
        return code;
      }
      // An entry that does not link (it cannot happen short of a damaged
      // file that kept its checksum): compiled afresh and replaced below.
    }
  }
  auto objects = generate_objects(p, dtype, parts);
  if (!objects) return objects.error();
  impl_->llvm_compiles.fetch_add(1);
  if (cache->enabled() && cache->store(key, *objects)) impl_->disk_writes.fetch_add(1);
  return link(p, *objects, parts);
}

Result<std::shared_ptr<KernelCode>> Engine::link(const Program& p, const std::vector<std::string>& objects,
                                                 const std::vector<lower::Part>& parts) {
  // The symbols of `parts` (objects hold those alone).
  lower::KernelSymbols all = lower::kernel_symbols(p, kPrefix), names;
  for (lower::Part part : parts) {
    if (part == lower::Part::Forward) names.forward = all.forward;
    if (part == lower::Part::Backward) names.backward = all.backward;
    if (part == lower::Part::BackwardX) names.backward_x = all.backward_x;
    if (part == lower::Part::Fused) names.fused = all.fused;
  }
  std::shared_ptr<KernelCode> code(new KernelCode());
  code->engine_ = impl_;
  std::lock_guard<std::mutex> lock(impl_->mu);
  auto& es = impl_->jit->getExecutionSession();
  auto jd = es.createJITDylib("actjit_k" + std::to_string(impl_->counter.fetch_add(1)));
  if (!jd) return Diagnostic{Diagnostic::npos, "cannot create a JIT library: " + to_string(jd.takeError())};
  jd->addToLinkOrder(impl_->jit->getMainJITDylib());
  code->dylib_ = &*jd;
  for (const std::string& object : objects)
    if (llvm::Error e = impl_->jit->addObjectFile(*jd, llvm::MemoryBuffer::getMemBufferCopy(object, kPrefix)))
      return Diagnostic{Diagnostic::npos, "cannot link the kernel: " + to_string(std::move(e))};
  auto lookup = [&](const std::string& name, void*& out) -> std::string {
    if (name.empty()) return {};
    auto sym = impl_->jit->lookup(*jd, name);
    if (!sym) return to_string(sym.takeError());
    out = sym->toPtr<void*>();
    return {};
  };
  for (auto [name, slot] : {std::pair{&names.forward, &code->forward}, {&names.backward, &code->backward},
                            {&names.backward_x, &code->backward_x}, {&names.fused, &code->fused}}) {
    std::string err = lookup(*name, *slot);
    if (!err.empty()) return Diagnostic{Diagnostic::npos, "cannot find the compiled kernel: " + err};
  }
  return code;
}

void Engine::set_cache_dir(const std::string& dir) {
  auto cache = std::make_shared<ObjectCache>(dir);
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->cache = std::move(cache);
}

std::string Engine::cache_dir() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->cache->dir();
}

EngineStats Engine::stats() const {
  return EngineStats{impl_->llvm_compiles.load(), impl_->disk_hits.load(), impl_->disk_writes.load()};
}

std::string Engine::emit_ir(const Program& p, lower::DType dtype) {
  auto text = generate(p, dtype, host_target(), "actjit", Output::LlvmIr, nullptr, lower::Part::All, lower::Abi::Jit);
  return text ? *text : "; " + text.error().message + "\n";
}

std::string Engine::emit_asm(const Program& p, lower::DType dtype) {
  auto text = generate(p, dtype, host_target(), "actjit", Output::Assembly, nullptr, lower::Part::All, lower::Abi::Jit);
  return text ? *text : "# " + text.error().message + "\n";
}

}  // namespace actjit::jit
