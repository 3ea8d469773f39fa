// actjit C++ API: compile activation functions written as text into
// vectorized forward and backward kernels, and call them on spans.
//
// Error model: functions that take user input (Runtime::compile, ...) throw
// actjit::Error, which carries the position and the rendered diagnostic.
// Kernel calls never allocate and throw only for misuse (mismatched span
// sizes, wrong dtype, wrong parameter count), as std::invalid_argument.
// All objects are safe to use from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace actjit {

/// The element type of a kernel's arrays: float or double.
enum class DType { F32 = 0, F64 = 1 };

/// A user error in a source text (or a failure of the JIT).
class Error : public std::runtime_error {
 public:
  Error(const std::string& message, int line, int column, std::string rendered)
      : std::runtime_error(message), line_(line), column_(column), rendered_(std::move(rendered)) {}
  /// 1-based position in the source; 0 when the error has no position.
  int line() const noexcept { return line_; }
  int column() const noexcept { return column_; }
  /// "error: LINE:COL: message", the source line and a caret.
  const std::string& rendered() const noexcept { return rendered_; }

 private:
  int line_, column_;
  std::string rendered_;
};

/// Bounds on what one compilation may use. Every limit, when exceeded, is a
/// clear actjit::Error (with a position where there is one), never a crash.
struct Limits {
  size_t max_source_bytes = size_t(16) << 20;  ///< source text size
  unsigned max_nesting = 400;                  ///< parentheses, calls, unary operators, powers
  size_t max_nodes = 1'000'000;                ///< IR operations built while inlining definitions
  size_t max_kernel_nodes = 20'000;            ///< machine operations of the function and its derivatives
                                               ///< (inline exp/log/tanh count ~30); bounds code generation
  double max_compile_seconds = 60;             ///< checked between stages and while inlining
  size_t max_cached_kernels = 4096;            ///< least recently used kernels are evicted (their
                                               ///< machine code is freed when no handle holds it)
};

/// Threads used by one kernel call on a large array (at least 64Ki
/// elements; smaller calls run in the caller). Default: the environment's
/// ACTJIT_NUM_THREADS, else the number of hardware threads. Process-wide.
unsigned threads() noexcept;
void set_threads(unsigned n) noexcept;

/// A parameter of a compiled function.
struct Param {
  std::string name;
  double default_value = 0;
};

namespace detail {
struct KernelImpl;
struct RuntimeImpl;
}  // namespace detail

/// A compiled function: forward and backward kernels. Cheap to copy (shared).
class Kernel {
 public:
  /// An empty kernel (false in a boolean context) until assigned.
  Kernel() = default;
  explicit operator bool() const noexcept { return impl_ != nullptr; }

  /// The element type the kernel was compiled for.
  DType dtype() const noexcept;
  /// The definition's name, or empty for a bare expression.
  const std::string& name() const noexcept;
  /// The name of the input variable ("x" unless a definition renames it).
  const std::string& input_name() const noexcept;
  /// The parameters (name and default), in order.
  const std::vector<Param>& params() const noexcept;
  /// The default parameter values, in order.
  const std::vector<double>& default_params() const noexcept;
  /// Index of the parameter called `name`; throws std::invalid_argument.
  size_t param_index(std::string_view name) const;
  /// Warnings found while compiling (rendered, one per entry).
  const std::vector<std::string>& warnings() const noexcept;

  /// y[i] = f(x[i]; p). `params` empty means the defaults. Calls with the
  /// default values (and backward without `dparams`) run kernels compiled
  /// with those values as constants where that makes them cheaper
  /// (softplus's beta * x and / beta fold away): compiled on the first such
  /// call, which takes that compile's time (a few ms). Outputs (y here, dx
  /// of backward) of 16 MiB or more, or of calls whose arrays together
  /// (inputs and output) take 32 MiB or more, are written with streaming
  /// (non-temporal) stores, by kernels compiled on the first such call:
  /// an output that would not stay in the caches is then written without
  /// being read first (out of cache +25-65% on the machines measured); it
  /// is not in the caches after the call either. On AMD Zen only the
  /// lighter kernels do so (the heavier ones ran faster there with plain
  /// stores); on Intel every elementwise kernel does. Row-wise functions do so where the
  /// kernel does not read its output back (not softmax's forward, which
  /// keeps exp(x - max) in y; its backward from y does). y may be x (dx of
  /// backward dy, y or dydx of forward_with_derivative x): the same values
  /// as into another array. Float32 kernels that leave some lanes to be
  /// recomputed in float64 from the input then keep a copy of it, 4 KiB at
  /// a time, by builds of theirs that store it as they go, compiled on the
  /// first in-place call (a few ms).
  void forward(std::span<const float> x, std::span<float> y, std::span<const double> params = {}) const;
  void forward(std::span<const double> x, std::span<double> y, std::span<const double> params = {}) const;

  /// dx[i] = dy[i] * df/dx(x[i]; p); if `dparams` is not empty (size =
  /// number of parameters), dparams[j] = sum_i dy[i] * df/dp_j(x[i]; p)
  /// (0 for a parameter f does not depend on, whatever dy holds).
  void backward(std::span<const float> x, std::span<const float> dy, std::span<float> dx,
                std::span<const double> params = {}, std::span<double> dparams = {}) const;
  void backward(std::span<const double> x, std::span<const double> dy, std::span<double> dx,
                std::span<const double> params = {}, std::span<double> dparams = {}) const;

  /// y[i] = f(x[i]; p) and dydx[i] = df/dx(x[i]; p) in one pass over x
  /// (elementwise functions): the derivative reuses the forward's work
  /// (mish's exp, sigmoid's division), so both cost about what backward()
  /// alone does. For training loops that keep f'(x) for the backward pass
  /// (dx = dy * dydx). The fused kernel is compiled on first use. Throws
  /// std::invalid_argument for a row-wise function or mismatched sizes.
  void forward_with_derivative(std::span<const float> x, std::span<float> y, std::span<float> dydx,
                               std::span<const double> params = {}) const;
  void forward_with_derivative(std::span<const double> x, std::span<double> y, std::span<double> dydx,
                               std::span<const double> params = {}) const;

  // Row-wise functions (softmax, log_softmax, glu, maxout, and any
  // function using sum/mean/max/min over the row or chunk/pick): a row of
  // `cols` values in, a row of output_cols(cols) values out. The arrays are
  // row-major rows x cols (x, dx) and rows x output_cols(cols) (y, dy).
  // forward()/backward() above treat their whole span as one row.
  // Elementwise functions accept the *_rows calls too (rows * cols values).

  /// True for a row-wise function.
  bool rowwise() const noexcept;
  /// Output values per row for rows of `cols` values; 0 when `cols` is not
  /// a multiple of row_multiple(). Elementwise: cols.
  size_t output_cols(size_t cols) const noexcept;
  /// The row length must be a multiple of this (2 for glu, k for maxout).
  size_t row_multiple() const noexcept;

  /// y = f(each row of x). Throws std::invalid_argument on mismatched sizes.
  void forward_rows(std::span<const float> x, std::span<float> y, size_t cols,
                    std::span<const double> params = {}) const;
  void forward_rows(std::span<const double> x, std::span<double> y, size_t cols,
                    std::span<const double> params = {}) const;
  /// The vector-Jacobian product, row by row: dx = dy^T J(x) for each row;
  /// dparams (if not empty) = the sum over rows of dy^T df/dp.
  void backward_rows(std::span<const float> x, std::span<const float> dy, std::span<float> dx, size_t cols,
                     std::span<const double> params = {}, std::span<double> dparams = {}) const;
  void backward_rows(std::span<const double> x, std::span<const double> dy, std::span<double> dx, size_t cols,
                     std::span<const double> params = {}, std::span<double> dparams = {}) const;

  /// Whether the vector-Jacobian product can take the output y instead of
  /// x (softmax, softmin: dx = y (dy - sum(y dy)), no exp): the row-wise
  /// functions without parameters whose product the compiler can write
  /// with y alone. For training loops that keep y from the forward pass.
  bool backward_from_output() const noexcept;
  /// dx = dy^T J for each row, from y = forward_rows(x) (not x). Compiled
  /// on first use. Throws std::invalid_argument where
  /// backward_from_output() is false, or on mismatched sizes. dx may be
  /// the same array as dy or y.
  void backward_rows_from_output(std::span<const float> y, std::span<const float> dy, std::span<float> dx,
                                 size_t cols) const;
  void backward_rows_from_output(std::span<const double> y, std::span<const double> dy, std::span<double> dx,
                                 size_t cols) const;

  /// Untyped entry points (the C ABI's); no checks beyond null pointers and
  /// row lengths. Return 0 on success. For a row-wise function, the n-element
  /// calls take x as one row. DX may alias DY; for some row-wise functions
  /// (whose backward accumulates into dx, or keeps an intermediate there
  /// before it reads dy: softmax, softmin) that costs a copy of dy.
  int forward_raw(const void* x, void* y, size_t n, const double* params) const noexcept;
  int backward_raw(const void* x, const void* dy, void* dx, size_t n, const double* params,
                   double* dparams) const noexcept;
  int forward_with_derivative_raw(const void* x, void* y, void* dydx, size_t n, const double* params) const noexcept;
  int forward_rows_raw(const void* x, void* y, size_t rows, size_t cols, const double* params) const noexcept;
  int backward_rows_raw(const void* x, const void* dy, void* dx, size_t rows, size_t cols, const double* params,
                        double* dparams) const noexcept;
  int backward_rows_from_output_raw(const void* y, const void* dy, void* dx, size_t rows, size_t cols) const noexcept;

 private:
  friend class Runtime;
  explicit Kernel(std::shared_ptr<const detail::KernelImpl> impl) : impl_(std::move(impl)) {}
  void check(DType want, size_t nx, size_t ny, size_t nparams, size_t ndparams) const;
  /// check() for the *_rows calls; returns output_cols(cols).
  size_t check_rows(DType want, size_t nx, size_t cols, size_t nparams, size_t ndparams) const;
  template <class T>
  void forward_rows_t(DType want, std::span<const T> x, std::span<T> y, size_t cols,
                      std::span<const double> params) const;
  template <class T>
  void backward_rows_t(DType want, std::span<const T> x, std::span<const T> dy, std::span<T> dx, size_t cols,
                       std::span<const double> params, std::span<double> dparams) const;
  template <class T>
  void backward_rows_from_output_t(DType want, std::span<const T> y, std::span<const T> dy, std::span<T> dx,
                                   size_t cols) const;
  template <class T>
  void forward_with_derivative_t(DType want, std::span<const T> x, std::span<T> y, std::span<T> dydx,
                                 std::span<const double> params) const;
  std::shared_ptr<const detail::KernelImpl> impl_;
};

/// The compiler and its kernel cache. Copies share one JIT.
class Runtime {
 public:
  /// Starts the JIT for the host CPU; throws Error if it cannot.
  Runtime();
  explicit Runtime(const Limits& limits);

  /// The limits in force; set_limits applies to compilations that start later.
  Limits limits() const;
  void set_limits(const Limits& limits);
  ~Runtime();

  /// Compiles `source` (an expression in x, a call, a catalogue name or
  /// definitions; the last definition is the function) for `dtype`.
  /// Throws Error (with position) on bad input. Cached: compiling the same
  /// function again is a lookup.
  Kernel compile(std::string_view source, DType dtype = DType::F32) const;

  /// The derivative of the function in `source` with respect to `wrt`
  /// (the input's name or a parameter's), as parseable text.
  std::string derivative(std::string_view source, std::string_view wrt = {}) const;
  /// The function itself after simplification and the stability rewrites, as text.
  std::string simplified(std::string_view source) const;
  /// The function simplified but without the stability rewrites (the
  /// naive form as written); compare with simplified() to see what the
  /// rewrites changed.
  std::string naive_form(std::string_view source) const;

  /// The optimized LLVM IR / the assembly of the kernels of `source` (on
  /// AMD Zen with AVX-512 the code generator first takes the IR's splat
  /// constants as loads of whole registers: the assembly shows them, the IR
  /// does not). With `defaults`, of the kernels that calls with the default
  /// parameter values run (see Kernel::forward): the same as without it
  /// where the function has no parameters or their constants make nothing
  /// cheaper.
  std::string llvm_ir(std::string_view source, DType dtype = DType::F32, bool defaults = false) const;
  std::string assembly(std::string_view source, DType dtype = DType::F32, bool defaults = false) const;

  /// Number of distinct compiled kernels in the cache.
  size_t cached_kernels() const;

  /// The on-disk object cache: machine code kept between processes, so a
  /// new process compiling a function it has compiled before skips LLVM.
  /// Entries are keyed by the IR, CPU, features, dtype, actjit and LLVM
  /// versions and the library's build ID; damaged or truncated files are
  /// ignored and rewritten. Default directory: $ACTJIT_CACHE_DIR ("off"
  /// or empty turns it off), else $XDG_CACHE_HOME/actjit, else
  /// ~/.cache/actjit. set_cache_dir("") turns it off; cache_dir() is ""
  /// when off.
  void set_cache_dir(const std::string& dir);
  std::string cache_dir() const;

  /// What this runtime's compilations have done so far.
  struct CacheStats {
    uint64_t llvm_compiles = 0;  ///< functions compiled by LLVM
    uint64_t disk_hits = 0;      ///< functions whose machine code came from the disk cache
    uint64_t disk_writes = 0;    ///< functions written to the disk cache
  };
  CacheStats cache_stats() const;

  /// The catalogue's source (the built-in definitions).
  static std::string_view catalogue();
  /// "MAJOR.MINOR.PATCH".
  static const char* version() noexcept;

 private:
  std::shared_ptr<detail::RuntimeImpl> impl_;
};

}  // namespace actjit
