// The derivative table (one rule per op) and the walk (see diff.hpp).
// "none" (kNoNode) stands for a derivative that is symbolically zero.
#include "compiler/diff/diff.hpp"

#include "compiler/ir/eval.hpp"
#include "compiler/ir/forms.hpp"
#include "compiler/ir/range.hpp"
#include "compiler/simplify/stabilize.hpp"

#include <cmath>
#include <numbers>
#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace actjit::diff {

using ir::Graph;
using ir::NodeId;
using ir::Op;
constexpr NodeId none = ir::kNoNode;
/// Horner chains of this many terms or more take their derivative as one.
constexpr size_t kShortestSeries = 6;

namespace {

struct Builder {
  Graph& g;
  NodeId c(double v) { return ir::constant(g, v); }
  NodeId neg(NodeId a) { return ir::unary(g, Op::Neg, a); }
  NodeId add(NodeId a, NodeId b) { return a == none ? b : b == none ? a : ir::binary(g, Op::Add, a, b); }
  NodeId sub(NodeId a, NodeId b) { return b == none ? a : a == none ? neg(b) : ir::binary(g, Op::Sub, a, b); }
  NodeId mul(NodeId a, NodeId b) { return a == none || b == none ? none : ir::binary(g, Op::Mul, a, b); }
  NodeId div(NodeId a, NodeId b) { return a == none ? none : ir::binary(g, Op::Div, a, b); }
  NodeId fn(Op op, NodeId a) { return ir::unary(g, op, a); }
  NodeId fn(Op op, NodeId a, NodeId b) { return ir::binary(g, op, a, b); }
  NodeId or_zero(NodeId d) { return d == none ? c(0) : d; }
  NodeId where(NodeId cond, NodeId a, NodeId b, bool rare = false) {
    return a == none && b == none ? none : ir::where(g, cond, or_zero(a), or_zero(b), rare);
  }
};

/// k where den is a + k or |a| + k (either order) and k is free of the
/// variable (d[k] none; a constant other than 0), else none.
NodeId shifted_denominator(const Graph& g, NodeId a, NodeId den, const std::vector<NodeId>& d) {
  const ir::Node& n = g[den];
  if (n.op != Op::Add) return none;
  for (int i = 0; i < 2; ++i) {
    NodeId u = n.args[i], k = n.args[1 - i];
    bool shifted = u == a || (g[u].op == Op::Abs && g[u].args[0] == a);
    bool free = k < d.size() ? d[k] == none : true;
    if (shifted && free && !(g.is_const(k) && g.const_value(k) == 0)) return k;
  }
  return none;
}

/// u(v) / (v + k) for u with u(0) = 0 and u'(0) = 1 (tanh, sin, expm1,
/// ...: simplify::tangent_intercept) and k free of the variable: v' (k
/// u'(v) - I) q q, q = 1 / (v + k), I = u(v) - v u'(v) in closed form. The
/// quotient rule's (u'(v) - y) q cancels near v = 0, where y tends to u'(v)
/// (tanh(x) / (x + 1e-7), a division made safe: 6.6e-4 relative off in
/// float at 0.01, 2.6e-12 in double). none for other quotients.
NodeId tangent_quotient_slope(Builder& b, NodeId a, NodeId den, const std::vector<NodeId>& d) {
  const ir::Node n = b.g[den];  // a copy: the graph grows below
  if (n.op != Op::Add || b.g[a].arity != 1) return none;
  NodeId v = b.g[a].args[0];
  for (int i = 0; i < 2; ++i) {
    NodeId k = n.args[1 - i];
    if (n.args[i] != v || (k < d.size() && d[k] != none) || (b.g.is_const(k) && b.g.const_value(k) == 0)) continue;
    if (v >= d.size() || d[v] == none) return none;
    auto t = simplify::tangent_intercept(b.g, a);
    if (!t) return none;
    NodeId q = b.div(b.c(1), den);
    return b.mul(d[v], b.mul(b.mul(b.sub(b.mul(k, t->slope), t->intercept), q), q));
  }
  return none;
}

/// softplus(a) - a sigmoid(a) = log1p(e) + |a| e / (1 + e) on softplus's own
/// e = exp(-|a|) and w = -|a| (e's argument): positive, nothing cancels. |a|
/// stops at 800, where e is 0 in both precisions (inf * 0 past it).
NodeId softplus_gap(Builder& b, const ir::SoftplusForm& s) {
  NodeId w = b.g[s.e].args[0];
  NodeId capped = b.fn(Op::Max, w, b.c(-800));
  return b.sub(b.fn(Op::Log1p, s.e), b.div(b.mul(capped, s.e), b.add(s.e, b.c(1))));
}

/// b a^(b - 1) a', the slope of y = a^b: as written where b - 1 is exact in
/// both types (a constant b >= 1/2 without a rest: ISRU's -1/2 - 1), else
/// (b y) (a' / a), exactly b a^(b - 1) a' over y's rounding. pow(a, b - 1) took b - 1
/// rounded, an error that a^(...) multiplies by log(a): x^0.3's slope was
/// 319 ULP off at 7e-300 in double, x^0.1's 27 at 7e-37 in float (0.3 - 1
/// rounds; a float kernel's exponent is b rounded to float, less 1). At a =
/// 0, where y / a is 0 / 0, b 0^(b - 1). Where y leaves float's normal
/// range (y / a loses there, in float; the bounds are the same in double,
/// to keep one graph), a rare branch: pow(a, b - 1) with b - 1 as h + l (the
/// double and its rest, which a double kernel's pow takes: emitter.cpp), or
/// for a parameter b, whose b - 1 rounds at run time, as written.
NodeId power_slope(Builder& b, NodeId y, NodeId a, NodeId exponent, NodeId da) {
  Graph& g = b.g;
  NodeId written = none;
  if (g.is_const(exponent)) {
    double k = g.const_value(exponent);
    long double exact = static_cast<long double>(k) - 1 + static_cast<long double>(g.const_lo(exponent));
    double hi = k - 1, kf = static_cast<float>(k);
    bool exact_float = static_cast<double>(static_cast<float>(hi)) == kf - 1;
    double rest = static_cast<double>(exact - static_cast<long double>(hi));
    written = b.fn(Op::Pow, a, ir::constant(g, hi, rest));
    if ((rest == 0 && exact_float) || !std::isfinite(k)) return b.mul(b.mul(exponent, written), da);
  } else {
    written = b.fn(Op::Pow, a, b.sub(exponent, b.c(1)));
  }
  // (b y) (a' / a), or ((b y) / a) a' for a constant a' (1 / a overflows
  // float below 3e-39): y / a and a^(b - 1) may over- or underflow where the
  // slope does not (x^0.1's at 1.5e-44 in float; (x*x + 2)^-0.7's past 1e11,
  // where a' = 2x brings it back)
  NodeId ratio = g.is_const(da) ? b.mul(b.div(b.mul(exponent, y), a), da) : b.mul(b.mul(exponent, y), b.div(da, a));
  NodeId at_zero = b.mul(b.mul(exponent, b.fn(Op::Pow, b.c(0), g[written].args[1])), da);
  NodeId near = b.where(b.fn(Op::Eq, a, b.c(0)), at_zero, ratio);
  NodeId ay = b.fn(Op::Abs, y);
  NodeId tiny = b.fn(Op::And, b.fn(Op::Lt, ay, b.c(0x1p-126)), b.fn(Op::Ne, a, b.c(0)));
  NodeId far = b.mul(b.mul(exponent, written), da);
  return b.where(b.fn(Op::Or, tiny, b.fn(Op::Gt, ay, b.c(0x1p127))), far, near, true);
}

/// The slope of v / (T + b)^q and v / |v|^k, T = v v or |v|^p (p, q, k
/// constants, b free of the variable: d[b] none): v' (b + (1 - p q) T) / (D
/// w) with D the denominator and w = T + b, and v' (1 - k) / D. The quotient
/// rule's v'/D - v D'/D^2 cancels for large |v| (x / (1 + |x|^2.5)^0.4, the
/// power softsign: 9 ULP off at 3 in double, all digits past 1e6; b alone
/// is left for p q = 1). kNoNode where `den` is no such power of v.
NodeId power_sum_quotient_slope(Builder& b, NodeId v, NodeId dv, NodeId den, const std::vector<NodeId>& d) {
  Graph& g = b.g;
  const ir::Node n = g[den];  // a copy: the graph grows below
  auto abs_v = [&](NodeId t) { return g[t].op == Op::Abs && g[t].args[0] == v; };
  // The stabilizer's far form (power_of_sum): D = |v|^m (1 + u)^k, u = b / |v|^p:
  // v' ((1 - m) + u (1 - m + k p)) / (D (1 + u)), v' (u + 1 - m) / (D (1 + u)) for m = p k
  if (n.op == Op::Mul)
    for (int i = 0; i < 2; ++i) {
      const ir::Node pm = g[n.args[size_t(i)]], pr = g[n.args[size_t(1 - i)]];
      // |v|^m, or |v| itself (m = 1: simplify's x^1)
      NodeId m = abs_v(n.args[size_t(i)]) ? b.c(1) : pm.op == Op::Pow && abs_v(pm.args[0]) ? pm.args[1] : none;
      if (m == none || !g.is_const(m) || pr.op != Op::Pow || !g.is_const(pr.args[1]) || g[pr.args[0]].op != Op::Add ||
          !g.is_const(g[pr.args[0]].args[1], 1.0))
        continue;
      NodeId u = g[pr.args[0]].args[0];
      const ir::Node un = g[u];
      if (un.op != Op::Div || (un.args[0] < d.size() && d[un.args[0]] != none)) continue;
      const ir::Node t = g[un.args[1]];
      NodeId p = t.op == Op::Mul && abs_v(t.args[0]) && t.args[1] == t.args[0]  ? b.c(2)
                 : t.op == Op::Pow && abs_v(t.args[0]) && g.is_const(t.args[1]) ? t.args[1]
                                                                                : none;
      if (p == none) continue;
      NodeId one_less = b.sub(b.c(1), m);
      NodeId top = b.add(one_less, b.mul(u, b.add(one_less, b.mul(pr.args[1], p))));
      return b.mul(dv, b.div(top, b.mul(den, pr.args[0])));
    }
  if (n.op != Op::Pow || !g.is_const(n.args[1])) return none;
  NodeId q = n.args[1], base = n.args[0];
  auto power_of_v = [&](NodeId t) -> NodeId {  // p where t is v v (2) or |v|^p, else none
    const ir::Node& m = g[t];
    if (m.op == Op::Mul && m.args[0] == v && m.args[1] == v) return b.c(2);
    if (m.op == Op::Pow && g.is_const(m.args[1]) && g[m.args[0]].op == Op::Abs && g[m.args[0]].args[0] == v)
      return m.args[1];
    return none;
  };
  if (g[base].op == Op::Abs && g[base].args[0] == v)  // v / |v|^k
    return b.mul(dv, b.div(b.sub(b.c(1), q), den));
  if (g[base].op != Op::Add) return none;
  for (int i = 0; i < 2; ++i) {
    NodeId t = g[base].args[size_t(i)], shift = g[base].args[size_t(1 - i)];
    NodeId p = power_of_v(t);
    if (p == none || (shift < d.size() && d[shift] != none)) continue;
    NodeId top = b.add(shift, b.mul(b.sub(b.c(1), b.mul(p, q)), t));
    return b.mul(dv, b.div(top, b.mul(den, base)));
  }
  return none;
}

/// Is `n` a product with the factor `f` whose other factor is free of the
/// variable (d[k] none)?
bool scaled_by(const Graph& g, NodeId n, NodeId f, const std::vector<NodeId>& d) {
  const ir::Node& m = g[n];
  if (m.op != Op::Mul) return false;
  for (int i = 0; i < 2; ++i) {
    NodeId k = m.args[1 - i];
    if (m.args[i] == f && (k >= d.size() || d[k] == none)) return true;
  }
  return false;
}

/// a F'(a) - F(a) for F = t (F' by a), term by term over sums, negations,
/// constant multiples and where()s: a and |a| give 0 exactly (a F' - F
/// loses them to cancellation when formed as written), a constant c gives
/// -c, softplus(a) minus the gap above, expm1 and tanh their near-0 forms,
/// other terms a t' - t with t' by the differentiator, a as its variable.
/// none for 0.
NodeId euler(Builder& b, NodeId t, NodeId a, std::unordered_map<NodeId, NodeId>& memo) {
  if (auto it = memo.find(t); it != memo.end()) return it->second;
  const ir::Node n = b.g[t];  // copy: the graph grows below
  auto e = [&](int i) { return euler(b, n.args[i], a, memo); };
  NodeId r;
  if (t == a || (n.op == Op::Abs && n.args[0] == a)) {
    r = none;
  } else if (auto sp = ir::softplus_form(b.g, t); sp && sp->a == a && !sp->log_sigmoid) {
    r = b.neg(softplus_gap(b, *sp));  // a sigmoid(a) - softplus(a) on the forward's e (softplus's beta)
  } else if (b.g.is_const(t)) {
    r = b.g.const_value(t) == 0 ? none : b.c(-b.g.const_value(t));
  } else if (n.op == Op::Add) {
    r = b.add(e(0), e(1));
  } else if (n.op == Op::Sub) {
    r = b.sub(e(0), e(1));
  } else if (n.op == Op::Neg) {
    NodeId u = e(0);
    r = u == none ? none : b.neg(u);
  } else if (n.op == Op::Mul && (b.g.is_const(n.args[0]) || b.g.is_const(n.args[1]))) {
    int k = b.g.is_const(n.args[0]) ? 0 : 1;  // c u: c (a u' - u)
    r = b.mul(b.c(b.g.const_value(n.args[k])), e(1 - k));
  } else if (n.op == Op::Where) {
    r = b.where(n.args[0], e(1), e(2));
  } else if ((n.op == Op::Expm1 || n.op == Op::Tanh) && n.args[0] == a) {
    // Below |a| = 1 as a difference of terms of the same order: a e^a -
    // expm1(a) = a expm1(a) - (expm1(a) - a), a^2 and a^2/2 (celu's alpha
    // gradient; expm1(a) - a in the stabilizer's series), and a sech^2 a -
    // tanh a = (a - tanh a) - a tanh^2 a, a^3/3 and a^3 (tanhshrink is
    // exact there); as a t' - t they cancelled to the last bits (~6e7
    // float ULP at a = -3e-8). Beyond, a t' - t loses at most a few bits
    // (the near forms would lose ~|a|).
    NodeId near = n.op == Op::Expm1
                      ? b.sub(b.mul(a, t), simplify::stabilize(b.g, std::array{b.sub(t, a)})[0])
                      : b.sub(b.fn(Op::TanhShrink, a), b.mul(a, b.mul(t, t)));
    NodeId far = b.sub(b.mul(a, derivative(b.g, t, a)), t);
    r = b.where(b.fn(Op::Lt, b.fn(Op::Abs, a), b.c(1)), near, far);
  } else {
    r = b.sub(b.mul(a, derivative(b.g, t, a)), t);
  }
  return memo[t] = r;
}

/// The first node of f's DAG that `is_a` accepts, where every path from f
/// to the variable (a leaf with a derivative) passes through it; kNoNode
/// when there is none.
template <class Accept>
NodeId only_through(const Graph& g, NodeId f, const std::vector<NodeId>& d, Accept is_a) {
  NodeId a = none;
  for (NodeId id : g.reachable(std::array{f}))
    if (is_a(id)) {
      a = id;
      break;
    }
  if (a == none) return none;
  std::vector<NodeId> stack{f};
  std::vector<bool> seen(g.size(), false);
  while (!stack.empty()) {
    NodeId id = stack.back();
    stack.pop_back();
    if (id == a || seen[id]) continue;
    seen[id] = true;
    const ir::Node& n = g[id];
    if (n.arity == 0 && id < d.size() && d[id] != none) return none;  // the variable, not through a
    for (unsigned i = 0; i < n.arity; ++i) stack.push_back(n.args[i]);
  }
  return a;
}

/// The derivatives by a parameter of F(a) / b with a = k b and of t F(a)
/// with a = k / t, k free of the variable and F's only dependence on it
/// through a (log(cosh(k x)) / k, t tanh(x / t), celu's alpha expm1(x /
/// alpha)): b' (a F' - F) / b^2 and -t' (a F' - F), with a F' - F by
/// euler(). The quotient and product rules form the same as a difference of
/// terms that grow with a (x / k - x / k for log cosh far out: 0 past 1e10;
/// softplus's beta gradient 17% off at beta x = 15 in float).
std::optional<NodeId> scaled_derivative(Builder& b, NodeId y, const std::vector<NodeId>& d) {
  const Graph& g = b.g;
  const ir::Node n = g[y];
  auto varies = [&](NodeId id) { return id < d.size() && d[id] != none; };
  if (n.op == Op::Div && varies(n.args[1])) {
    NodeId den = n.args[1];
    NodeId a = only_through(g, n.args[0], d, [&](NodeId id) { return scaled_by(g, id, den, d); });
    if (a == none) return std::nullopt;
    std::unordered_map<NodeId, NodeId> memo;
    NodeId h = euler(b, n.args[0], a, memo);
    NodeId q = b.div(b.c(1), den);
    return h == none ? none : b.mul(b.mul(b.mul(h, q), q), d[den]);
  }
  if (n.op != Op::Mul) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    NodeId t = n.args[i], f = n.args[1 - i];
    if (!varies(t)) continue;
    NodeId a = only_through(g, f, d, [&](NodeId id) {
      const ir::Node& m = g[id];
      return m.op == Op::Div && m.args[1] == t && !varies(m.args[0]);
    });
    if (a == none) continue;
    std::unordered_map<NodeId, NodeId> memo;
    NodeId h = euler(b, f, a, memo);
    return h == none ? none : b.neg(b.mul(h, d[t]));
  }
  return std::nullopt;
}

/// Whether a function's argument `a` may pass |a| = 1e4 (a conservative
/// interval analysis of the function, made once when first asked).
struct LargeArguments {
  const Graph& g;
  NodeId root;
  std::optional<ir::Ranges> ranges;
  bool operator()(NodeId a) {
    if (!ranges) ranges.emplace(g, std::array{root}, ir::Precision::F64);
    ir::Interval r = (*ranges)[a];
    return r.lo < -1e4 || r.hi > 1e4;
  }
};

/// The chain factor a' of a function whose slope is exactly 0 past |a| =
/// 1e4 in both precisions (sigmoid's e / (1 + e)^2, tanh's sech^2, erf's
/// exp(-a^2)): where(|a| > 1e4, 0, a') where a' depends on the input and a
/// may pass 1e4, so that an a' that overflowed with a gives that 0, not
/// 0 * inf = NaN (tanh(x*x*x)'s slope was NaN past 1e103 in double,
/// sigmoid(exp(x))'s past 1e19 in float, erf(sinh(x))'s past 89). An a'
/// free of the input (a constant, a parameter's) is finite wherever a is;
/// so is k x (swish's slope by beta, sigmoid(beta x)'s x). (x*x's x + x is
/// not left out: x tanh(x*x)'s slope, the product rule's x sech^2(x*x) (x +
/// x) as the simplifier orders it, was NaN at 1e200 in double without it.)
/// With `side` +1 or -1, only past a = 1e4 or below -1e4 (softplus's slope
/// sigmoid(a) decays below, log(sigmoid(a))'s sigmoid(-a) above:
/// logsigmoid(exp(x))'s slope was NaN past 709.8 in double).
NodeId decayed_chain(Builder& b, LargeArguments& large, NodeId a, NodeId da, int side = 0) {
  if (da == none) return da;
  auto input_free = [&](NodeId n) { return ir::input_free(b.g, n); };
  NodeId v = da;
  while (b.g[v].op == Op::Neg || (b.g[v].op == Op::Mul && input_free(b.g[v].args[1]))) v = b.g[v].args[0];
  if (b.g[v].op == Op::Mul && input_free(b.g[v].args[0])) v = b.g[v].args[1];
  if (input_free(v) || b.g[v].op == Op::Input || !large(a)) return da;
  NodeId past = side > 0   ? b.fn(Op::Gt, a, b.c(1e4))
                : side < 0 ? b.fn(Op::Lt, a, b.c(-1e4))
                           : b.fn(Op::Gt, b.fn(Op::Abs, a), b.c(1e4));
  return b.where(past, b.c(0), da);
}

/// s exp(w) + k for a factor k +- t exp(w), t exp(w) +- k (k, t free of the
/// input; t may be 1), expm1(w) (s = 1, k = -1) or its negation.
struct ExpPlusConstant {
  NodeId w, k, s;
};
std::optional<ExpPlusConstant> exp_plus_constant(Graph& g, NodeId n) {
  const ir::Node m = g[n];
  // (w, t) for t exp(w) (the derivative's exp(w) * 1 before simplification)
  auto scaled_exp = [&](NodeId e) -> std::pair<NodeId, NodeId> {
    NodeId t = ir::constant(g, 1);
    if (const ir::Node p = g[e]; p.op == Op::Mul)
      for (int i = 0; i < 2; ++i)
        if (g[p.args[i]].op == Op::Exp && ir::input_free(g, p.args[1 - i])) {
          e = p.args[i];
          t = p.args[1 - i];
          break;
        }
    if (g[e].op != Op::Exp || ir::input_free(g, g[e].args[0])) return {none, none};
    return {g[e].args[0], t};
  };
  if (m.op == Op::Expm1 && !ir::input_free(g, m.args[0]))
    return ExpPlusConstant{m.args[0], ir::constant(g, -1), ir::constant(g, 1)};
  // -expm1(w), 0 - expm1(w) (1 - exp(w) as the stabilizer writes it)
  if (NodeId e = m.op == Op::Neg                                 ? m.args[0]
                 : m.op == Op::Sub && g.is_const(m.args[0], 0.0) ? m.args[1]
                                                                 : none;
      e != none && g[e].op == Op::Expm1 && !ir::input_free(g, g[e].args[0]))
    return ExpPlusConstant{g[e].args[0], ir::constant(g, 1), ir::constant(g, -1)};
  if (m.op != Op::Add && m.op != Op::Sub) return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    auto [w, t] = scaled_exp(m.args[i]);
    NodeId k = m.args[1 - i];
    if (w == none || !ir::input_free(g, k)) continue;
    if (m.op == Op::Add) return ExpPlusConstant{w, k, t};
    if (i == 0) return ExpPlusConstant{w, ir::unary(g, Op::Neg, k), t};  // t exp(w) - k
    return ExpPlusConstant{w, k, ir::unary(g, Op::Neg, t)};              // k - t exp(w)
  }
  return std::nullopt;
}

/// The slope of y = a / b for b = k + t exp(w) past w = 80, a' / b - y w'
/// t / (t + k exp(-w)) (b'/b without exp(w) itself): the quotient rule's y b'
/// is 0 * inf = NaN where exp(w) overflows (1 / (exp(x) - 1)'s slope past
/// 709.8 in double). where(w > 80, far, near) for the caller's near form (a
/// rare branch); near itself where b is not such a sum.
NodeId over_exp_plus_constant(Builder& b, NodeId y, NodeId da, NodeId bb, const std::vector<NodeId>& d, NodeId near) {
  auto s = exp_plus_constant(b.g, bb);
  if (!s || d[s->w] == none) return near;
  NodeId ratio = b.div(b.mul(d[s->w], s->s), b.add(s->s, b.mul(s->k, b.fn(Op::Exp, b.neg(s->w)))));
  NodeId yr = b.mul(y, ratio);
  NodeId far = da == none ? b.neg(yr) : b.sub(b.div(da, bb), yr);
  return b.where(b.fn(Op::Gt, s->w, b.c(ir::kExpDivSplit)), far, near, true);
}

/// exp(a)'s chain rule y a' (y = exp(a)) where a' has factors exp(w):
/// y exp(w) is 0 * inf = NaN where y underflows and exp(w) overflows, though
/// exp(a + w) is finite (the Gompertz function exp(-exp(-x))'s slope, exp(-x
/// - exp(-x)), was NaN below x = -709.8 in double; 1 - exp(-exp(x))'s past
/// 709.8). Past a = -80 or w = 80 the product is exp(a + w) times a''s other
/// factors, as a rare branch (one exp more there).
NodeId exp_chain(Builder& b, LargeArguments& large, NodeId y, NodeId a, NodeId da) {
  Graph& g = b.g;
  // (a' as decayed_chain's below a = -1e4, where exp(a) a' is 0 in both types
  // and a' may have overflowed: exp(-(x + x^3))'s slope was 0 * inf = NaN past
  // 1e103 in double)
  NodeId near = b.mul(y, decayed_chain(b, large, a, da, -1));
  if (near == none) return near;
  std::vector<NodeId> rest, exps;
  std::vector<std::pair<NodeId, ExpPlusConstant>> sums;
  double sign = 1;
  NodeId v = da;
  for (; g[v].op == Op::Neg; v = g[v].args[0]) sign = -sign;
  auto leaves = ir::product_leaves(g, v, 8);
  if (!leaves) return near;
  for (NodeId n : *leaves) {
    const ir::Node m = g[n];
    if (m.op == Op::Exp && !ir::input_free(g, m.args[0]))
      exps.push_back(m.args[0]);
    else if (auto sum = exp_plus_constant(g, n))
      sums.push_back({n, *sum});
    else
      rest.push_back(n);
  }
  if (exps.empty() && sums.empty()) return near;
  NodeId sum = a, cond = b.fn(Op::Lt, a, b.c(-ir::kExpDivSplit));
  for (NodeId w : exps) {
    sum = b.add(sum, w);
    cond = b.fn(Op::Or, cond, b.fn(Op::Gt, w, b.c(ir::kExpDivSplit)));
  }
  // s exp(w) + k = exp(w) (s + k exp(-w)) past w = 80, where exp(w) may
  // overflow (exp(x - exp(x))'s slope exp(x - exp(x)) (1 - exp(x)) was NaN
  // past 709.8 in double)
  for (auto& [f, e] : sums) {
    NodeId big = b.fn(Op::Gt, e.w, b.c(ir::kExpDivSplit));
    sum = b.add(sum, b.where(big, e.w, b.c(0)));
    NodeId scaled = b.add(e.s, b.mul(e.k, b.fn(Op::Exp, b.neg(e.w))));
    rest.push_back(b.where(big, scaled, f));
    cond = b.fn(Op::Or, cond, big);
  }
  NodeId far = b.fn(Op::Exp, sum);
  for (NodeId f : rest) far = b.mul(far, f);
  if (sign < 0) far = b.neg(far);
  return b.where(cond, far, near, true);
}

/// The derivative of y when y is one of the stable forms of forms.hpp (the
/// general rules would give each a second division, and sigmoid's where(c,
/// 0, 1) - y besides), else nullopt (none: symbolically zero).
std::optional<NodeId> form_derivative(Builder& b, NodeId y, const std::vector<NodeId>& d, LargeArguments& large) {
  if (auto s = ir::sigmoid_form(b.g, y)) {
    // sigmoid' = e / ((1 + e)(1 + e)) on the forward's e = exp(-|a|), the same
    // for both signs of a (as tanh's): one division and no blend, where the
    // quotient rule gives a second division and (where(c, 0, 1) - y) besides.
    // A backward without y needs no more. (e y y where a >= 0 and y (1 - y)
    // where a < 0, without a division but with three blends, measured slower:
    // sigmoid's backward 4.4 against 6.1 e/ns, swish's 3.1 against 3.4.)
    NodeId da = d[s->a];
    if (da == none) return none;
    NodeId one_plus = b.add(s->e, b.c(1));
    return b.mul(b.div(s->e, b.mul(one_plus, one_plus)), decayed_chain(b, large, s->a, da));
  }
  if (auto s = ir::shifted_softplus_form(b.g, y)) {
    // (softplus(a) - log 2)' = sigmoid(a), as softplus's: exp(-|a|) and one
    // division, no expm1 (the forward's) in the backward.
    NodeId da = d[s->a];
    if (da == none) return none;
    NodeId e = b.fn(Op::Exp, s->w);
    return b.mul(b.div(b.where(s->cond, b.c(1), e), b.add(e, b.c(1))), da);
  }
  if (auto s = ir::sech2_form(b.g, y)) {
    // (1 - tanh(a)^2)' = -2 tanh(a) (1 - tanh(a)^2): the quotient rule on
    // 4e / (1 + e)^2 leaves a factor 1 - e, which cancels near a = 0.
    // (Its chain factor 0 where the slope decays: 1 - tanh(expm1(x))^2's
    // slope was NaN past 709.8, 0 * inf: random_forms seed 5203.)
    NodeId da = d[s->a];
    if (da == none) return none;
    return b.mul(b.mul(b.mul(b.fn(Op::Tanh, s->a), y), b.c(-2)), decayed_chain(b, large, s->a, da));
  }
  if (auto s = ir::sqrt_shift_form(b.g, y); s && (s->b == ir::kNoNode || s->b >= d.size() || d[s->b] == none)) {
    // sqrt(v^2 + b) - sqrt(b), written v^2 / (r + k) for its value: the
    // derivative v / r (one division, a / sqrt's), not the quotient rule's
    // two; sqrt(u + b) - sqrt(b) as u / (r + k): u' / (2 r), not three.
    NodeId dv = d[s->v];
    if (dv == none) return none;
    if (!s->squared) return b.div(dv, b.mul(s->root, b.c(2)));
    return b.mul(b.div(s->v, s->root), dv);
  }
  if (auto s = simplify::difference_slope(b.g, y)) {
    // a - sin(a) and the like, a series near 0: their slopes in closed form
    // (2 sin(a/2)^2, ...), not the series' derivative.
    NodeId da = d[s->a];
    if (da == none) return none;
    return b.mul(s->slope, da);
  }
  if (auto s = ir::softplus_form(b.g, y)) {
    // softplus' = sigmoid(a) = where(c, 1, e) / (1 + e) on softplus's own e;
    // log(sigmoid(a))' = sigmoid(-a) = where(c, e, 1) / (1 + e).
    NodeId da = d[s->a];
    if (da == none) return none;
    NodeId num = s->log_sigmoid ? b.where(s->cond, s->e, b.c(1)) : b.where(s->cond, b.c(1), s->e);
    return b.mul(b.div(num, b.add(s->e, b.c(1))), decayed_chain(b, large, s->a, da, s->log_sigmoid ? 1 : -1));
  }
  return std::nullopt;
}

/// b and the radicand s = K a^2 + b where den is sqrt(s) or the
/// stabilizer's form of it (ir::root_radicand; the square's factors
/// a, a and others, K and b free of the variable: d has none for them);
/// else none twice.
std::pair<NodeId, NodeId> scaled_square_radicand(const Graph& g, NodeId a, NodeId den, const std::vector<NodeId>& d) {
  auto free = [&](NodeId n) { return n >= d.size() || d[n] == none; };
  auto root = ir::root_radicand(g, den);
  if (!root || (root->v != none && root->v != a) || g[root->s].op != Op::Add) return {none, none};
  NodeId sum = root->s;
  const ir::Node& s = g[sum];
  for (int side = 0; side < 2; ++side) {
    if (!free(s.args[1 - side])) continue;
    auto leaves = ir::product_leaves(g, s.args[side], 8);
    if (!leaves || std::count(leaves->begin(), leaves->end(), a) != 2) continue;
    if (std::all_of(leaves->begin(), leaves->end(), [&](NodeId f) { return f == a || free(f); }))
      return {s.args[1 - side], sum};
  }
  return {none, none};
}

/// A coefficient of a polynomial: a sum of terms k r, k a constant and r a
/// product of factors free of the variable (constants, parameters, and the
/// signs of the |u| in it, which are piecewise constant: |u| = sign(u) u);
/// r is none for 1. The constants are kept apart, so that their products
/// fold here (a Pade unit's sign(u) 0.7 0.02 is one product, not two).
struct Term {
  double k;
  NodeId r;
};
using Coefficient = std::vector<Term>;  // empty: 0
/// c[k] is the coefficient of v^k.
using Polynomial = std::vector<Coefficient>;
constexpr size_t kMaxPolynomialDegree = 16;

void add_term(Coefficient& c, Term t) {
  if (t.k == 0) return;
  for (Term& u : c)
    if (u.r == t.r) {
      u.k += t.k;
      return;
    }
  c.push_back(t);
}

Polynomial trimmed(Polynomial p) {
  for (Coefficient& c : p) std::erase_if(c, [](const Term& t) { return t.k == 0; });
  while (p.size() > 1 && p.back().empty()) p.pop_back();
  return p;
}

/// The factor of s t's term (none for 1; products in one operand order, so that equal ones are one node).
NodeId factor_product(Builder& b, const Term& s, const Term& t) {
  return s.r == none ? t.r : t.r == none ? s.r : b.mul(std::min(s.r, t.r), std::max(s.r, t.r));
}

Polynomial times(Builder& b, const Polynomial& p, const Polynomial& q) {
  Polynomial r(p.size() + q.size() - 1);
  for (size_t i = 0; i < p.size(); ++i)
    for (size_t j = 0; j < q.size(); ++j)
      for (const Term& s : p[i])
        for (const Term& t : q[j]) add_term(r[i + j], Term{s.k * t.k, factor_product(b, s, t)});
  return trimmed(r);
}

/// n as a polynomial in v (the derivative's variable) over sums, products,
/// negations, integer powers 2..8 and absolute values; nullopt for anything
/// else and past degree kMaxPolynomialDegree. `memo` holds the nodes seen
/// (a DAG's shared nodes once each).
using PolynomialMemo = std::unordered_map<NodeId, std::optional<Polynomial>>;
std::optional<Polynomial> polynomial_in(Builder& b, NodeId n, NodeId v, const std::vector<NodeId>& d,
                                        PolynomialMemo& memo) {
  if (n == v) return Polynomial{{}, {Term{1, none}}};
  if (n >= d.size() || d[n] == none) return Polynomial{{b.g.is_const(n) ? Term{b.g.const_value(n), none} : Term{1, n}}};
  if (auto it = memo.find(n); it != memo.end()) return it->second;
  const ir::Node node = b.g[n];  // copy: the graph grows below
  auto integer = [&](NodeId k) {
    return b.g.is_const(k) && b.g.const_value(k) >= 2 && b.g.const_value(k) <= 8 &&
           b.g.const_value(k) == std::floor(b.g.const_value(k));
  };
  bool binary = node.op == Op::Add || node.op == Op::Sub || node.op == Op::Mul;
  bool power = node.op == Op::Pow && integer(node.args[1]);
  // a / k for a constant k (x / 1.5: no power of two, so not a product)
  bool divided = node.op == Op::Div && b.g.is_const(node.args[1]) && std::isnormal(b.g.const_value(node.args[1]));
  if (!binary && !power && !divided && node.op != Op::Neg && node.op != Op::Abs) return memo[n] = std::nullopt;
  std::optional<Polynomial> p = polynomial_in(b, node.args[0], v, d, memo);
  std::optional<Polynomial> q = p && binary ? polynomial_in(b, node.args[1], v, d, memo) : std::nullopt;
  if (!p || (binary && !q)) return memo[n] = std::nullopt;
  size_t degree = p->size() - 1;
  if (node.op == Op::Mul) degree += q->size() - 1;
  if (power) degree *= size_t(b.g.const_value(node.args[1]));
  if (degree > kMaxPolynomialDegree) return memo[n] = std::nullopt;
  if (divided)
    for (Coefficient& c : *p)
      for (Term& t : c) t.k /= b.g.const_value(node.args[1]);
  if (node.op == Op::Neg || node.op == Op::Sub) {
    Polynomial& negated = node.op == Op::Neg ? *p : *q;
    for (Coefficient& c : negated)
      for (Term& t : c) t.k = -t.k;
  }
  if (node.op == Op::Abs) {
    NodeId s = b.fn(Op::Sign, node.args[0]);
    *p = times(b, *p, Polynomial{{Term{1, s}}});
  } else if (node.op == Op::Mul) {
    *p = times(b, *p, *q);
  } else if (binary) {
    p->resize(std::max(p->size(), q->size()));
    for (size_t k = 0; k < q->size(); ++k)
      for (const Term& t : (*q)[k]) add_term((*p)[k], t);
    *p = trimmed(*p);
  } else if (power) {
    Polynomial base = *p;
    for (int i = 1; i < int(b.g.const_value(node.args[1])); ++i) *p = times(b, *p, base);
  }
  return memo[n] = p;
}

/// The bound sum_t |k_t| of each coefficient of p, where its terms' other
/// factors are signs (|sign| <= 1); nullopt where one is not.
std::optional<std::vector<double>> coefficient_bounds(const Graph& g, const Polynomial& p) {
  std::vector<double> magnitude;
  for (const Coefficient& c : p) {
    double m = 0;
    for (const Term& t : c) {
      auto factors =
          t.r == none ? std::optional<std::vector<NodeId>>(std::vector<NodeId>{}) : ir::product_leaves(g, t.r, 8);
      if (!factors || !std::all_of(factors->begin(), factors->end(), [&](NodeId f) { return g[f].op == Op::Sign; }))
        return std::nullopt;
      m += std::fabs(t.k);
    }
    magnitude.push_back(m);
  }
  return magnitude;
}

/// The largest 2^e, e <= 32, to which |v| may go with p's terms (Horner's
/// partial sums too) within 2^100, well inside float's range: from the
/// coefficients' constants where their other factors are signs
/// (coefficient_bounds), else 2^min(32, 96 / degree), as for the
/// stabilizer's far forms (coefficients up to 2^32).
double finite_reach(const Graph& g, const Polynomial& p) {
  size_t degree = p.size() - 1;
  std::optional<std::vector<double>> bounds = coefficient_bounds(g, p);
  if (!bounds) return std::ldexp(1.0, int(std::min(32.0, std::floor(96.0 / double(std::max<size_t>(degree, 1))))));
  const std::vector<double>& magnitude = *bounds;
  for (int e = 32; e > 0; --e) {
    double sum = 0, t = std::ldexp(1.0, e);
    for (size_t k = 0; k < magnitude.size(); ++k) sum += magnitude[k] * std::pow(t, double(k));
    if (sum <= 0x1p100) return t;
  }
  return 1;
}

/// Whether R = N' D - N D' as collected (`r`, Horner's sum of its
/// monomials) cancels far more than the quotient rule's own terms at some
/// |v| up to `reach`: its terms' magnitude sum_k |r_k| |v|^k over 64 times
/// |N'| |D| + |N| |D'| at +-2^e and +-1.5 2^e (`n_d_dn_dd`: N, D and their
/// slopes, by the reference evaluator). Then its steps take double in float
/// kernels (kWideSum). Not where v is not the input or a parameter is
/// among the terms (their size unknown here: the sum stays as it is).
bool collected_cancels(const Graph& g, const Polynomial& r, NodeId v, std::array<NodeId, 4> n_d_dn_dd, double reach) {
  if (g[v].op != Op::Input || std::find(n_d_dn_dd.begin(), n_d_dn_dd.end(), none) != n_d_dn_dd.end()) return false;
  for (NodeId id : g.reachable(std::vector<NodeId>(n_d_dn_dd.begin(), n_d_dn_dd.end())))
    if (g[id].op == Op::Param || g[id].op == Op::Cotangent) return false;
  std::optional<std::vector<double>> bounds = coefficient_bounds(g, r);
  if (!bounds) return false;
  const std::vector<double>& magnitude = *bounds;
  for (int e = -12; e <= 32 && std::ldexp(1.0, e) <= reach; ++e)
    for (double x : {std::ldexp(1.0, e), -std::ldexp(1.0, e), 1.5 * std::ldexp(1.0, e), -1.5 * std::ldexp(1.0, e)}) {
      double terms = 0;
      for (size_t k = magnitude.size(); k-- > 0;) terms = terms * std::fabs(x) + magnitude[k];
      std::vector<double> at = ir::evaluate<double>(g, n_d_dn_dd, x, {});
      double scale = std::fabs(at[2] * at[1]) + std::fabs(at[0] * at[3]);
      if (std::isfinite(terms) && terms > 64 * scale) return true;
    }
  return false;
}

/// A coefficient as a node (none for 0).
NodeId coefficient_node(Builder& b, const Coefficient& c) {
  NodeId sum = none;
  for (const Term& t : c)
    sum = b.add(sum, t.r == none ? b.c(t.k) : t.k == 1 ? t.r : t.k == -1 ? b.neg(t.r) : b.mul(t.r, b.c(t.k)));
  return sum;
}

/// The derivative of y = N / D for polynomials N and D in the variable v
/// (polynomial_in), D of degree q >= 1, N of degree >= 1, either of degree 2
/// or more: R / D / D with R = N' D - N D' collected, sum_(i != j) (i - j)
/// n_i d_j v^(i + j - 1), so that the terms that cancel (i = j:
/// the leading ones where the degrees are equal) are left out exactly. The
/// quotient rule's (N' - y D') / D cancels where y tends to a constant:
/// x^3 / (1 + |x|^3)'s slope was 606 float ULP off at x = 10 and 100% at
/// 1e5. Past the reach where R or D could leave float's range
/// (finite_reach), if that is nearer than the quotient's far-form switch
/// (the stabilizer's 2^min(32, 96 / degree), over_polynomial), the quotient
/// rule, as a rare branch. nullopt where y is no such quotient; none where
/// R is 0.
std::optional<NodeId> polynomial_quotient_slope(Builder& b, NodeId y, NodeId v, const std::vector<NodeId>& d) {
  const ir::Node n = b.g[y];  // copy: the graph grows below
  PolynomialMemo memo;
  // The denominator first: most quotients (1 + exp(...)) fail there at once.
  std::optional<Polynomial> den = polynomial_in(b, n.args[1], v, d, memo);
  std::optional<Polynomial> num = den ? polynomial_in(b, n.args[0], v, d, memo) : std::nullopt;
  if (!num) return std::nullopt;
  size_t p = num->size() - 1, q = den->size() - 1;
  if (p < 1 || q < 1 || std::max(p, q) < 2) return std::nullopt;
  Polynomial r(p + q);
  for (size_t i = 0; i <= p; ++i)
    for (size_t j = 0; j <= q; ++j)
      if (i != j && i + j >= 1)
        for (const Term& s : (*num)[i])
          for (const Term& t : (*den)[j])
            add_term(r[i + j - 1], Term{(double(i) - double(j)) * s.k * t.k, factor_product(b, s, t)});
  r = trimmed(r);
  if (r.size() == 1 && r[0].empty()) return none;
  // R by Horner's rule, as sum_s s R_s(v) where the terms' signs s (a Pade
  // unit's sign(u), or none) are one or two in all: a multiply-add a degree,
  // the coefficients free of v otherwise (parameters' products: hoisted out
  // of the kernel's loop). Where R's terms can be far larger than R at
  // moderate v (the collected form's own cancellation: collected_cancels),
  // its steps are marked kWideSum, and float kernels take the sum in double.
  double near = std::min(finite_reach(b.g, r), finite_reach(b.g, *den));
  const double mark =
      collected_cancels(b.g, r, v, {n.args[0], n.args[1], d[n.args[0]], d[n.args[1]]}, near) ? ir::kWideSum : 0;
  auto horner = [&](const Polynomial& c) {
    NodeId h = coefficient_node(b, c.back());
    for (size_t k = c.size() - 1; k-- > 0;) {
      NodeId step = b.mul(h, v), coefficient = coefficient_node(b, c[k]);
      h = coefficient == none ? step : b.g.make(Op::Add, std::array{step, coefficient}, mark);
    }
    return h;
  };
  std::vector<std::pair<std::vector<NodeId>, Polynomial>> by_sign;  // the sign factors, sorted, and their part
  for (size_t k = 0; k < r.size(); ++k)
    for (const Term& t : r[k]) {
      std::vector<NodeId> signs, rest;
      std::vector<NodeId> factors;
      if (t.r != none) factors = ir::product_leaves(b.g, t.r, 64).value_or(std::vector<NodeId>{t.r});
      for (NodeId f : factors) (b.g[f].op == Op::Sign ? signs : rest).push_back(f);
      std::sort(signs.begin(), signs.end());
      auto it = std::find_if(by_sign.begin(), by_sign.end(), [&](const auto& e) { return e.first == signs; });
      if (it == by_sign.end()) it = by_sign.insert(by_sign.end(), {signs, Polynomial(r.size())});
      NodeId other = none;
      for (NodeId f : rest) other = other == none ? f : b.mul(other, f);
      add_term(it->second[k], Term{t.k, other});
    }
  NodeId collected = none;
  if (by_sign.size() > 2) {
    collected = horner(r);
  } else {
    for (auto& [signs, part] : by_sign) {
      NodeId h = horner(trimmed(part));
      for (NodeId f : signs) h = b.mul(h, f);
      // (the parts' sum in double too: they may cancel)
      collected = collected == none ? h : b.g.make(Op::Add, std::array{collected, h}, mark);
    }
  }
  // R / D / D: R (1/D) (1/D) is a product the simplifier may order as
  // x (1/D) (x (1/D) 3) for R = 3x^2, whose partial products underflow
  // (x^3 / (1 + |x|^3)'s float slope was 0 past 1e9).
  collected = b.mul(b.div(b.div(collected, n.args[1]), n.args[1]), d[v]);
  if (near >= std::ldexp(1.0, int(std::min(32.0, std::floor(96.0 / double(std::max(p, q))))))) return collected;
  NodeId rule = b.div(b.sub(d[n.args[0]], b.mul(y, d[n.args[1]])), n.args[1]);
  return b.where(b.fn(Op::Gt, b.fn(Op::Abs, v), b.c(near)), rule, collected, true);
}

}  // namespace

NodeId derivative(Graph& g, NodeId root, NodeId var) {
  Builder b{g};
  std::vector<NodeId> order = g.reachable(std::array{root});
  std::vector<NodeId> d(root + 1, none);
  const double two_over_sqrt_pi = 2 / std::sqrt(std::numbers::pi);
  const std::unordered_set<NodeId> inner_levels = ir::horner_inner_levels(g, order);
  LargeArguments large{g, root, std::nullopt};
  // The chain factor of an a = exp(w) whose slope decays faster than a
  // grows (tanh's sech^2(a) = 4 exp(-2a) / ..., erf's exp(-a^2)): a' = a w'
  // with a capped at 1e4, past which that slope is 0 in both precisions.
  // Uncapped, a overflowed where the slope underflowed to 0: 0 * inf, NaN
  // (x tanh(exp(x)), TanhExp, from x = 710 in double). The cap keeps the
  // product's shape (Emitter's tanh-plus-sech^2 sums).
  // Also a = k exp(w) for a constant k > 0 (ErfAct, x erf(k exp(b x)): NaN
  // slopes past x = 1e5): a' = a w' alike.
  auto capped_chain = [&](NodeId a, NodeId da) {
    NodeId e = a;
    if (g[a].op == Op::Mul && g.is_const(g[a].args[1]) && g.const_value(g[a].args[1]) > 0) e = g[a].args[0];
    if (g[e].op != Op::Exp) return decayed_chain(b, large, a, da);
    NodeId dw = d[g[e].args[0]];  // (a copy: the builder below may move the graph's nodes)
    if (dw == none) return da;
    NodeId capped = b.fn(Op::Min, a, b.c(1e4));
    return b.mul(capped, dw);
  };
  for (NodeId id : order) {
    if (id == var) {  // the variable itself (also a node inside the function: scaled_derivative's a)
      d[id] = b.c(1);
      continue;
    }
    // A series c0 + z (c1 + z (c2 + ...)) (the stabilizer's): P'(z) z' with
    // P' as a chain of its own (k ck), one multiply-add a term where the
    // product rule level by level took three, and which the lowering cuts
    // to the precision as it does P (Emitter::cut_series).
    if (!inner_levels.count(id))
      if (auto chain = ir::horner_chain(g, id, kShortestSeries)) {
        NodeId dz = chain->z < d.size() ? d[chain->z] : none;
        std::vector<double> slope;
        for (size_t k = 1; k < chain->c.size(); ++k) slope.push_back(double(k) * chain->c[k]);
        d[id] = dz == none ? none : b.mul(ir::horner(g, chain->z, slope), dz);
        continue;
      }
    const ir::Node n = g[id];  // copy: g grows below
    NodeId y = id;
    NodeId a = n.args[0], bb = n.args[1];
    NodeId da = n.arity > 0 ? d[a] : none, db = n.arity > 1 ? d[bb] : none;
    if (std::optional<NodeId> form = form_derivative(b, id, d, large)) {
      d[id] = *form;
      continue;
    }
    if (g[var].op == Op::Param)
      if (std::optional<NodeId> scaled = scaled_derivative(b, id, d)) {
        d[id] = *scaled;
        continue;
      }
    NodeId r = none;
    switch (n.op) {
      case Op::Const:
      case Op::CondConst:
      case Op::Cotangent:
      case Op::StopGrad:
        break;
      case Op::Sum:
      case Op::Mean:
      case Op::RowMax:
      case Op::RowMin:
        r = id == var ? b.c(1) : none;  // a reduction is a variable of its own (see vjp)
        break;
      case Op::Input:
      case Op::Param:
        r = id == var ? b.c(1) : none;  // dx/dx = 1
        break;
      case Op::Neg: r = da == none ? none : b.neg(da); break;    // d(-a) = -a'
      case Op::Add: r = b.add(da, db); break;                    // d(a+b) = a' + b'
      case Op::Sub: r = b.sub(da, db); break;                    // d(a-b) = a' - b'
      case Op::Mul: r = b.add(b.mul(da, bb), b.mul(a, db)); break;  // d(ab) = a'b + ab'
      case Op::Div: {                                            // d(a/b) = (a' - y b') / b
        // a' = where(c, 0, b') (sigmoid's where(x >= 0, 1, e) / (1 + e)):
        // b' (where(c, 0, 1) - y), which never forms y b' ~ e^2 (it
        // underflows to subnormal numbers, slow on every x86, long before
        // the derivative does).
        const ir::Node w = g[da == none ? root : da];  // copies: the graph grows below
        bool shared = da != none && db != none && w.op == Op::Where &&
                      ((w.args[2] == db && g.is_const(w.args[1]) && g.const_value(w.args[1]) == 0) ||
                       (w.args[1] == db && g.is_const(w.args[2]) && g.const_value(w.args[2]) == 0));
        auto root = ir::root_of_square_sum(g, bb);
        if (root && root->v == a && da != none && (root->b >= d.size() || d[root->b] == none)) {
          // v / sqrt(v^2 + b), b free of the variable (the algebraic sigmoid, ISRU): the
          // quotient rule's (S - v v / S) / S^2 cancels for |v| >> b (1.3%
          // off at x = 1000 in float); it is b / S^3 exactly, b / (S s) with
          // s = v^2 + b the root's argument (fewer roundings than S S S). b may
          // be a parameter's expression (ISRU with a learned a, as rewritten).
          NodeId s2 = b.add(b.mul(a, a), root->b);
          r = b.mul(da, b.div(root->b, b.mul(bb, s2)));
        } else if (auto [rb, rs] = scaled_square_radicand(g, a, bb, d); da != none && rb != none) {
          // a / sqrt(K a^2 + b), K and b free of the variable (ISRU with a
          // learned K): the quotient rule cancels as above (4.6% off at x =
          // 1000 in float); it is b / (S s), s the radicand.
          r = b.mul(da, b.div(rb, b.mul(bb, rs)));
        } else if (NodeId k = shifted_denominator(g, a, bb, d); da != none && k != none) {
          // a / (a + k) (mish's rational in e^x) and a / (|a| + k) (softsign),
          // k free of the variable: the quotient rule's a'(a + k) - a a' (or
          // a sign(a) a') is k a' exactly, which the rounded forms lose to
          // cancellation where y is near 1 (mish's backward: y rounds to 1
          // above x = 8, where the derivative is 1 + 4x e^-2x: 8 ULP off):
          // (a' q)(k q) with q = 1 / (a + k), one division; neither product
          // over- or underflows where a' ~ a, as a q q could.
          NodeId q = b.div(b.c(1), bb);
          r = b.mul(b.mul(da, q), b.mul(k, q));
        } else if (NodeId ts = da == none ? none : tangent_quotient_slope(b, a, bb, d); ts != none) {
          r = ts;  // u(v) / (v + k): tanh(x) / (x + 1e-7)
        } else if (NodeId ps = da == none ? none : power_sum_quotient_slope(b, a, da, bb, d); ps != none) {
          r = ps;  // v / (|v|^p + b)^q, v / |v|^k
        } else if (da == none && db != none && g.is_const(a) && g.const_value(a) != 0) {
          // c / b: -c b' / b^2 = b' y (-y / c), no second division (1/c is
          // rounded once; y^2 / c over- and underflows where c / b^2 does).
          r = over_exp_plus_constant(b, y, none, bb, d, b.mul(b.mul(db, y), b.mul(y, b.c(-1 / g.const_value(a)))));
        } else if (std::optional<NodeId> collected = polynomial_quotient_slope(b, y, var, d)) {
          r = *collected;
        } else if (const ir::Node e = g[bb]; e.op == Op::Exp && d[e.args[0]] != none) {
          // a / exp(w): a' / exp(w) - y w', without the quotient rule's y exp(w) w',
          // inf * 0 = NaN where exp(w) overflows (x / exp(x)'s slope past 709.8 in
          // double); one product fewer.
          NodeId yw = b.mul(y, d[e.args[0]]);
          r = da == none ? b.neg(yw) : b.sub(b.div(da, bb), yw);
        } else if (auto sum = exp_plus_constant(g, bb); sum && d[sum->w] != none) {
          r = over_exp_plus_constant(b, y, da, bb, d, ir::binary(g, Op::Div, b.sub(da, b.mul(y, db)), bb));
        } else if (shared) {
          NodeId selector = w.args[2] == db ? ir::where(g, w.args[0], b.c(0), b.c(1)) : ir::where(g, w.args[0], b.c(1), b.c(0));
          r = b.div(b.mul(db, b.sub(selector, y)), bb);
        } else {
          // (y b' as 0 where y is: y, the input's a over a b that grows, underflowed
          // where b' may have overflowed, 0 * inf = NaN: sigmoid(x) / (P^2 + 1)'s slope
          // far out, where it is 0)
          NodeId yb = db == none ? none : b.mul(y, db);
          if (yb != none && !ir::input_free(g, a) && !ir::input_free(g, db) && large(bb))
            yb = b.where(b.fn(Op::Eq, y, b.c(0)), b.c(0), yb);
          r = db == none ? b.div(da, bb) : ir::binary(g, Op::Div, b.sub(da, yb), bb);
        }
        break;
      }
      case Op::Pow: {
        // d(a^b) = b a^(b-1) a' + a^b log(a) b'  (each term only if its factor exists)
        NodeId t1 = none, t2 = none;
        if (da != none) t1 = power_slope(b, y, a, bb, da);
        if (db != none) t2 = b.mul(b.mul(y, b.fn(Op::Log, a)), db);
        r = b.add(t1, t2);
        break;
      }
      case Op::Exp:
        r = exp_chain(b, large, y, a, da);
        break;  // exp' = exp
      case Op::Expm1:
        r = exp_chain(b, large, b.fn(Op::Exp, a), a, da);
        break;                                                               // expm1' = exp (not expm1 + 1: cancels)
      case Op::ExpDiv:                                                       // (exp(a)/b)' = y (a' - b'/b)
        r = b.mul(y, b.sub(da, b.div(db, bb)));
        break;
      case Op::Log: r = b.div(da, a); break;                                 // log' = 1/a
      case Op::Log1p: r = b.div(da, b.add(a, b.c(1))); break;                // log1p' = 1/(1+a)
      case Op::Sqrt: r = b.div(da, b.mul(y, b.c(2))); break;                 // sqrt' = 1/(2 sqrt)
      case Op::Abs: r = b.mul(b.fn(Op::Sign, a), da); break;                 // abs' = sign, 0 at 0
      case Op::Sign:
      case Op::Floor:
      case Op::Ceil:
      case Op::Round:
        break;                                                               // piecewise constant: 0
      case Op::Min: r = b.where(b.fn(Op::Lt, a, bb), da, db); break;         // min = where(a < b, a, b)
      case Op::Max: r = b.where(b.fn(Op::Gt, a, bb), da, db); break;         // max = where(a > b, a, b)
      case Op::Sin: r = b.mul(b.fn(Op::Cos, a), da); break;                  // sin' = cos
      case Op::Cos: r = da == none ? none : b.neg(b.mul(b.fn(Op::Sin, a), da)); break;  // cos' = -sin
      case Op::Tan: r = b.mul(b.add(b.c(1), b.mul(y, y)), da); break;        // tan' = 1 + tan^2
      case Op::Sinh: r = b.mul(b.fn(Op::Cosh, a), da); break;                // sinh' = cosh
      case Op::Cosh: r = b.mul(b.fn(Op::Sinh, a), da); break;                // cosh' = sinh
      case Op::Tanh: {  // tanh' = 1 - tanh^2 = 4e / (1 + e)^2, e = exp(-2|a|)
        // 1 - tanh^2 cancels (tanh's own rounding is all that is left of it
        // near 1, ~1e-7 absolute); this form keeps a few ULP everywhere.
        r = b.mul(ir::sech2(b.g, a), capped_chain(a, da));
        break;
      }
      case Op::TanhShrink: {  // (a - tanh a)' = 1 - (1 - tanh^2 a) = tanh^2 a: nothing cancels
        NodeId t = b.fn(Op::Tanh, a);
        r = b.mul(b.mul(t, t), da);
        break;
      }
      case Op::Asinh: {  // asinh' = 1/sqrt(a^2 + 1), that is 1/|a| past |a| = 2^27 (a^2 overflows later)
        NodeId ax = b.fn(Op::Abs, a);
        NodeId root = b.where(b.fn(Op::Gt, ax, b.c(0x1p27)), ax, b.fn(Op::Sqrt, b.add(b.mul(a, a), b.c(1))));
        r = b.div(da, root);
        // of exp(w): a' / |a| is w', where a' = exp(w) w' overflowed with a (inf / inf)
        if (const ir::Node e = g[a]; e.op == Op::Exp && d[e.args[0]] != none)
          r = b.where(b.fn(Op::Gt, e.args[0], b.c(ir::kExpDivSplit)), d[e.args[0]], r, true);
        break;
      }
      case Op::Atan:  // atan' = 1/(1 + a^2)
        if (const ir::Node e = g[a]; e.op == Op::Sinh) {
          // atan(sinh(w))' = w' / cosh(w) (the Gudermannian): 1 + sinh^2 = cosh^2 exactly,
          // where sinh(w)^2 overflowed (cosh / inf = 0 past 44 in float, 3.9e-22 at 50)
          r = b.div(d[e.args[0]], b.fn(Op::Cosh, e.args[0]));
          break;
        }
        r = b.div(da, b.add(b.c(1), b.mul(a, a)));
        // past |a| = 2^27, where 1 + a^2 rounds to a^2, (a' / a) / a: a^2 overflows first
        // (atan(x^3)'s slope was 0 at 1e60 in double, 3e-240 true, and NaN at 1e200 as inf
        // / inf); 0 where a itself is inf (a' / a^2 of a growing a: x atan(x^3)'s slope
        // was NaN at 1e200, pi/2 true), a rare branch
        if (da != none) {
          NodeId ax = b.fn(Op::Abs, a);
          NodeId far = b.where(b.fn(Op::Lt, ax, b.c(HUGE_VAL)), b.div(b.div(da, a), a), b.c(0));
          r = b.where(b.fn(Op::Gt, ax, b.c(0x1p27)), far, r, true);
        }
        // of exp(w): w' exp(-w) past w = 80, where 1 + a^2 is a^2 (x atan(exp(x))'s
        // slope was inf / inf = NaN past 709.8 in double, 0 from 44 in float)
        if (const ir::Node e = g[a]; e.op == Op::Exp && d[e.args[0]] != none)
          r = b.where(b.fn(Op::Gt, e.args[0], b.c(ir::kExpDivSplit)),
                      b.mul(d[e.args[0]], b.fn(Op::Exp, b.neg(e.args[0]))), r, true);
        break;
      case Op::Erf:                                                          // erf' = 2/sqrt(pi) exp(-a^2)
        r = b.mul(b.mul(b.c(two_over_sqrt_pi), b.fn(Op::Exp, b.neg(b.mul(a, a)))), capped_chain(a, da));
        break;
      case Op::Erfc:                                                         // erfc' = -2/sqrt(pi) exp(-a^2)
        r = b.mul(b.mul(b.c(-two_over_sqrt_pi), b.fn(Op::Exp, b.neg(b.mul(a, a)))), capped_chain(a, da));
        break;
      case Op::Where:
        r = b.where(a, db, d[n.args[2]], n.value == 1);
        break;  // branch-wise (a rare branch's too)
      case Op::Lt:
      case Op::Le:
      case Op::Gt:
      case Op::Ge:
      case Op::Eq:
      case Op::Ne:
      case Op::And:
      case Op::Or:
      case Op::Not:
        break;                                                               // conditions: no derivative
    }
    d[id] = r;
  }
  return b.or_zero(d[root]);
}

}  // namespace actjit::diff
