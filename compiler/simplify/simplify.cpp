// Simplification rules (see simplify.hpp). One rule per line, each with the
// identity it applies; all are exact in IEEE arithmetic.
#include "compiler/simplify/simplify.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cfloat>
#include <cmath>
#include <functional>
#include <tuple>

#include "compiler/ir/eval.hpp"
#include "compiler/ir/exact.hpp"

namespace actjit::simplify {

using ir::Graph;
using ir::NodeId;
using ir::Op;

namespace {

NodeId make(Graph& g, Op op, std::initializer_list<NodeId> args) {
  return rewrite(g, op, std::span<const NodeId>(args.begin(), args.size()));
}

/// A constant's exact value as hi + lo (a double-double, ir::Exact):
/// constant expressions fold to about 104 bits, so a constant such as 2 *
/// sqrt(2 / pi) keeps the rest of its exact value over its double leaves
/// (Node::lo) for the kernels that need it.
using ir::Exact;
using ir::quick_two_sum;
using ir::two_sum;
Exact two_product(double a, double b) {
  double p = a * b;
  return {p, std::fma(a, b, -p)};
}
Exact add(Exact x, Exact y) {
  Exact s = two_sum(x.hi, y.hi);
  return quick_two_sum(s.hi, s.lo + (x.lo + y.lo));
}
Exact mul(Exact x, Exact y) {
  Exact p = two_product(x.hi, y.hi);
  return quick_two_sum(p.hi, p.lo + (x.hi * y.lo + x.lo * y.hi));
}
Exact div(Exact x, Exact y) {
  double q = x.hi / y.hi;
  Exact r = add(x, mul(y, {-q, 0}));  // x - q y
  return quick_two_sum(q, r.hi / y.hi);
}
Exact sqrt(Exact x) {
  double s = std::sqrt(x.hi);
  Exact r = add(x, mul({-s, 0}, {s, 0}));  // x - s s
  return quick_two_sum(s, r.hi / (2 * s));
}

/// `op` of constants a and b folded as double-doubles, for the arithmetic
/// ops; false (fold in double) for other ops and where a value or the
/// result leaves the range in which the error terms are exact.
bool fold_exact(Op op, Exact a, Exact b, Exact& out) {
  auto ok = [](Exact e) { return std::isfinite(e.hi) && (e.hi == 0 || std::fabs(e.hi) >= 0x1p-900) && std::fabs(e.hi) <= 0x1p900; };
  if (!ok(a) || !ok(b)) return false;
  switch (op) {
    case Op::Add: out = add(a, b); break;
    case Op::Sub: out = add(a, {-b.hi, -b.lo}); break;
    case Op::Mul: out = mul(a, b); break;
    case Op::Div:
      if (b.hi == 0) return false;
      out = div(a, b);
      break;
    case Op::Neg: out = {-a.hi, -a.lo}; break;
    case Op::Sqrt:
      if (a.hi <= 0) return false;
      out = sqrt(a);
      break;
    default: return false;
  }
  return ok(out) && out.hi != 0;
}

/// The constant op(a, b) (b ignored for unary ops), folded exactly where
/// fold_exact can, else by the reference evaluator in double; kNoNode (not
/// folded) for exp, expm1, sinh, cosh and pow of finite constants whose
/// double value overflows or underflows: the stability rewrites may still
/// find the expression's value (log(1 + exp(1000)) is 1000, as the kernel
/// of log(1 + exp(x)) gives at 1000), and the kernel computes what is left.
NodeId fold(Graph& g, Op op, NodeId a, NodeId b = ir::kNoNode) {
  auto exact = [&](NodeId id) { return Exact{g.const_value(id), g[id].op == Op::Const ? g.const_lo(id) : 0}; };
  const ir::OpInfo& info = ir::info(op);
  double va = g.const_value(a), vb = info.arity > 1 ? g.const_value(b) : 0;
  double v = ir::apply<double>(op, va, vb, 0);
  if (info.flags & ir::Condition) return g.make(Op::CondConst, {}, v != 0 ? 1 : 0);
  bool grows = op == Op::Exp || op == Op::Expm1 || op == Op::Sinh || op == Op::Cosh || op == Op::Pow;
  if (grows && std::isfinite(va) && std::isfinite(vb) && (std::isinf(v) || (std::fabs(v) < DBL_MIN && va != 0)))
    return ir::kNoNode;
  Exact r{};
  // Exact where fold_exact is (also where double arithmetic cancels to 0:
  // sqrt(1e-18 + 1) - 1 is 5e-19); zeros (their signs), infinities and NaN
  // as IEEE double arithmetic has them.
  if (std::isfinite(v) && fold_exact(op, exact(a), info.arity > 1 ? exact(b) : Exact{0, 0}, r))
    return ir::constant(g, r.hi, r.lo);
  return ir::constant(g, v);
}

bool is_power_of_two(double c) {
  int e;
  return std::isfinite(c) && c != 0 && std::fabs(std::frexp(c, &e)) == 0.5 && e > -1000 && e < 1000;
}

/// n / p where n is a multiple of parameter p by its form (p, p * m, m / d
/// of one, -n, sums, differences and wheres of them, 0), without p; else
/// kNoNode. A derivative divides by p what the chain rule multiplied by p:
/// softplus's (where(bx > 0, b, 0) + e where(bx > 0, -b, b) / (e + 1)) / b.
/// Exact in real arithmetic for p != 0 (for p = 0, inf or NaN the
/// original is NaN where this is not; such a parameter makes the function
/// itself inf or NaN). Applied to derivatives only (cancel_parameters): a
/// user's own forward keeps its NaN.
NodeId over_param(Graph& g, NodeId n, NodeId p, int depth = 0) {
  if (n == p) return ir::constant(g, 1.0);
  if (g.is_const(n, 0.0)) return n;
  if (depth > 8) return ir::kNoNode;
  const ir::Node node = g[n];
  auto over = [&](NodeId m) { return over_param(g, m, p, depth + 1); };
  switch (node.op) {
    case Op::Neg: {
      NodeId r = over(node.args[0]);
      return r == ir::kNoNode ? r : make(g, Op::Neg, {r});
    }
    case Op::Mul: {
      NodeId r = over(node.args[0]);
      if (r != ir::kNoNode) return make(g, Op::Mul, {r, node.args[1]});
      r = over(node.args[1]);
      return r == ir::kNoNode ? r : make(g, Op::Mul, {node.args[0], r});
    }
    case Op::Div: {
      NodeId r = over(node.args[0]);
      return r == ir::kNoNode ? r : make(g, Op::Div, {r, node.args[1]});
    }
    case Op::Add:
    case Op::Sub: {
      NodeId x = over(node.args[0]);
      NodeId y = x == ir::kNoNode ? x : over(node.args[1]);
      return y == ir::kNoNode ? y : make(g, node.op, {x, y});
    }
    case Op::Where: {
      NodeId x = over(node.args[1]);
      NodeId y = x == ir::kNoNode ? x : over(node.args[2]);
      return y == ir::kNoNode ? y : make(g, Op::Where, {node.args[0], x, y});
    }
    default: return ir::kNoNode;
  }
}

}  // namespace

NodeId rewrite(Graph& g, Op op, std::span<const NodeId> in, double value, double lo) {
  const ir::OpInfo& info = ir::info(op);
  if (info.flags & ir::Leaf) return g.make(op, {}, value, lo);
  std::array<NodeId, 3> a{ir::kNoNode, ir::kNoNode, ir::kNoNode};
  for (size_t i = 0; i < in.size(); ++i) a[i] = in[i];
  auto is_c = [&](NodeId id) { return g[id].op == Op::Const || g[id].op == Op::CondConst; };
  auto c = [&](NodeId id) { return g.const_value(id); };
  auto is = [&](NodeId id, double v) { return g.is_const(id, v); };
  auto op_of = [&](NodeId id) { return g[id].op; };
  auto arg = [&](NodeId id, int k) { return g[id].args[k]; };

  // Constant folding: arithmetic exactly (fold_exact), the rest with the
  // reference evaluator in double.
  bool all_const = true;
  for (size_t i = 0; i < info.arity; ++i) all_const = all_const && is_c(a[i]);
  if (all_const && (info.flags & ir::Reduction)) {
    if (op != Op::Sum) return a[0];  // mean, max, min of a constant row: the constant
    return g.make(op, std::span<const NodeId>(a.data(), info.arity), value);
  }
  if (all_const && info.arity < 3) {
    if (NodeId folded = fold(g, op, a[0], a[1]); folded != ir::kNoNode) return folded;
  } else if (all_const) {
    double v = ir::apply<double>(op, c(a[0]), c(a[1]), c(a[2]));
    return (info.flags & ir::Condition) ? g.make(Op::CondConst, {}, v != 0 ? 1 : 0) : ir::constant(g, v);
  }
  // Commutative ops: constants second, otherwise operands by id.
  if ((info.flags & ir::Commutative) && (is_c(a[0]) ? !is_c(a[1]) || a[0] > a[1] : !is_c(a[1]) && a[0] > a[1]))
    std::swap(a[0], a[1]);

  // Like terms: t a + t b = t (a + b) for constants a and b (t itself: a
  // = 1) of one sign, the constant folded exactly. Of one sign only: for t
  // = inf, t a - t b with a, b > 0 is NaN (as x - x is), and for t = -0,
  // -0 a - -0 b is +0.
  auto coefficient = [&](NodeId id) -> std::pair<NodeId, NodeId> {
    if (op_of(id) == Op::Mul && is_c(arg(id, 1)) && !is_c(arg(id, 0))) return {arg(id, 0), arg(id, 1)};
    return {id, ir::constant(g, 1)};
  };
  // A product's constant factors (to three levels: (x*2)*(x*2), (4*x)*x)
  // folded exactly, and the product of the others in id order: the term
  // and coefficient of like terms written with their constants inside.
  auto split_product = [&](NodeId id) -> std::pair<NodeId, NodeId> {
    std::vector<NodeId> factors;
    NodeId k = ir::constant(g, 1);
    bool ok = true;
    std::function<void(NodeId, int)> walk = [&](NodeId n, int depth) {
      if (op_of(n) == Op::Mul && depth < 3) {
        walk(arg(n, 0), depth + 1);
        walk(arg(n, 1), depth + 1);
      } else if (is_c(n)) {
        NodeId p = fold(g, Op::Mul, k, n);
        ok = ok && p != ir::kNoNode && g.const_lo(p) == 0 && std::isfinite(c(p)) && c(p) != 0;
        if (ok) k = p;
      } else {
        factors.push_back(n);
      }
    };
    walk(id, 0);
    if (!ok || factors.empty() || factors.size() > 6) return {ir::kNoNode, ir::kNoNode};
    std::sort(factors.begin(), factors.end());
    NodeId t = factors[0];
    for (size_t i = 1; i < factors.size(); ++i) t = make(g, Op::Mul, {t, factors[i]});
    return {t, k};
  };
  auto like_terms = [&](bool subtract) -> NodeId {
    if (is_c(a[0]) || is_c(a[1])) return ir::kNoNode;
    auto [t0, k0] = coefficient(a[0]);
    auto [t1, k1] = coefficient(a[1]);
    if (t0 != t1 && op_of(a[0]) == Op::Mul && op_of(a[1]) == Op::Mul) {
      auto [s0, j0] = split_product(a[0]);
      auto [s1, j1] = split_product(a[1]);
      if (s0 != ir::kNoNode && s0 == s1) std::tie(t0, k0, t1, k1) = std::tie(s0, j0, s1, j1);
    }
    double c0 = c(k0), c1 = subtract ? -c(k1) : c(k1);
    if (t0 != t1 || !std::isfinite(c0) || !std::isfinite(c1) || !((c0 > 0 && c1 > 0) || (c0 < 0 && c1 < 0)))
      return ir::kNoNode;
    return make(g, Op::Mul, {t0, fold(g, subtract ? Op::Sub : Op::Add, k0, k1)});
  };
  switch (op) {
    case Op::Add:
      if (is(a[1], -0.0)) return a[0];                                   // x + -0 = x
      if (op_of(a[1]) == Op::Neg) return make(g, Op::Sub, {a[0], arg(a[1], 0)});  // x + -y = x - y
      if (op_of(a[0]) == Op::Neg) return make(g, Op::Sub, {a[1], arg(a[0], 0)});  // -x + y = y - x
      if (a[0] == a[1]) return make(g, Op::Mul, {a[0], ir::constant(g, 2)});     // x + x = x * 2
      if (NodeId r = like_terms(false); r != ir::kNoNode) return r;              // t a + t b = t (a + b), a b > 0
      break;
    case Op::Sub:
      if (is(a[1], 0.0)) return a[0];                                    // x - 0 = x
      if (is(a[0], -0.0)) return make(g, Op::Neg, {a[1]});               // -0 - x = -x
      if (op_of(a[1]) == Op::Neg) return make(g, Op::Add, {a[0], arg(a[1], 0)});  // x - -y = x + y
      if (is_c(a[1])) return make(g, Op::Add, {a[0], fold(g, Op::Neg, a[1])});  // x - c = x + -c
      if (NodeId r = like_terms(true); r != ir::kNoNode) return r;              // t a - t b = t (a - b), a b < 0
      break;
    case Op::Mul:
      if (is(a[1], 1.0)) return a[0];                                    // x * 1 = x
      if (is(a[1], -1.0)) return make(g, Op::Neg, {a[0]});               // x * -1 = -x
      if (op_of(a[0]) == Op::Neg && op_of(a[1]) == Op::Neg)             // -x * -y = x * y
        return make(g, Op::Mul, {arg(a[0], 0), arg(a[1], 0)});
      if (op_of(a[0]) == Op::Neg && is_c(a[1]))                          // -x * c = x * -c
        return make(g, Op::Mul, {arg(a[0], 0), fold(g, Op::Neg, a[1])});
      if (op_of(a[0]) == Op::Neg) return make(g, Op::Neg, {make(g, Op::Mul, {arg(a[0], 0), a[1]})});  // -x*y = -(x*y)
      if (op_of(a[1]) == Op::Neg) return make(g, Op::Neg, {make(g, Op::Mul, {a[0], arg(a[1], 0)})});  // x*-y = -(x*y)
      for (int k = 0; k < 2; ++k) {  // y * (1 / y) = y / y: 1 also where 1 / y overflows (tiny y; x log(x)'s slope)
        if (op_of(a[k]) != Op::Div || !is(arg(a[k], 0), 1.0)) continue;
        NodeId y = arg(a[k], 1), p = a[1 - k];
        if (p == y) return make(g, Op::Div, {y, y});
        for (int j = 0; j < 2 && op_of(p) == Op::Mul; ++j)  // (u y) (1 / y) = u (y / y): u y may overflow (x^2 log(x))
          if (arg(p, j) == y) return make(g, Op::Mul, {arg(p, 1 - j), make(g, Op::Div, {y, y})});
      }
      break;
    case Op::Div:
      if (is(a[1], 1.0)) return a[0];                                    // x / 1 = x
      if (is(a[1], -1.0)) return make(g, Op::Neg, {a[0]});               // x / -1 = -x
      if (is_c(a[1]) && is_power_of_two(c(a[1])) && g[a[1]].lo == 0)    // x / 2^k = x * 2^-k
        return make(g, Op::Mul, {a[0], ir::constant(g, 1 / c(a[1]))});
      if (op_of(a[0]) == Op::Neg && op_of(a[1]) == Op::Neg)             // -x / -y = x / y
        return make(g, Op::Div, {arg(a[0], 0), arg(a[1], 0)});
      if (op_of(a[0]) == Op::Neg) return make(g, Op::Neg, {make(g, Op::Div, {arg(a[0], 0), a[1]})});  // -x/y = -(x/y)
      if (op_of(a[0]) == Op::Mul && op_of(a[1]) == Op::Mul && arg(a[0], 1) == arg(a[1], 1) &&  // (x 2^k) / (y 2^k) = x / y
          is_c(arg(a[0], 1)) && is_power_of_two(c(arg(a[0], 1))))                           // (exact, or the scaling
        return make(g, Op::Div, {arg(a[0], 0), arg(a[1], 0)});                                 // over/underflowed)
      break;
    case Op::Neg:
      if (op_of(a[0]) == Op::Neg) return arg(a[0], 0);                   // --x = x
      break;
    case Op::Pow:
      if (g.is_const(a[1]) && g.const_lo(a[1]) != 0) break;              // (2.5 * 0.4 is 1 + 5.6e-17: not x)
      if (is(a[1], 1.0)) return a[0];                                    // x^1 = x
      if (is(a[1], 0.0)) return ir::constant(g, 1.0);                    // x^0 = 1 (also for NaN, IEEE pow)
      if (is(a[1], 2.0)) return make(g, Op::Mul, {a[0], a[0]});          // x^2 = x * x (both correctly rounded)
      if (is(a[1], -1.0)) return make(g, Op::Div, {ir::constant(g, 1.0), a[0]});  // x^-1 = 1 / x
      break;
    case Op::Abs:
      if (op_of(a[0]) == Op::Neg || op_of(a[0]) == Op::Abs) return make(g, Op::Abs, {arg(a[0], 0)});  // |-x| = ||x|| = |x|
      if (op_of(a[0]) == Op::Exp) return a[0];                          // |exp(x)| = exp(x)
      if (op_of(a[0]) == Op::Cosh) return a[0];  // |cosh(x)| = cosh(x) (log1p(cosh^2)'s 2 log|v|)
      break;
    case Op::Where:
      if (a[1] == a[2]) return a[1];                                     // where(c, a, a) = a
      if (op_of(a[0]) == Op::CondConst) return c(a[0]) != 0 ? a[1] : a[2];  // where(true, a, b) = a
      if (op_of(a[0]) == Op::Not) return make(g, Op::Where, {arg(a[0], 0), a[2], a[1]});  // where(not c, a, b) = where(c, b, a)
      // where(c, where(c, a, b), d) = where(c, a, d) = where(c, a, where(c, b, d)),
      // rare as the outer one is (Node::value: its first branch is the rare one)
      if (op_of(a[1]) == Op::Where && arg(a[1], 0) == a[0])
        return rewrite(g, Op::Where, std::array{a[0], arg(a[1], 1), a[2]}, value, 0);
      if (op_of(a[2]) == Op::Where && arg(a[2], 0) == a[0])
        return rewrite(g, Op::Where, std::array{a[0], a[1], arg(a[2], 2)}, value, 0);
      break;
    case Op::Not:
      if (op_of(a[0]) == Op::Not) return arg(a[0], 0);                   // not not c = c
      break;
    case Op::And:
      if (a[0] == a[1]) return a[0];                                     // c and c = c
      if (op_of(a[1]) == Op::CondConst) return c(a[1]) != 0 ? a[0] : a[1];  // c and true = c; c and false = false
      break;
    case Op::Or:
      if (a[0] == a[1]) return a[0];                                     // c or c = c
      if (op_of(a[1]) == Op::CondConst) return c(a[1]) != 0 ? a[1] : a[0];  // c or true = true; c or false = c
      break;
    default:
      break;
  }
  return g.make(op, std::span<const NodeId>(a.data(), info.arity), value);
}

std::vector<NodeId> cancel_parameters(Graph& g, std::span<const NodeId> roots) {
  return ir::transform(g, roots, [&](const ir::Node& n, const std::array<NodeId, 3>& args) {
    if (n.op == Op::Div && g[args[1]].op == Op::Param) {
      NodeId q = over_param(g, args[0], args[1]);
      if (q != ir::kNoNode) return q;
    }
    return rewrite(g, n.op, std::span<const NodeId>(args.data(), n.arity), n.value, n.lo);
  });
}

std::vector<NodeId> simplify(Graph& g, std::span<const NodeId> roots) {
  return ir::transform(g, roots, [&](const ir::Node& n, const std::array<NodeId, 3>& args) {
    return rewrite(g, n.op, std::span<const NodeId>(args.data(), n.arity), n.value, n.lo);
  });
}

}  // namespace actjit::simplify
