// The per-op emitter shared by the elementwise and row-wise kernels: turns
// the IR nodes reachable from some roots into <W x T> LLVM values. Leaves
// that depend on where the kernel is (the input's views, dy, reductions)
// come from a callback; values already computed (row scalars) from a map.
#pragma once

#include <functional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <llvm/IR/IRBuilder.h>

#include "compiler/ir/graph.hpp"

namespace actjit::ir {
class Ranges;
}

namespace actjit::lower {

/// The kernel's parameters as splat vectors: `value`, each rounded to T;
/// and in float kernels (empty in double ones) each double parameter split
/// as hi + lo, hi rounded toward zero and lo of the parameter's sign,
/// `inexact` where lo is not 0 (the parameter is not a float). A product
/// p * v + w then takes p's double value (fma(v, lo, fma(v, hi, w)), lo's
/// sign keeping v = inf from inf - inf): near a cancellation, as in
/// hardsigmoid's slope * x + offset at x = -3 with slope = 1/6, the float
/// rounding of p would be all the result has. Where p is a float it is the
/// one rounding of fma(v, p, w), as exact as the plain form.
struct ParamValues {
  std::vector<llvm::Value*> value, hi, lo, inexact;
};

class Emitter {
 public:
  using Leaf = std::function<llvm::Value*(ir::NodeId)>;
  Emitter(const ir::Graph& g, llvm::IRBuilder<>& b, llvm::Type* vec, ParamValues params)
      : g_(g), b_(b), vec_(vec), params_(std::move(params)) {}

  /// Values of `roots`, then of `also` (nodes the roots reach, whose values
  /// a caller watches: they do not count as uses, so the code of the roots
  /// stays what it would be without them). `leaf(id)` gives Input,
  /// Cotangent and reduction nodes; nodes in `known` are taken from there
  /// (their operands are not visited). Reduction operands are never visited.
  std::vector<llvm::Value*> emit(const std::vector<ir::NodeId>& roots, const Leaf& leaf,
                                 const std::unordered_map<ir::NodeId, llvm::Value*>* known = nullptr,
                                 const std::vector<ir::NodeId>& also = {});

  /// Where the derivatives (`derivative_roots`: all of a program's, so
  /// that every kernel of it decides alike) need both tanh(a) and
  /// exp(-2|a|) (tanh' = 4e / (1 + e)^2 next to tanh itself: telu,
  /// x * tanh(exp(x))), both come from one exp reduction: tanh|a| =
  /// -v / (2 + v) with v = expm1(-2|a|), e = 2^n (expm1(r) + 1), in every
  /// kernel of the program, the forward's too, so that the fused kernel
  /// gives what the forward and backward kernels give. Elsewhere tanh is
  /// float's half-angle rational (no exp; math/tanh.cpp). Every
  /// exp(-2|a|) of the derivatives is flushed to 0 below exp's normal
  /// range (math/exp.cpp).
  void pair_tanh(const std::vector<ir::NodeId>& derivative_roots);

 private:
  /// x^n as multiplications when `pow`'s exponent is an integer constant
  /// in [2, kMaxUnrolledPower] (x^2 never gets here: the simplifier makes it
  /// x * x), else null (the caller calls pow).
  llvm::Value* small_integer_power(const ir::Node& pow, llvm::Value* x) const;
  static constexpr double kMaxUnrolledPower = 16;

  /// a + b or a - b (`n`) as fma(v, lo, fma(v, hi, w)) when one side is a
  /// parameter times v and the target has FMA (float kernels), else null.
  llvm::Value* param_product_sum(const ir::Node& n, const std::vector<llvm::Value*>& v) const;

  /// c * x in float kernels, for a constant c > 1 in magnitude that float
  /// does not hold and an x the product may overflow with, as
  /// fma(x, hi, x * lo) (c = hi + lo, hi rounded toward zero): where c
  /// rounded up would overflow a product whose exact value is finite (selu
  /// at the last floats of the range). Else null.
  llvm::Value* constant_product(ir::NodeId id, const std::vector<llvm::Value*>& v, const ir::Ranges& ranges) const;

  /// y when `id` is y / sqrt(2) with y already emitted (in `v`), else kNoNode.
  ir::NodeId over_sqrt2(ir::NodeId id, const std::vector<llvm::Value*>& v) const;

  /// a where `id` is exp(-2|a|) (or exp(-2a) for a = exp(w)): tanh's
  /// derivative; else kNoNode.
  ir::NodeId neg2abs_operand(ir::NodeId id) const;

  /// pair_tanh's choice: the paired tanh nodes, and the a of each exp(-2|a|)
  /// node (lowered by exp_neg2abs_paired, paired or not: no subnormal results).
  std::unordered_set<ir::NodeId> paired_tanh_;
  std::unordered_map<ir::NodeId, ir::NodeId> paired_exp_;

  const ir::Graph& g_;
  llvm::IRBuilder<>& b_;
  llvm::Type* vec_;
  ParamValues params_;
};

}  // namespace actjit::lower
