// The simplifier: constant folding and the algebraic identities that matter
// for derivatives (x * 1, x + -0, --x, where(c, a, a), ...). Every rule holds
// for all IEEE values, including inf, NaN and signed zeros; no fast-math.
#pragma once

#include <span>
#include <vector>

#include "compiler/ir/graph.hpp"

namespace actjit::simplify {

/// Rebuilds the nodes reachable from `roots` with the rules applied and
/// returns the new roots, in order. Idempotent.
std::vector<ir::NodeId> simplify(ir::Graph& g, std::span<const ir::NodeId> roots);

/// For derivatives: (p m) / p = m for a parameter p, where the numerator
/// is a multiple of p by its form (sums, wheres, products of multiples;
/// the chain rule's factor that a division by p undoes, as in softplus).
/// Exact for p != 0 — unlike the rules above, not for p = 0, inf or NaN,
/// where the function itself is inf or NaN. Results simplified.
std::vector<ir::NodeId> cancel_parameters(ir::Graph& g, std::span<const ir::NodeId> roots);

/// Builds (op, args) with the rules applied to that one node (value and lo:
/// a leaf's payload, Node::value and Node::lo). Constant arithmetic (+ - *
/// / negation, sqrt) folds in double-double: the folded constant is its
/// exact value over the double leaves rounded once, and Node::lo keeps the
/// rest.
ir::NodeId rewrite(ir::Graph& g, ir::Op op, std::span<const ir::NodeId> args, double value = 0, double lo = 0);

}  // namespace actjit::simplify
