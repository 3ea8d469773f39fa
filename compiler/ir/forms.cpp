// The stable forms' recognizers (see forms.hpp).
#include "compiler/ir/forms.hpp"

#include <cmath>

namespace actjit::ir {

namespace {

/// The argument a of e = exp(where(cond, -a, a)) when cond is a >= 0 or
/// a > 0 (e = exp(-|a|)), else kNoNode.
NodeId exp_neg_abs_argument(const Graph& g, NodeId e, NodeId cond) {
  if (g[e].op != Op::Exp || (g[cond].op != Op::Ge && g[cond].op != Op::Gt) || !g.is_const(g[cond].args[1], 0.0))
    return kNoNode;
  NodeId a = g[cond].args[0];
  const Node& m = g[g[e].args[0]];
  if (m.op != Op::Where || m.args[0] != cond || m.args[2] != a) return kNoNode;
  // -a as a Neg node, or, for a = -u (simplified), u itself
  bool negated = (g[m.args[1]].op == Op::Neg && g[m.args[1]].args[0] == a) ||
                 (g[a].op == Op::Neg && g[a].args[0] == m.args[1]);
  return negated ? a : kNoNode;
}

}  // namespace

std::optional<SigmoidForm> sigmoid_form(const Graph& g, NodeId n) {
  const Node& div = g[n];
  if (div.op != Op::Div) return std::nullopt;
  const Node& num = g[div.args[0]];
  const Node& den = g[div.args[1]];
  if (num.op != Op::Where || !g.is_const(num.args[1], 1.0) || den.op != Op::Add || !g.is_const(den.args[1], 1.0))
    return std::nullopt;
  NodeId e = num.args[2];
  if (den.args[0] != e) return std::nullopt;
  NodeId a = exp_neg_abs_argument(g, e, num.args[0]);
  if (a == kNoNode) return std::nullopt;
  return SigmoidForm{a, num.args[0], e};
}

std::optional<GuardedSigmoid> guarded_sigmoid(const Graph& g, NodeId n) {
  GuardedSigmoid out;
  while (g[n].op == Op::Where && (g.is_const(g[n].args[1], 1.0) || g.is_const(g[n].args[1], 0.0))) {
    out.guards.push_back({g[n].args[0], g[n].args[1]});
    n = g[n].args[2];
  }
  auto s = sigmoid_form(g, n);
  if (!s) return std::nullopt;
  out.sigmoid = *s;
  return out;
}

std::optional<GuardedSigmoidProduct> guarded_sigmoid_product(const Graph& g, NodeId n) {
  GuardedSigmoidProduct out;
  while (g[n].op == Op::Where) {
    out.guards.push_back({g[n].args[0], g[n].args[1]});
    n = g[n].args[2];
  }
  if (g[n].op != Op::Mul) return std::nullopt;
  for (int k = 0; k < 2; ++k) {
    auto s = sigmoid_form(g, g[n].args[k]);
    if (!s) continue;
    out.m = g[n].args[1 - k];
    out.sigmoid = *s;
    for (auto& [cond, value] : out.guards)
      if (value != out.m && !g.is_const(value, 0.0)) return std::nullopt;
    return out;
  }
  return std::nullopt;
}

std::optional<SoftplusForm> softplus_form(const Graph& g, NodeId n) {
  const Node& s = g[n];
  if (s.op != Op::Add && s.op != Op::Sub) return std::nullopt;
  // Add is commutative (its operands are ordered by id); Sub is not.
  for (int k = 0; k < (s.op == Op::Add ? 2 : 1); ++k) {
    const Node& part = g[s.args[k]];
    const Node& log_part = g[s.args[1 - k]];
    if (part.op != Op::Where || log_part.op != Op::Log1p) continue;
    NodeId cond = part.args[0], e = log_part.args[0];
    NodeId a = exp_neg_abs_argument(g, e, cond);
    if (a == kNoNode) continue;
    if (s.op == Op::Add && part.args[1] == a && g.is_const(part.args[2], 0.0)) return SoftplusForm{a, cond, e, false};
    if (s.op == Op::Sub && g.is_const(part.args[1], 0.0) && part.args[2] == a) return SoftplusForm{a, cond, e, true};
  }
  return std::nullopt;
}

std::optional<ShiftedSoftplusForm> shifted_softplus_form(const Graph& g, NodeId n) {
  const Node& s = g[n];
  if (s.op != Op::Add) return std::nullopt;
  for (int k = 0; k < 2; ++k) {  // Add's operands are ordered by id
    const Node& part = g[s.args[k]];
    const Node& log_part = g[s.args[1 - k]];
    if (part.op != Op::Where || log_part.op != Op::Log1p || !g.is_const(part.args[2], 0.0)) continue;
    const Node& half = g[log_part.args[0]];
    if (half.op != Op::Mul || !g.is_const(half.args[1], 0.5) || g[half.args[0]].op != Op::Expm1) continue;
    NodeId cond = part.args[0], a = part.args[1], w = g[half.args[0]].args[0];
    // expm1(w) shares w = where(cond, -a, a) with exp(-|a|)'s form: check it as one
    const Node& wn = g[w];
    if ((g[cond].op != Op::Gt && g[cond].op != Op::Ge) || g[cond].args[0] != a || !g.is_const(g[cond].args[1], 0.0) ||
        wn.op != Op::Where || wn.args[0] != cond || wn.args[2] != a)
      continue;
    bool negated = (g[wn.args[1]].op == Op::Neg && g[wn.args[1]].args[0] == a) ||
                   (g[a].op == Op::Neg && g[a].args[0] == wn.args[1]);
    if (negated) return ShiftedSoftplusForm{a, cond, w};
  }
  return std::nullopt;
}

std::optional<Sech2Form> sech2_form(const Graph& g, NodeId n) {
  const Node& div = g[n];
  if (div.op != Op::Div) return std::nullopt;
  const Node& num = g[div.args[0]];
  const Node& den = g[div.args[1]];
  if (num.op != Op::Mul || !g.is_const(num.args[1], 4.0) || den.op != Op::Mul || den.args[0] != den.args[1])
    return std::nullopt;
  NodeId e = num.args[0];
  const Node& h = g[den.args[0]];
  if (h.op != Op::Add || h.args[0] != e || !g.is_const(h.args[1], 1.0) || g[e].op != Op::Exp) return std::nullopt;
  const Node& m = g[g[e].args[0]];
  if (m.op != Op::Mul || !g.is_const(m.args[1], -2.0) || g[m.args[0]].op != Op::Abs) return std::nullopt;
  return Sech2Form{g[m.args[0]].args[0], e};
}

NodeId sech2(Graph& g, NodeId a) {
  NodeId e = unary(g, Op::Exp, binary(g, Op::Mul, unary(g, Op::Abs, a), constant(g, -2)));
  NodeId one_plus = binary(g, Op::Add, e, constant(g, 1));
  return binary(g, Op::Div, binary(g, Op::Mul, e, constant(g, 4)), binary(g, Op::Mul, one_plus, one_plus));
}

std::optional<SqrtShiftForm> sqrt_shift_form(const Graph& g, NodeId n) {
  const Node& div = g[n];
  if (div.op != Op::Div) return std::nullopt;
  const Node& square = g[div.args[0]];
  const Node& den = g[div.args[1]];
  if (den.op != Op::Add) return std::nullopt;
  bool squared = square.op == Op::Mul && square.args[0] == square.args[1];
  for (int k = 0; squared && k < 2 && !g.is_const(den.args[1]); ++k) {  // a parameter's sqrt(b)
    const Node& sb = g[den.args[1 - k]];
    auto r = root_of_square_sum(g, den.args[k]);
    if (sb.op == Op::Sqrt && !g.is_const(sb.args[0]) && r && r->v == square.args[0] && r->b == sb.args[0])
      return SqrtShiftForm{square.args[0], den.args[k], sb.args[0]};
  }
  if (!g.is_const(den.args[1])) return std::nullopt;
  NodeId root = den.args[0];
  auto radicand = root_radicand(g, root);  // (the square's side is u itself below, whatever v is)
  if (!radicand) return std::nullopt;
  const Node& sum = g[radicand->s];
  if (sum.op != Op::Add) return std::nullopt;
  int at = sum.args[0] == div.args[0] ? 1 : sum.args[1] == div.args[0] ? 0 : -1;  // b's side
  if (at < 0 || !g.is_const(sum.args[at])) return std::nullopt;
  double b = g.const_value(sum.args[at]), k = g.const_value(den.args[1]);
  if (!(b > 0) || !(k > 0) || std::sqrt(b) != k) return std::nullopt;
  if (!squared) return SqrtShiftForm{div.args[0], root, kNoNode, false};
  return SqrtShiftForm{square.args[0], root};
}

std::optional<std::vector<NodeId>> product_leaves(const Graph& g, NodeId n, size_t most) {
  std::vector<NodeId> leaves, stack{n};
  while (!stack.empty()) {
    if (leaves.size() >= most) return std::nullopt;
    NodeId f = stack.back();
    stack.pop_back();
    if (g[f].op == Op::Mul) stack.insert(stack.end(), {g[f].args[0], g[f].args[1]});
    else leaves.push_back(f);
  }
  return leaves;
}

std::optional<RootRadicand> root_radicand(const Graph& g, NodeId n) {
  if (g[n].op == Op::Sqrt) return RootRadicand{kNoNode, g[n].args[0]};
  const Node& w = g[n];
  if (w.op != Op::Where || g[w.args[0]].op != Op::Gt || g[w.args[2]].op != Op::Sqrt) return std::nullopt;
  const Node& cond = g[w.args[0]];
  const Node& far = g[w.args[1]];
  if (g[cond.args[0]].op != Op::Abs || far.op != Op::Mul) return std::nullopt;
  // the bound as the stabilizer writes it, sqrt|b / K| 2^27
  const Node& bound = g[cond.args[1]];
  if (bound.op != Op::Mul || !g.is_const(bound.args[1], 0x1p27) || g[bound.args[0]].op != Op::Sqrt ||
      g[g[bound.args[0]].args[0]].op != Op::Abs)
    return std::nullopt;
  for (int k = 0; k < 2; ++k)
    if (far.args[k] == cond.args[0] && g[far.args[1 - k]].op == Op::Sqrt)
      return RootRadicand{g[cond.args[0]].args[0], g[w.args[2]].args[0]};
  return std::nullopt;
}

std::optional<RootOfSquareSum> root_of_square_sum(const Graph& g, NodeId s) {
  NodeId sq = s, ax = kNoNode;
  // where(|v| == inf, |v|, sqrt(where(c, 1 + (b r) r, v*v + b)) where(c, |v|, 1)), the
  // stability rewrite's guard for a b that is not a constant: the sum is the
  // radicand's false side
  if (g[s].op == Op::Where && g[g[s].args[0]].op == Op::Eq && g[g[g[s].args[0]].args[0]].op == Op::Abs &&
      g[s].args[1] == g[g[s].args[0]].args[0] && g[g[s].args[2]].op == Op::Mul) {
    NodeId abs_v = g[s].args[1];
    const Node& m = g[g[s].args[2]];
    for (int k = 0; k < 2; ++k) {
      const Node& root = g[m.args[k]];
      const Node& scale = g[m.args[1 - k]];
      if (root.op != Op::Sqrt || g[root.args[0]].op != Op::Where || scale.op != Op::Where) continue;
      const Node& radicand = g[root.args[0]];
      if (scale.args[0] != radicand.args[0] || scale.args[1] != abs_v || !g.is_const(scale.args[2], 1)) continue;
      ax = abs_v;
      sq = radicand.args[2];
      const Node& sum = g[sq];
      if (sum.op != Op::Add) return std::nullopt;
      for (int j = 0; j < 2; ++j) {
        const Node& t = g[sum.args[j]];
        if (t.op == Op::Mul && t.args[0] == t.args[1] && t.args[0] == g[ax].args[0])
          return RootOfSquareSum{t.args[0], sum.args[1 - j]};
      }
      return std::nullopt;
    }
    return std::nullopt;
  }
  if (g[s].op == Op::Where) {  // where(|v| > bound, |v| or |v| sqrt(...), sqrt(v*v + b))
    const Node& w = g[s];
    const Node& cond = g[w.args[0]];
    if (cond.op != Op::Gt || g[cond.args[0]].op != Op::Abs || !g.is_const(cond.args[1])) return std::nullopt;
    ax = cond.args[0];
    const Node& big = g[w.args[1]];
    if (w.args[1] != ax && !(big.op == Op::Mul && (big.args[0] == ax || big.args[1] == ax))) return std::nullopt;
    sq = w.args[2];
  }
  if (g[sq].op != Op::Sqrt || g[g[sq].args[0]].op != Op::Add) return std::nullopt;
  const Node& sum = g[g[sq].args[0]];
  for (int k = 0; k < 2; ++k) {
    const Node& t = g[sum.args[k]];
    bool square = t.op == Op::Mul && t.args[0] == t.args[1] && (ax == kNoNode || t.args[0] == g[ax].args[0]);
    if (square) return RootOfSquareSum{t.args[0], sum.args[1 - k]};
  }
  return std::nullopt;
}

std::optional<HornerChain> horner_chain(const Graph& g, NodeId n, size_t shortest) {
  // One level: c + z * inner; the innermost inner is a constant.
  auto level = [&](NodeId at, NodeId& z, NodeId& inner, double& c) {
    const Node& s = g[at];
    if (s.op != Op::Add) return false;
    for (int k = 0; k < 2; ++k) {
      const Node& m = g[s.args[1 - k]];
      if (!g.is_const(s.args[k]) || m.op != Op::Mul) continue;
      for (int j = 0; j < 2; ++j) {
        if (z != kNoNode ? m.args[j] != z : g.is_const(m.args[j])) continue;
        z = m.args[j];
        inner = m.args[1 - j];
        c = g.const_value(s.args[k]);
        return true;
      }
    }
    return false;
  };
  HornerChain h{kNoNode, kNoNode, {0.0}};
  NodeId inner = kNoNode;
  if (!level(n, h.z, inner, h.c[0])) return std::nullopt;
  h.top_product = g[n].args[g.is_const(g[n].args[0]) ? 1 : 0];
  for (NodeId at = inner; !g.is_const(at); at = inner) {
    double ck = 0;
    if (!level(at, h.z, inner, ck)) return std::nullopt;
    h.c.push_back(ck);
  }
  h.c.push_back(g.const_value(inner));
  if (h.c.size() < shortest) return std::nullopt;
  return h;
}

std::unordered_set<NodeId> horner_inner_levels(const Graph& g, std::span<const NodeId> nodes) {
  std::unordered_set<NodeId> inner;
  for (NodeId id : nodes) {
    const Node& n = g[id];
    if (n.op != Op::Add) continue;
    for (int k = 0; k < 2; ++k)
      if (g.is_const(n.args[k]) && g[n.args[1 - k]].op == Op::Mul)
        inner.insert({g[n.args[1 - k]].args[0], g[n.args[1 - k]].args[1]});
  }
  return inner;
}

NodeId horner(Graph& g, NodeId z, const std::vector<double>& c) {
  NodeId p = constant(g, c.back());
  for (size_t k = c.size() - 1; k-- > 0;) p = binary(g, Op::Add, binary(g, Op::Mul, z, p), constant(g, c[k]));
  return p;
}

}  // namespace actjit::ir
