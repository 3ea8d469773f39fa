// Internal representation of a compiled kernel, shared by the C++ API and
// the C ABI.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "actjit/actjit.hpp"
#include "compiler/jit/engine.hpp"

namespace actjit::detail {

using ForwardFn = void (*)(const void* x, void* y, int64_t n, const double* params);
using BackwardFn = void (*)(const void* x, const void* dy, void* dx, int64_t n, const double* params,
                            double* dparams);
using BackwardXFn = void (*)(const void* x, const void* dy, void* dx, int64_t n, const double* params);

struct KernelImpl {
  DType dtype = DType::F32;
  std::string name;
  std::string input = "x";
  std::vector<Param> params;
  std::vector<double> defaults;
  std::vector<std::string> warnings;
  std::shared_ptr<jit::KernelCode> code;  // shared by every source with the same IR

  ForwardFn forward() const { return reinterpret_cast<ForwardFn>(code->forward); }
  BackwardFn backward() const { return reinterpret_cast<BackwardFn>(code->backward); }
  BackwardXFn backward_x() const { return reinterpret_cast<BackwardXFn>(code->backward_x); }
};

}  // namespace actjit::detail
