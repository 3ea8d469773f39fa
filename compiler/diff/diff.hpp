// Symbolic differentiation: IR -> IR, forward mode, one walk over the nodes
// in topological order with a map from node to derivative, so the derivative
// DAG stays linear in the size of the function. Rules follow LANGUAGE.md
// section 3: where() differentiates branch-wise, conditions carry no
// derivative, abs'(0) = 0, max(a, b) is where(a > b, a, b), and terms whose
// factor is symbolically zero do not exist.
#pragma once

#include "compiler/ir/graph.hpp"

namespace actjit::diff {

/// d root / d var, where `var` is the Input node or a Param node.
/// Returns a Const 0 node when the derivative is symbolically zero.
ir::NodeId derivative(ir::Graph& g, ir::NodeId root, ir::NodeId var);

}  // namespace actjit::diff
