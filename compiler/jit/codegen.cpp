// Code generation for the JIT and the AOT compiler (see codegen.hpp).
#include "compiler/jit/codegen.hpp"

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
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Target/TargetOptions.h>
#include <cstdlib>
#include <mutex>

namespace actjit::jit {

void initialize_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
}

namespace {

std::unique_ptr<llvm::TargetMachine> make_target_machine(const TargetInfo& t, std::string& error) {
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(t.triple, error);
  if (!target) return nullptr;
  llvm::TargetOptions options;
  // Small code model and PIC: what the JIT links, what `asm` shows, and what
  // goes into position-independent AOT objects.
  return std::unique_ptr<llvm::TargetMachine>(target->createTargetMachine(
      t.triple, t.cpu, t.features, options, llvm::Reloc::PIC_, llvm::CodeModel::Small,
      llvm::CodeGenOptLevel::Default));
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
}

}  // namespace

Result<std::string> generate(const Program& p, lower::DType dtype, const TargetInfo& target,
                             const std::string& prefix, Output what, lower::KernelSymbols* symbols) {
  initialize_llvm();
  std::string error;
  auto tm = make_target_machine(target, error);
  if (!tm) return Diagnostic{Diagnostic::npos, "no target machine for " + target.triple + ": " + error};
  llvm::LLVMContext ctx;
  llvm::Module m("actjit", ctx);
  m.setDataLayout(tm->createDataLayout());
  m.setTargetTriple(target.triple);
  lower::KernelSymbols names =
      lower::emit_kernels(p, dtype, target.vector_bits, target.cpu, target.features, prefix, m);
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
  llvm::SmallVector<char, 0> out;
  llvm::raw_svector_ostream os(out);
  llvm::legacy::PassManager pm;
  auto type = what == Output::Object ? llvm::CodeGenFileType::ObjectFile : llvm::CodeGenFileType::AssemblyFile;
  if (tm->addPassesToEmitFile(pm, os, nullptr, type))
    return Diagnostic{Diagnostic::npos, "the target cannot emit this kind of file"};
  pm.run(m);
  return std::string(out.data(), out.size());
}

Result<TargetInfo> target_for_cpu(const std::string& cpu) {
  if (cpu == "native") return host_target();
  TargetInfo t;
  t.triple = host_target().triple;
  t.cpu = cpu;
  if (cpu == "x86-64-v2") {
    t.vector_bits = 128;
  } else if (cpu == "x86-64-v3") {
    t.vector_bits = 256;
  } else if (cpu == "x86-64-v4") {
    t.vector_bits = 512;
  } else {
    return Diagnostic{Diagnostic::npos,
                      "unknown cpu '" + cpu + "' (use native, x86-64-v2, x86-64-v3 or x86-64-v4)"};
  }
  return t;
}

}  // namespace actjit::jit
