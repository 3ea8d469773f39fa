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
using RowForwardFn = void (*)(const void* x, void* y, int64_t rows, int64_t cols, const double* params);
using RowBackwardFn = void (*)(const void* x, const void* dy, void* dx, int64_t rows, int64_t cols,
                               const double* params, double* dparams);

/// What the runtime needs to know about a row-wise function (pipeline.hpp).
struct RowShape {
  bool rowwise = false;
  uint64_t out_divisor = 0;  // output values per row: cols / out_divisor (0: one)
  uint64_t multiple = 1;     // cols must be a multiple of this
  bool alias_safe = true;    // the backward may write dx over dy
  size_t out_cols(size_t cols) const {
    if (cols % multiple) return 0;
    return out_divisor == 0 ? 1 : cols / out_divisor;
  }
};

struct KernelImpl {
  DType dtype = DType::F32;
  std::string name;
  std::string input = "x";
  std::vector<Param> params;
  std::vector<double> defaults;
  std::vector<std::string> warnings;
  RowShape row;
  std::shared_ptr<jit::KernelCode> code;  // shared by every source with the same IR

  ForwardFn forward() const { return reinterpret_cast<ForwardFn>(code->forward); }
  BackwardFn backward() const { return reinterpret_cast<BackwardFn>(code->backward); }
  BackwardXFn backward_x() const { return reinterpret_cast<BackwardXFn>(code->backward_x); }
  RowForwardFn row_forward() const { return reinterpret_cast<RowForwardFn>(code->forward); }
  RowBackwardFn row_backward() const { return reinterpret_cast<RowBackwardFn>(code->backward); }
};

}  // namespace actjit::detail
