// The scalar reference evaluator: the meaning of every op, in one place.
// Used for constant folding (in double, rounded once into f32 kernels) and
// as the oracle the JIT kernels are tested against.
#pragma once

#include <span>
#include <vector>

#include "compiler/ir/graph.hpp"

namespace actjit::ir {

/// The value of `op` applied to operands a, b, c (conditions are 0 or 1).
/// Leaf ops are not handled here.
template <class T>
T apply(Op op, T a, T b = T(0), T c = T(0));

/// Evaluates the nodes reachable from `roots` at input `x` with parameter
/// values `params` (already in T) and returns the roots' values in order.
template <class T>
std::vector<T> evaluate(const Graph& g, std::span<const NodeId> roots, T x, std::span<const T> params);

extern template float apply<float>(Op, float, float, float);
extern template double apply<double>(Op, double, double, double);
extern template std::vector<float> evaluate<float>(const Graph&, std::span<const NodeId>, float,
                                                   std::span<const float>);
extern template std::vector<double> evaluate<double>(const Graph&, std::span<const NodeId>, double,
                                                     std::span<const double>);
extern template long double apply<long double>(Op, long double, long double, long double);
extern template std::vector<long double> evaluate<long double>(const Graph&, std::span<const NodeId>, long double,
                                                               std::span<const long double>);

}  // namespace actjit::ir
