// Vector-Jacobian products of row-wise functions, symbolically. A row-wise
// function y = f(x) (x a row of n, y a row of m) has an n x m Jacobian that
// is never built: given the incoming gradient dy (a Cotangent leaf), the
// backward is a set of row expressions that cost O(n) per row:
//
//   dx[view positions] += G_view      for each view of x the function reads
//   dparams[j]         += P_j         (one value per row)
//
// Reverse mode over the row's structure: the output and each reduction's
// operand are elementwise "contexts" with an adjoint multiplier (dy for the
// output; the reduction's adjoint for its operand). Inside a context, local
// partial derivatives come from forward-mode diff (diff.hpp), treating
// views, reductions and parameters as variables. A reduction's adjoint is a
// reduction itself (sum over its users' positions), so softmax's backward
// comes out as y * (dy - sum(dy * y)).
#pragma once

#include <span>
#include <utility>
#include <vector>

#include "compiler/ir/graph.hpp"

namespace actjit::diff {

struct RowGradient {
  /// (view, adjoint): dx at the view's positions receives the adjoint.
  std::vector<std::pair<ir::View, ir::NodeId>> views;
  /// Per parameter, its gradient contribution of one row (a row scalar).
  std::vector<ir::NodeId> params;
};

/// The VJP of the row-wise function `out` (whose length divisor is
/// `out_divisor`, 0 for one value per row) with `nparams` parameters. The
/// results are not simplified.
RowGradient vjp(ir::Graph& g, ir::NodeId out, uint64_t out_divisor, size_t nparams);

/// Moves row-scalar factors out of sums and means: sum(a * s / t) =
/// sum(a) * s / t for s, t one value per row, and sum(-a) = -sum(a). Exact
/// in real arithmetic; in floating point it only changes rounding (the
/// order of a sum is unspecified anyway), and it takes divisions out of the
/// loops and makes more reductions independent (one pass over the row).
std::vector<ir::NodeId> factor_sums(ir::Graph& g, std::span<const ir::NodeId> roots);

/// (u / S) v - u (w / (S S)) as (u / S) (v - w / S), S a row scalar: the
/// quotient rule's form of a normalised row's vector-Jacobian product
/// (softmax's e/S dy - e (sum(e dy) / S^2) is y (dy - sum(e dy) / S)):
/// two products that cancel, each rounded apart, become one difference
/// of O(dy) values times y (float: 100 points of softmax's backward over
/// 8 ULP and 1e-7 on 16-column rows, none after).
std::vector<ir::NodeId> share_normalizer(ir::Graph& g, std::span<const ir::NodeId> roots);

}  // namespace actjit::diff
