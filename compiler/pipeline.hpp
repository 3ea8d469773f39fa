// The front half of the pipeline as one call: text -> AST -> IR ->
// simplified -> stabilized -> derivatives (d/dx and d/dparam) -> simplified. Each stage is
// its own pass; this file only strings them together and owns the catalogue.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "compiler/ir/graph.hpp"
#include "compiler/sema/sema.hpp"
#include "grammar/parse.hpp"

namespace actjit {

/// A compiled-to-IR function with its derivatives, ready for lowering.
struct Program {
  ir::Graph graph;
  sema::Function function;
  ir::NodeId value = ir::kNoNode;       // f(x; p), simplified and stabilized
  ir::NodeId d_x = ir::kNoNode;         // df/dx
  std::vector<ir::NodeId> d_params;     // df/dp_j
  std::vector<Diagnostic> warnings;     // offsets into the source
  ir::NodeId unsimplified = ir::kNoNode;  // f as sema built it (for --emit and tests)
  ir::NodeId naive = ir::kNoNode;         // f simplified, before the stability rewrites

  /// Row-wise functions (ir/row.hpp): d_x and d_params are unused; the
  /// backward is the vector-Jacobian product below.
  struct Row {
    bool rowwise = false;
    uint64_t out_divisor = 0;  // the output has cols / out_divisor values per row (0: one)
    uint64_t multiple = 1;     // cols must be a multiple of this
    std::vector<std::pair<ir::View, ir::NodeId>> dx;  // dx at each view's positions += expression
    std::vector<ir::NodeId> dparams;                   // per-row contribution to each parameter's gradient
    /// Lower the row loops two registers wide (kernels for long rows: the
    /// exp chains of neighbouring registers overlap; short rows would be
    /// mostly a masked tail).
    bool wide = false;
    /// The views of dx cover the row exactly once (stored, not accumulated:
    /// the backward may then write dx over dy).
    bool dx_partition() const {
      uint64_t d0 = dx.empty() ? 0 : dx[0].first.divisor();
      for (auto& v : dx)
        if (v.first.divisor() != d0) return false;
      return dx.size() == d0;
    }
    /// Output values per row for `cols` input values (0 when cols is not allowed).
    size_t out_cols(size_t cols) const {
      if (cols % multiple) return 0;
      return out_divisor == 0 ? 1 : cols / out_divisor;
    }
  } row;

  /// Elementwise kernels whose full vectors go to memory by non-temporal
  /// (streaming) stores, for outputs larger than the caches: the output
  /// array is written without being read first (no read-for-ownership).
  /// The kernels then assume the output 64-byte aligned and end with a
  /// store fence; the runtime calls them from the first such address on
  /// (Kernel::forward_raw).
  bool streaming_stores = false;

  /// Elementwise forwards one register per iteration whatever their cost
  /// (lower::narrow_forward_pays): the build for outputs larger than the
  /// caches, where two registers per iteration run slower.
  bool narrow_forward = false;

  /// Elementwise kernels that also store the input an in-place call
  /// overwrites, as they load it, to another array: int64 forward(const T*
  /// x, T* y, T* keep, int64 n, const double* params) and the fused kernel
  /// (x, y, dydx, keep, n, params) keep x, the backwards (x, dy, dx, keep,
  /// n, params[, dparams]) dy (JIT, float32). For in-place calls (y over x,
  /// dx over dy, y or dydx over x) of kernels that may leave lanes to the
  /// runtime's float64 pass, which reads the input from keep: a store per
  /// vector inside the loop, where a copy before the call is a pass of its
  /// own (runtime.cpp).
  bool keep_input = false;

  /// A canonical text of the final graph (value and derivatives): equal
  /// programs give equal keys. Linear in the size of the graph.
  std::string canonical_key() const;
  /// The value and every derivative root (elementwise or row-wise).
  std::vector<ir::NodeId> all_roots() const;
  /// all_roots() without the value.
  std::vector<ir::NodeId> derivative_roots() const;
  /// Printed forms in the language (parseable). Throws PrintTooLarge where
  /// the text would pass kMaxPrintedChars (it repeats shared nodes).
  std::string print(ir::NodeId id) const;
};

/// The longest text Program::print writes (about; 4 MiB).
inline constexpr size_t kMaxPrintedChars = size_t(4) << 20;
struct PrintTooLarge : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct CompileOptions {
  ParseOptions parse;
  sema::Limits limits;  // includes the deadline, checked between stages too
  /// Operations in the final function and all its derivatives together,
  /// weighted by the instructions they become (an inline exp counts ~24);
  /// bounds the work (and time: ~4 s at the default) of code generation.
  size_t max_kernel_nodes = 20'000;
  /// Parameters replaced by their default values before simplification:
  /// kernels for the call without parameters, where softplus's beta * x and
  /// / beta fold away. The parameters stay listed (the kernels take them
  /// and ignore them); d_params is empty (the backward computes dx only).
  bool specialize_defaults = false;
};

/// The built-in catalogue, parsed and checked once (thread-safe).
const sema::Library& catalogue();
/// The catalogue's source text (embedded at build time).
std::string_view catalogue_source();

/// Parses and analyses `source` on top of `library` (usually the catalogue)
/// and differentiates the result. Errors point into `source`.
Result<Program> build_program(std::string_view source, const sema::Library& library,
                              const CompileOptions& options = {});

/// For a row-wise `p` whose vector-Jacobian product can be written with
/// its output y in place of x (softmax, softmin: y (dy - sum(y dy));
/// log_softmax: dy - exp(y) sum(dy)): `p`
/// with that product as the backward's dx, reading y where it reads x —
/// its backward kernel takes (y, dy) as the usual one takes (x, dy). Else
/// nothing: parameters, an output of another length, or x needed besides y.
/// The product's sum(a b) / c becomes sum((a / c) b) where a / c is y, and
/// exp(u) (1 / S r) becomes exp(y) r where y is u - log(S) (log_softmax).
std::optional<Program> output_vjp_program(const Program& p);

}  // namespace actjit
