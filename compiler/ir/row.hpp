// Row-wise functions in the IR: the shape of each node (how many elements it
// has for a row of n), rewriting the views of an expression (chunk, groups),
// and the row reference evaluator. A function is row-wise when it reduces
// over the row (sum, mean, max, min) or reads the row through a view other
// than the identity; every other function is elementwise.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "compiler/ir/graph.hpp"

namespace actjit::ir {

/// The length of a node for a row of n elements, as a divisor: the node has
/// n / D elements; kScalar (0) is one value per row (constants, parameters,
/// reductions and what is computed from them only); kMixed marks a node that
/// combines rows of different lengths (an error the front end reports).
constexpr uint64_t kScalar = 0;
constexpr uint64_t kMixed = UINT64_MAX;

/// Length divisors of nodes, computed incrementally (ids only grow).
class Shapes {
 public:
  explicit Shapes(const Graph& g) : g_(g) {}
  uint64_t of(NodeId id);

 private:
  const Graph& g_;
  std::vector<uint64_t> d_;
};

/// True when the function of `roots` is row-wise (see above).
bool is_rowwise(const Graph& g, std::span<const NodeId> roots);

/// Nodes reachable from `roots` without entering the operands of
/// reductions (the elementwise part of an expression), nor those of nodes
/// for which `stop` holds, in id order.
std::vector<NodeId> reachable_elementwise(const Graph& g, std::span<const NodeId> roots,
                                          const std::function<bool(NodeId)>& stop = {});

/// `e` with every view `v` read outside reductions replaced by `f(v, out)`'s
/// `out`; kNoNode when `f` returns false for any of them.
NodeId reindex(Graph& g, NodeId e, const std::function<bool(View, View&)>& f);

/// The least common multiple of the divisors of every view and reduction
/// reachable from `roots`: the row length must be a multiple of it.
uint64_t row_multiple(const Graph& g, std::span<const NodeId> roots);

/// exp(v - max(v)) (softmax's, the max under stop_gradient or not): v,
/// the subtracted node and the max itself; all kNoNode where `e` is not.
struct ExpMinusMax {
  NodeId v = kNoNode, shift = kNoNode, max = kNoNode;
};
ExpMinusMax exp_minus_row_max(const Graph& g, NodeId e);

/// Evaluates `roots` on one row `x` (with the incoming gradient `dy` for
/// Cotangent leaves, empty if none) in T. Each root gives n / D values (one
/// for a scalar root). The reference semantics of row-wise kernels.
template <class T>
std::vector<std::vector<T>> evaluate_row(const Graph& g, std::span<const NodeId> roots, std::span<const T> x,
                                         std::span<const T> params, std::span<const T> dy = {});

extern template std::vector<std::vector<float>> evaluate_row<float>(const Graph&, std::span<const NodeId>,
                                                                    std::span<const float>,
                                                                    std::span<const float>,
                                                                    std::span<const float>);
extern template std::vector<std::vector<double>> evaluate_row<double>(const Graph&, std::span<const NodeId>,
                                                                      std::span<const double>,
                                                                      std::span<const double>,
                                                                      std::span<const double>);
extern template std::vector<std::vector<long double>> evaluate_row<long double>(
    const Graph&, std::span<const NodeId>, std::span<const long double>, std::span<const long double>,
    std::span<const long double>);

}  // namespace actjit::ir
