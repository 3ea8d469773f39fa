// Host CPU and feature detection (see target.hpp).
#include "compiler/jit/target.hpp"

#include <llvm/ADT/StringMap.h>
#include <llvm/TargetParser/Host.h>

#include <cstdlib>
#include <string>

namespace actjit::jit {

const TargetInfo& host_target() {
  static const TargetInfo info = [] {
    TargetInfo t;
    t.triple = llvm::sys::getProcessTriple();
    t.cpu = llvm::sys::getHostCPUName().str();
    llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
    std::string list;
    for (auto& f : features) {
      if (!list.empty()) list += ',';
      list += (f.second ? "+" : "-") + f.getKey().str();
    }
    t.features = list;
    auto has = [&](const char* name) { return features.lookup(name); };
    t.vector_bits = has("avx512f") ? 512 : has("avx") ? 256 : 128;
    if (const char* env = std::getenv("ACTJIT_VECTOR_BITS")) {
      unsigned want = unsigned(std::atoi(env));
      if ((want == 128 || want == 256 || want == 512) && want < t.vector_bits) t.vector_bits = want;
    }
    return t;
  }();
  return info;
}

}  // namespace actjit::jit
