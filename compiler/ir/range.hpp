// A conservative interval analysis of IR values, for kernels in float or
// double with a finite x (and dy) and finite parameters: for each node, an
// interval its non-NaN values lie in and whether it may be NaN.
//
// Used by the lowering to leave out work the ranges make dead: exp's clamps
// where its argument cannot reach them, the general log1p where the
// argument is exp of a non-positive value, and the NaN watch of float32
// kernels (see lower::Abi::Jit) where no NaN can arise that float64 would
// not give as well (may_lose_nan).
//
// The intervals hold for the kernels' own arithmetic, not only for exact
// math: results that may overflow the precision's range are taken to reach
// inf, nonzero ones that may underflow to reach 0, constants include their
// rounding to the precision, and the inline and SLEEF functions' results are
// widened by far more than their error (1e-5 relative). `where` refines each
// branch by its condition (x > 20 holds in the first branch), so that
// where(a >= 0, -a, a) is known <= 0; nested up to a few levels deep.
#pragma once

#include <cstddef>
#include <limits>
#include <span>
#include <vector>

#include "compiler/ir/graph.hpp"

namespace actjit::ir {

struct Interval {
  static constexpr double kInf = std::numeric_limits<double>::infinity();
  double lo = -kInf, hi = kInf;  ///< every non-NaN value v has lo <= v <= hi
  bool nan = true;               ///< may be NaN
  /// May be +-0. Mostly whether [lo, hi] holds 0, but a parameter (and a
  /// `where` choosing between nonzero values) is known nonzero.
  bool zero = true;
  /// May be NaN where the float64 kernel's same value is a number: a NaN
  /// made by an overflow, an underflow or a rounding (inf - inf, 0 * inf,
  /// a condition decided the other way), not one of the function's own
  /// domain that both precisions meet alike (sqrt of a negative x).
  /// Meaningful only with `nan`.
  bool lossy = true;
  bool empty() const { return lo > hi && !nan; }
  bool contains(double v) const { return lo <= v && v <= hi; }
  bool may_be_inf() const { return lo == -kInf || hi == kInf; }
};

enum class Precision { F32, F64 };

/// What the leaves can be. `finite`: x, dy and the parameters are finite
/// in the precision (else each may also be +-inf; never NaN: a NaN input
/// is the math functions' own business); `nonzero_params`: no parameter is
/// 0. The NaN watch takes both (the runtime checks the parameters per
/// call); the lowering's choices (exp's clamps) hold for any input and
/// parameter, so it takes neither.
struct Domain {
  bool finite = true;
  bool nonzero_params = true;
  /// Where x lies (within what `finite` allows): the lanes a condition on
  /// x selects (Emitter's guard_gives_branch).
  double input_lo = -Interval::kInf, input_hi = Interval::kInf;
};

/// The intervals of every node reachable from `roots`.
class Ranges {
 public:
  /// `as_else`: where nodes taken as their second branch on every lane (the
  /// lowering emits them so: Emitter::guard_gives_branch), which is then
  /// not refined by their condition. `else_taken`: where nodes whose
  /// condition is false on every lane (the usual block of a rare split,
  /// Emitter::emit), whose second branch is refined by it, as in a where
  /// computed with both branches.
  Ranges(const Graph& g, std::span<const NodeId> roots, Precision precision, Domain domain = {},
         std::span<const NodeId> as_else = {}, std::span<const NodeId> else_taken = {});
  /// The interval of a node reachable from the roots (everything for others).
  Interval operator[](NodeId id) const { return id < of_.size() ? of_[id] : Interval{}; }
  /// The interval of `id`'s first operand over the lanes where `id`'s value
  /// matters: in where(x > 20, x, exp(x)), exp's operand is at most 20
  /// there, though x itself is anything. (Empty where nothing uses `id`.)
  /// What the other lanes compute is selected away, so exp may skip its
  /// upper clamp there.
  Interval operand_where_used(NodeId id) const { return id < demand_.size() ? demand_[id] : Interval{}; }

 private:
  std::vector<Interval> of_, demand_;
};

/// Whether a NaN can come out of `roots` in a float32 kernel for a finite x
/// and finite parameters: from inf - inf, 0 * inf, inf / inf, 0 / 0, log or
/// sqrt of a negative, and so on, after an overflow. A "yes" may be wrong, a
/// "no" is not (relu, swish, mish answer no; x * exp(x) yes). Parameters
/// are taken as nonzero unless `nonzero_params` is false.
bool may_make_nan(const Graph& g, std::span<const NodeId> roots, bool nonzero_params = true);

/// Whether a float32 kernel can give NaN for a finite x (and finite
/// parameters) where the float64 kernel gives a number: may_make_nan
/// without the NaNs of the function's own domain, which the float64
/// kernel gives as well. Those are log, log1p, sqrt or a non-integer
/// constant power of an operand rounded at most once from exact values
/// (x, dy, a constant, one +, -, * or / of x, dy and constants float
/// holds exactly): rounding is monotone and the domains' edges (0, -1)
/// are floats, so where the float32 operand is beyond the edge the exact
/// one is too, and the float64 operand at or beyond it (NaN, or the
/// edge's -inf or 0, where NaN is the truer answer). Such NaNs pass
/// through the arithmetic alike in both precisions, and through a `where`
/// whose condition compares exact values. The float32 kernels watch for
/// the others (lower.cpp LaneWatch), and the runtime recomputes their
/// lanes in float64.
bool may_lose_nan(const Graph& g, std::span<const NodeId> roots, bool nonzero_params = true);

/// Float32 results below this magnitude (0 included) may have lost
/// accuracy to an intermediate underflow (see underflow_sources): a
/// subnormal times a factor up to 2^14.
inline constexpr double kTinyFloat = 0x1p-112;

/// Where a float32 exp(a) or exp(a)/b has underflowed: a in [lo, hi]
/// (subnormal, or 0 where a product with a factor up to 2^14, kTinyFloat /
/// FLT_MIN, would not be: exp(a) < FLT_MIN below a = ln FLT_MIN = -87.34,
/// below half the smallest subnormal over 2^14 below a = -113.6).
inline constexpr struct {
  double lo, hi;
} kExpUnderflowBand{-114, -87.3};

/// An exp operand a that float32 kernels watch: in kExpUnderflowBand
/// (`below`: exp(a) underflowed), or its negation there (`above`: a divisor
/// exp(a) overflowed, and u / exp(a) is 0 where it is a float up to a = 88.7
/// + ln |u|; the band covers |u| up to 4e11).
struct UnderflowSource {
  NodeId a;
  bool below = false, above = false;
};

/// The operands a (each once) of the exp(a) and exp(a)/b through which a
/// float32 result of `roots` may be tiny (below
/// kTinyFloat in magnitude, or 0) and carry the rounding of an exp or
/// exp()/ that underflowed into float's subnormals (or to 0), enlarged on
/// the way by a product with a factor that may exceed 1 in magnitude (or
/// a quotient by one below 1): swish's x * sigmoid(x) at x = -100, whose
/// sigmoid keeps only 6 bits, or is 0 at x = -104 where the product is
/// not. Values that cannot be tiny themselves do not pass it on (1 + e).
/// Empty when there is none: sigmoid (divided by 1 + e, never enlarged),
/// softplus, logsigmoid, elu (expm1 is tiny only for a tiny input). A
/// non-empty answer may be wrong (tanhshrink: its sum (|x| - 1) + 2e/(1 + e)
/// is never tiny, which intervals cannot see). erfc is not a source: watching gelu's
/// (7.9 -> 6.4 ULP over all floats, still over 4) cost it 3-7% where it
/// is level with oneDNN (NOTES.md). Also the operands of divisors exp(a)
/// that may overflow (`above`): x / exp(x) was 0 from 88.7 to 91.5 in float,
/// where it is a normal number (a far form e (e x) in the kernel cost 11-16%).
std::vector<UnderflowSource> underflow_sources(const Graph& g, std::span<const NodeId> roots);

}  // namespace actjit::ir
