// Reverse mode over row structure (see vjp.hpp).
#include "compiler/diff/vjp.hpp"

#include <map>

#include "compiler/diff/diff.hpp"
#include "compiler/ir/row.hpp"

namespace actjit::diff {

using ir::NodeId;
using ir::Op;

namespace {

struct Accumulator {
  ir::Graph& g;
  std::map<NodeId, NodeId> views;       // Input (view) node -> adjoint, elementwise
  std::map<NodeId, NodeId> reductions;  // reduction node -> adjoint, a row scalar
  std::vector<NodeId> params;

  NodeId add(NodeId acc, NodeId term) { return acc == ir::kNoNode ? term : ir::binary(g, Op::Add, acc, term); }

  /// Propagates the adjoint multiplier `a` of the elementwise context `e`
  /// (of length divisor `d`) to the variables `e` reads directly.
  void context(NodeId e, NodeId a, uint64_t d) {
    for (NodeId v : ir::reachable_elementwise(g, std::array{e})) {
      const ir::Node n = g[v];
      bool reduction = ir::info(n.op).flags & ir::Reduction;
      if (n.op != Op::Input && n.op != Op::Param && !reduction) continue;
      NodeId partial = derivative(g, e, v);
      if (g.is_const(partial, 0.0)) continue;
      NodeId term = ir::binary(g, Op::Mul, a, partial);
      if (n.op == Op::Input) {
        views[v] = add(views.count(v) ? views[v] : ir::kNoNode, term);
        continue;
      }
      // A row scalar receives the sum over the context's positions.
      if (d != ir::kScalar) term = g.make(Op::Sum, std::array{term}, double(d));
      if (reduction) {
        reductions[v] = add(reductions.count(v) ? reductions[v] : ir::kNoNode, term);
      } else {
        NodeId& p = params[size_t(n.value)];
        p = add(p, term);
      }
    }
  }
};

}  // namespace

RowGradient vjp(ir::Graph& g, NodeId out, uint64_t out_divisor, size_t nparams) {
  Accumulator acc{g, {}, {}, std::vector<NodeId>(nparams, ir::kNoNode)};
  acc.context(out, g.make(Op::Cotangent, {}, double(out_divisor)), out_divisor);
  ir::Shapes shapes(g);  // incremental: nodes created below are measured when asked
  // Reductions from the last created to the first: a reduction's operand
  // only holds reductions created before it, so each adjoint is complete
  // when its reduction is reached.
  while (!acc.reductions.empty()) {
    auto last = std::prev(acc.reductions.end());
    NodeId r = last->first, adjoint = last->second;
    acc.reductions.erase(last);
    const ir::Node n = g[r];
    NodeId body = n.args[0];
    uint64_t d = uint64_t(n.value);
    uint64_t body_d = shapes.of(body);
    NodeId a = adjoint;
    if (body_d == ir::kScalar) {
      // A row scalar reduced: sum(c) = c * m; mean, max, min of c = c.
      if (n.op == Op::Sum) a = ir::binary(g, Op::Mul, adjoint, g.make(Op::Sum, std::array{ir::constant(g, 1)}, double(d)));
      acc.context(body, a, body_d);
      continue;
    }
    switch (n.op) {
      case Op::Sum: break;
      case Op::Mean: {
        NodeId count = g.make(Op::Sum, std::array{ir::constant(g, 1)}, double(d));
        a = ir::binary(g, Op::Div, adjoint, count);
        break;
      }
      case Op::RowMax:
      case Op::RowMin: {
        // Split evenly among the positions that attain the extreme (as
        // PyTorch's amax/amin).
        NodeId hit = ir::where(g, ir::binary(g, Op::Eq, body, r), ir::constant(g, 1), ir::constant(g, 0));
        NodeId ties = g.make(Op::Sum, std::array{hit}, double(d));
        a = ir::binary(g, Op::Mul, adjoint, ir::binary(g, Op::Div, hit, ties));
        break;
      }
      default: break;
    }
    acc.context(body, a, body_d);
  }
  RowGradient out_grad;
  for (auto& [node, adjoint] : acc.views) out_grad.views.emplace_back(ir::View::decode(g[node].value), adjoint);
  for (NodeId p : acc.params) out_grad.params.push_back(p == ir::kNoNode ? ir::constant(g, 0) : p);
  return out_grad;
}

namespace {

/// A product tree split into its elementwise part and row-scalar factors:
/// value = (neg ? -1 : 1) * ew * num / den (absent parts are 1).
struct Factored {
  NodeId ew = ir::kNoNode, num = ir::kNoNode, den = ir::kNoNode;
  bool neg = false;
};

struct Factorer {
  ir::Graph& g;
  ir::Shapes shapes{g};
  NodeId mul(NodeId a, NodeId b) { return a == ir::kNoNode ? b : b == ir::kNoNode ? a : ir::binary(g, Op::Mul, a, b); }

  Factored split(NodeId id) {
    if (shapes.of(id) == ir::kScalar) return {ir::kNoNode, id, ir::kNoNode, false};
    const ir::Node n = g[id];
    if (n.op == Op::Neg) {
      Factored f = split(n.args[0]);
      f.neg = !f.neg;
      return f;
    }
    if (n.op == Op::Mul) {
      Factored a = split(n.args[0]), b = split(n.args[1]);
      return {mul(a.ew, b.ew), mul(a.num, b.num), mul(a.den, b.den), a.neg != b.neg};
    }
    if (n.op == Op::Div && shapes.of(n.args[1]) == ir::kScalar) {
      Factored a = split(n.args[0]);
      a.den = mul(a.den, n.args[1]);
      return a;
    }
    return {id, ir::kNoNode, ir::kNoNode, false};
  }
};

}  // namespace

std::vector<NodeId> factor_sums(ir::Graph& g, std::span<const NodeId> roots) {
  Factorer fa{g};
  return ir::transform(g, roots, [&](const ir::Node& n, const std::array<NodeId, 3>& args) -> NodeId {
    NodeId rebuilt = g.remake(n, std::span<const NodeId>(args.data(), n.arity));
    if (n.op != Op::Sum && n.op != Op::Mean) return rebuilt;
    Factored f = fa.split(args[0]);
    if (f.ew == ir::kNoNode || (f.num == ir::kNoNode && f.den == ir::kNoNode && !f.neg)) return rebuilt;
    NodeId r = g.make(n.op, std::array{f.ew}, n.value);
    if (f.num != ir::kNoNode) r = ir::binary(g, Op::Mul, r, f.num);
    if (f.den != ir::kNoNode) r = ir::binary(g, Op::Div, r, f.den);
    if (f.neg) r = ir::unary(g, Op::Neg, r);
    return r;
  });
}

std::vector<NodeId> share_normalizer(ir::Graph& g, std::span<const NodeId> roots) {
  ir::Shapes shapes(g);
  auto scalar = [&](NodeId id) { return shapes.of(id) == ir::kScalar; };
  // (u / S) v and u (w / (S S)) as the operands p and r of a difference:
  // (u / S) (v - w / S), or (u / S) (w / S - v) where r comes first.
  auto shared = [&](NodeId p, NodeId r, bool r_first) -> NodeId {
    const ir::Node a = g[p], b = g[r];  // copies: the graph grows below
    if (a.op != Op::Mul || b.op != Op::Mul) return ir::kNoNode;
    for (int i = 0; i < 2; ++i) {
      NodeId quotient = a.args[i], v = a.args[1 - i];
      const ir::Node q = g[quotient];
      if (q.op != Op::Div || !scalar(q.args[1])) continue;
      NodeId u = q.args[0], s = q.args[1];
      for (int j = 0; j < 2; ++j) {
        if (b.args[j] != u) continue;
        const ir::Node w = g[b.args[1 - j]];
        if (w.op != Op::Div) continue;
        const ir::Node ss = g[w.args[1]];
        if (ss.op != Op::Mul || ss.args[0] != s || ss.args[1] != s) continue;
        NodeId w_over_s = ir::binary(g, Op::Div, w.args[0], s);
        NodeId diff = r_first ? ir::binary(g, Op::Sub, w_over_s, v) : ir::binary(g, Op::Sub, v, w_over_s);
        return ir::binary(g, Op::Mul, quotient, diff);
      }
    }
    return ir::kNoNode;
  };
  return ir::transform(g, roots, [&](const ir::Node& n, const std::array<NodeId, 3>& args) -> NodeId {
    if (n.op == Op::Sub) {
      if (NodeId r = shared(args[0], args[1], false); r != ir::kNoNode) return r;
      if (NodeId r = shared(args[1], args[0], true); r != ir::kNoNode) return r;
    }
    return g.remake(n, std::span<const NodeId>(args.data(), n.arity));
  });
}

}  // namespace actjit::diff
