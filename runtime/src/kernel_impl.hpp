// Internal representation of a compiled kernel, shared by the C++ API and
// the C ABI.
#pragma once

#include <cstring>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "actjit/actjit.hpp"
#include "compiler/jit/engine.hpp"

namespace actjit::detail {

// Elementwise JIT kernels return non-zero when some lane went NaN from
// finite inputs (float32 only; lower::Abi::Jit).
using ForwardFn = int64_t (*)(const void* x, void* y, int64_t n, const double* params);
using BackwardFn = int64_t (*)(const void* x, const void* dy, void* dx, int64_t n, const double* params,
                               double* dparams);
using BackwardXFn = int64_t (*)(const void* x, const void* dy, void* dx, int64_t n, const double* params);
using FusedFn = int64_t (*)(const void* x, void* y, void* dydx, int64_t n, const double* params);
// Program::keep_input's backwards: dy also stored to `keep`.
using KeepBackwardFn = int64_t (*)(const void* x, const void* dy, void* dx, void* keep, int64_t n, const double* params,
                                   double* dparams);
using KeepBackwardXFn = int64_t (*)(const void* x, const void* dy, void* dx, void* keep, int64_t n,
                                    const double* params);
using KeepFusedFn = int64_t (*)(const void* x, void* y, void* dydx, void* keep, int64_t n, const double* params);
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
  /// The program with the parameters' default values as constants
  /// (CompileOptions::specialize_defaults), where that makes the kernels
  /// cheaper (softplus: beta * x and / beta fold away); else null. Its
  /// forward and dx-only backward are compiled on the first call that
  /// passes the defaults (or none) and wants no parameter gradients, and
  /// taken for such calls; a function whose parameters are always trained
  /// away from their defaults never compiles them.
  std::shared_ptr<const Program> defaults_program;
  /// Those kernels for a call with `params`, or null (other values, no such
  /// program, or it did not compile: the general kernels then).
  const jit::KernelCode* defaults_code(const double* params) const;
  /// The fused kernel of the default program likewise.
  const jit::KernelCode* defaults_fused_code(const double* params) const;

  ForwardFn forward() const { return reinterpret_cast<ForwardFn>(code->forward); }
  BackwardFn backward() const { return reinterpret_cast<BackwardFn>(code->backward); }
  BackwardXFn backward_x() const { return reinterpret_cast<BackwardXFn>(code->backward_x); }
  RowForwardFn row_forward() const { return reinterpret_cast<RowForwardFn>(code->forward); }
  RowBackwardFn row_backward() const { return reinterpret_cast<RowBackwardFn>(code->backward); }

  // Elementwise functions keep their program, for code compiled on first
  // need: the fused kernel (forward_with_derivative), and for float32 the
  // float64 build, in which lanes that the float32 kernel reports NaN from
  // finite inputs (an overflow in between, such as -x^2 + 2^sqrt|x| at 1e30,
  // where the true value is finite or an infinity), or lost to an
  // underflow in between (swish at x = -100), are recomputed.
  std::shared_ptr<const Program> program;
  std::shared_ptr<jit::Engine> engine;
  mutable std::once_flag wide_once, fused_once, specialized_once, specialized_fused_once, output_once;
  mutable std::shared_ptr<jit::KernelCode> wide, fused, specialized, specialized_fused, output;
  /// Row-wise functions whose backward can take y for x (softmax, softmin:
  /// output_vjp_program): that program, its backward compiled on first use
  /// (output_code), and whether it may write dx over dy; else null.
  std::shared_ptr<const Program> output_program;
  bool output_alias_safe = true;
  const jit::KernelCode* output_code() const;
  /// Row-wise functions that sum exps: the same program with row loops two
  /// registers wide, for rows of long_row values or more (softmax +7-36%
  /// on rows of 1000 and 32768; rows of 16 would run at half speed),
  /// compiled on the first such call; else null.
  std::shared_ptr<const Program> long_rows_program;
  mutable std::once_flag long_rows_once;
  mutable std::shared_ptr<jit::KernelCode> long_rows;
  size_t long_row = 0;
  /// Those kernels for rows of `cols`, or null (short rows, none, or they
  /// did not compile: the usual kernels then).
  const jit::KernelCode* long_rows_code(size_t cols) const;
  bool is_default(const double* params) const {
    if (!params) return true;
    for (size_t j = 0; j < defaults.size(); ++j)
      if (std::memcmp(&params[j], &defaults[j], sizeof(double)) != 0) return false;
    return true;
  }
  /// The float64 kernels (float32 functions only), or null (none, or they
  /// did not compile).
  const jit::KernelCode* wide_code() const;
  /// Elementwise kernels with streaming stores (Program::streaming_stores)
  /// of the general program or, `at_defaults`, of the defaults' one; for
  /// outputs of kStreamingBytes or more, compiled on the first such call;
  /// null where there is none or it did not compile.
  const jit::KernelCode* streaming_code(bool at_defaults) const;
  /// Whether the streaming-store builds serve the forward and the backward
  /// (lower::streaming_stores_pay: on AMD Zen they slow the heavier bodies
  /// down).
  bool forward_streams = false, backward_streams = false;
  mutable std::once_flag streaming_once, streaming_defaults_once;
  mutable std::shared_ptr<jit::KernelCode> streaming, streaming_defaults;
  /// Forwards two registers wide in cache (lower::narrow_forward_pays):
  /// their build one register wide (Program::narrow_forward) of the general
  /// program or, `at_defaults`, of the defaults' one, for outputs of
  /// kStreamingBytes or more; compiled on the first such call; null where
  /// there is none or it did not compile.
  const jit::KernelCode* narrow_code(bool at_defaults) const;
  bool forward_narrows = false;
  /// Float32 kernels that may leave lanes to the runtime's float64 pass
  /// (lower::reports_lanes), of the program and of the defaults' one:
  /// in-place calls keep the input they overwrite (x, or dy of a
  /// backward), a block at a time (keep_code below, or a copy).
  struct Reports {
    bool forward = false, backward = false, fused = false;
  };
  Reports reports, defaults_reports;
  /// Kernels that may leave lanes: their builds that also store the input
  /// an in-place call overwrites to another array (Program::keep_input) —
  /// the forward alone (x; the signature of FusedFn, keep for dydx), the
  /// backwards (dy; KeepBackwardFn, KeepBackwardXFn, with every kernel) or
  /// the fused kernel (x; KeepFusedFn) — of the general program or,
  /// `at_defaults`, of the defaults' one; compiled on the first in-place
  /// call; null where it did not compile (the call copies its input then).
  enum class Keep { Forward, Backwards, Fused };
  const jit::KernelCode* keep_code(bool at_defaults, Keep which) const;
  mutable std::once_flag keep_once[2][3];
  mutable std::shared_ptr<jit::KernelCode> keep[2][3];
  mutable std::once_flag narrow_once, narrow_defaults_once;
  mutable std::shared_ptr<jit::KernelCode> narrow, narrow_defaults;
  /// Row-wise functions: their program, and which of their kernels write
  /// what they do not read back (no stored operand: lower::
  /// row_stored_operand), so that streaming stores serve: the forward, the
  /// backward from x (and the one from y: output_alias_safe).
  std::shared_ptr<const Program> row_program;
  bool row_streams_forward = false, row_streams_backward = false;
  /// Row-wise kernels with streaming stores: of the program (Rows::Usual),
  /// its long rows' build (Rows::Long) or the backward from the output
  /// (Rows::Output), compiled on the first call that writes kStreamingBytes
  /// or more; else null.
  enum class Rows { Usual, Long, Output };
  const jit::KernelCode* streaming_rows_code(Rows which) const;
  mutable std::once_flag streaming_rows_once[3];
  mutable std::shared_ptr<jit::KernelCode> streaming_rows[3];
  /// The builds for outputs larger than the caches: `from` with
  /// Program::streaming_stores (its backward alone for StreamingBackward),
  /// or its forward alone with Program::narrow_forward (Program::
  /// keep_input: KeepForward, every kernel: KeepAll, the fused one:
  /// KeepFused); compiled once into `slot`; null where from is.
  enum class Large { Streaming, StreamingBackward, NarrowForward, KeepForward, KeepAll, KeepFused };
  const jit::KernelCode* large_build(const std::shared_ptr<const Program>& from, std::once_flag& flag,
                                     std::shared_ptr<jit::KernelCode>& slot, Large kind) const;
  /// The fused kernel, or null (row-wise, or it did not compile).
  const jit::KernelCode* fused_code() const;
  /// Whether a parameter is outside what the float32 kernels' NaN watch
  /// assumes (compiler/ir/range.hpp): not a finite float (NaN, or beyond
  /// float's range), or zero where the analysis counted on nonzero
  /// parameters. The caller then looks for NaN lanes itself.
  bool params_outside_watch(const double* params) const;
  bool zero_params_need_look = false;
  /// The kernels that calls passing no parameters (the defaults) take
  /// (forward, backward, forward_with_derivative),
  /// once the first such call has chosen them (the defaults' own kernels
  /// or the general ones), where they need no look for NaN lanes beyond
  /// their status; null until then. Such calls of fewer than kParallelMin
  /// elements (runtime.cpp) go straight to them: relu's forward on 16
  /// floats through the C++ API 307 -> 171 instructions a call (callgrind;
  /// the kernel itself 43), ~20 -> ~10 ns.
  mutable std::atomic<const jit::KernelCode*> plain_forward{nullptr}, plain_backward{nullptr}, plain_fused{nullptr};
  /// y[i] = f(x[i]) in float64 where x[i] is finite and y[i] NaN (which
  /// the float32 kernels also make the lanes they lost to an underflow in
  /// between: rescue_lanes.hpp), gathered in blocks.
  void rescue_forward(const float* x, float* y, size_t n, const double* params) const;
  /// The same for dx; dparams (if not null) recomputed in float64 whole
  /// when it holds a NaN.
  void rescue_backward(const float* x, const float* dy, float* dx, size_t n, const double* params,
                       double* dparams) const;
};

/// The row-wise vector-Jacobian product over `rows` rows of `cols` with
/// the backward kernel `fn` (first array x, or y for output_code's), split
/// across the pool; dy copied first where dx overlaps it and the kernel is
/// not `alias_safe`. 0 on success (Kernel::backward_rows_raw's contract).
int row_vjp(const KernelImpl& k, RowBackwardFn fn, bool alias_safe, const void* x, const void* dy, void* dx,
            size_t rows, size_t cols, const double* params, double* dparams) noexcept;

}  // namespace actjit::detail
