// The IR: a hash-consed DAG of primitive operations (ops.def). Nodes are
// immutable and interned: building an op whose (op, operands, payload) already
// exists returns the existing id, so equal subexpressions are one node and
// common subexpressions are shared for free. Ids are handed out in creation
// order, so operands always precede their users and every pass is a loop.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace actjit::ir {

enum class Op : uint8_t {
#define ACTJIT_OP(name, spelling, arity, flags) name,
#include "compiler/ir/ops.def"
#undef ACTJIT_OP
};

/// Above this argument ExpDiv computes exp(a/2) * (exp(a/2) / b): exp(a)
/// itself may overflow float there (at 88.7), the halves do not before the
/// ratio would.
inline constexpr double kExpDivSplit = 80;

enum OpFlags : unsigned { Leaf = 1, Commutative = 2, Condition = 4, Reduction = 8 };

struct OpInfo {
  const char* name;      // enumerator name, e.g. "Log1p"
  const char* spelling;  // language spelling, e.g. "log1p" or "+"
  unsigned arity;
  unsigned flags;
};
const OpInfo& info(Op op);
/// About the machine instructions one vector register of `op` becomes once
/// lowered: the inline math functions by their size, SLEEF's calls a guess,
/// everything else one. The compile-size limit and the lowering's choice of
/// body width both weigh a function by it.
unsigned instruction_weight(Op op);
/// The op of a math function spelled `name` (exp, log1p, min, where, ...), if any.
bool op_from_function_name(std::string_view name, Op& op);

using NodeId = uint32_t;
constexpr NodeId kNoNode = UINT32_MAX;

/// Which elements of the row an Input node reads. For a row of n elements,
/// the node is a row of n / (parts * group) elements whose element j is
///   x[index * (n / parts) + j * group + offset]
/// `chunk(e, parts, index)` and `groups(e, group)` (inside a reduction)
/// build these; the identity view {1, 0, 1, 0} is the plain input.
struct View {
  uint32_t parts = 1, index = 0, group = 1, offset = 0;
  /// The divisor of the row length: this view has n / divisor() elements.
  uint64_t divisor() const { return uint64_t(parts) * group; }
  bool identity() const { return parts == 1 && group == 1; }
  /// chunk(this, parts, index) and pick(this, k, t) as views; false when a
  /// field would pass kMaxField (nested too finely).
  bool chunk(uint32_t n_parts, uint32_t i, View& out) const;
  bool pick(uint32_t k, uint32_t t, View& out) const;
  bool operator==(const View&) const = default;
  /// Each field is below kMaxField; encoded losslessly in a node payload.
  static constexpr uint32_t kMaxField = 1u << 16;
  double encode() const;
  static View decode(double payload);
};

/// Node::value of an Add that is a step h v + c of a Horner sum whose terms
/// cancel (the collected slope of a rational function, diff.cpp): float
/// kernels evaluate the chain in double, with the constants' double values
/// (the sum was 3e-5 relative off in float where its terms were 3300 times
/// its value). Any pass may drop the mark: it only asks for precision.
inline constexpr double kWideSum = 1;

struct Node {
  Op op;
  uint8_t arity;
  std::array<NodeId, 3> args;
  /// Const: the value; Param: the parameter index; CondConst: 0 or 1;
  /// Input: its View (encoded); reductions and Cotangent: a length divisor;
  /// Where: 1 where its first branch is rare (ir::where), else 0; Add:
  /// kWideSum for a Horner step that float kernels take in double.
  double value;
  /// Const only: what the constant's exact value exceeds `value` by, where
  /// it is known and not a double (folded constant expressions such as
  /// 2 * sqrt(2 / pi), simplify.cpp); else 0. Float64 kernels take it
  /// where a constant's rounding would be amplified (exp's argument).
  double lo = 0;
};

/// A growing, interning store of nodes.
class Graph {
 public:
  /// The node (op, args, value, lo), created if it does not exist yet.
  NodeId make(Op op, std::span<const NodeId> args = {}, double value = 0, double lo = 0);
  /// `n` with operands `args` (its value and lo kept): what passes that
  /// rebuild the graph make of a node no rule changes.
  NodeId remake(const Node& n, std::span<const NodeId> args) { return make(n.op, args, n.value, n.lo); }
  const Node& operator[](NodeId id) const { return nodes_[id]; }
  size_t size() const { return nodes_.size(); }
  bool is_condition(NodeId id) const { return info(nodes_[id].op).flags & Condition; }
  bool is_const(NodeId id) const { return nodes_[id].op == Op::Const; }
  bool is_const(NodeId id, double v) const;
  double const_value(NodeId id) const { return nodes_[id].value; }
  /// A constant's Node::lo (0 where its value is exact or the rest unknown).
  double const_lo(NodeId id) const { return nodes_[id].lo; }

  /// Nodes reachable from `roots`, in increasing id order (a topological order).
  std::vector<NodeId> reachable(std::span<const NodeId> roots) const;
  /// The instruction_weight of the nodes reachable from `roots`, summed: about
  /// the machine instructions per register of a kernel computing them.
  size_t weight(std::span<const NodeId> roots) const;

 private:
  struct Key {
    Op op;
    std::array<NodeId, 3> args;
    uint64_t bits, lo_bits;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  std::vector<Node> nodes_;
  std::unordered_map<Key, NodeId, KeyHash> index_;
};

/// Whether nothing `n` is computed from is the input (a constant, a
/// parameter, or an expression of those).
bool input_free(const Graph& g, NodeId n);

/// Rebuilds the nodes reachable from `roots` bottom-up: `rebuild(node,
/// args)` gets a copy of each node and its operands already rebuilt, and
/// returns the node's replacement. Returns the new roots. Passes that
/// rewrite the graph (simplify, stabilize) are this loop plus their rules.
template <class Rebuild>
std::vector<NodeId> transform(Graph& g, std::span<const NodeId> roots, Rebuild rebuild) {
  std::vector<NodeId> order = g.reachable(roots);
  std::vector<NodeId> map(order.empty() ? 0 : order.back() + 1, kNoNode);
  for (NodeId id : order) {
    const Node n = g[id];  // a copy: the graph grows while rebuilding
    std::array<NodeId, 3> args{kNoNode, kNoNode, kNoNode};
    for (unsigned i = 0; i < n.arity; ++i) args[i] = map[n.args[i]];
    map[id] = rebuild(n, args);
  }
  std::vector<NodeId> out;
  for (NodeId r : roots) out.push_back(map[r]);
  return out;
}

// Builder helpers (no simplification; see simplify/).
/// The constant v (+ lo, the part of its exact value that v rounded off).
NodeId constant(Graph& g, double v, double lo = 0);
NodeId unary(Graph& g, Op op, NodeId a);
NodeId binary(Graph& g, Op op, NodeId a, NodeId b);
/// where(c, a, b); `rare`: a is a far form few lanes take (Node::value 1: a
/// stability rewrite's, as past a polynomial's overflow), which kernels
/// compute only for registers where some lane takes it (Emitter::emit).
NodeId where(Graph& g, NodeId c, NodeId a, NodeId b, bool rare = false);
/// Whether `id` is a where() with a rare first branch (ir::where).
inline bool rare_where(const Graph& g, NodeId id) { return g[id].op == Op::Where && g[id].value == 1; }

}  // namespace actjit::ir
