// Stability rewriting rules (see stabilize.hpp). Rules match the canonical
// forms simplify produces (constants second: 1 + e is e + 1, e - 1 is e + -1).
#include "compiler/simplify/stabilize.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <unordered_map>
#include <utility>

#include "compiler/ir/forms.hpp"
#include "compiler/ir/range.hpp"
#include "compiler/ir/row.hpp"
#include "compiler/simplify/simplify.hpp"

namespace actjit::simplify {

using ir::Graph;
using ir::NodeId;
using ir::Op;

namespace {

/// Past this |x|, sqrt(x*x + b) is taken as |x| sqrt(1 + b/x/x): x*x would
/// overflow float at 1.8e19.
constexpr double kSquareGuard = 1e15;
/// sqrt(u + b) - sqrt(b) is taken as written past u = kSumGuard (where the
/// difference cannot cancel), as u / (sqrt(u + b) + sqrt(b)) below.
constexpr double kSumGuard = 1e30;

/// Past this a, erfc(a) as Laplace's asymptotic series times exp(-a^2) / (a
/// sqrt(pi)) (erfc underflows float at 9.2).
constexpr double kErfcSeries = 9;

/// 3 or 4 where n is a^3 or a^4 (the powers products count as that many
/// factors a; a^2 is a a already), else 0.
int small_power(const Graph& g, NodeId n) {
  if (g[n].op != Op::Pow) return 0;
  for (int k : {3, 4})
    if (g.is_const(g[n].args[1], double(k))) return k;
  return 0;
}

class Stabilizer {
 public:
  explicit Stabilizer(Graph& g) : g_(g) {}

  NodeId rebuild(const ir::Node& n, std::array<NodeId, 3> a) {
    // A polynomial argument of a saturating function: its far form (polynomial_far)
    if (n.op == Op::Tanh || n.op == Op::Erf || n.op == Op::Erfc || n.op == Op::Atan)
      if (NodeId p = polynomial_far(a[0]); p != ir::kNoNode) a[0] = p;
    switch (n.op) {
      case Op::Log: {
        NodeId s = a[0];
        // log(sqrt(u)) = log(u) / 2 (log(sqrt(1 + exp(2x))): inf past 44 in float), also of
        // the roots the Sqrt rule rewrites (root_of_: log(sqrt(1 + 0.5 x^2)) keeps x^2 / 4
        // near 0 so, where the rewritten root's log was 0; inf where the sum
        // overflows, as for a bare sqrt: a where() with the root's log there cost
        // log(sqrt(1 + a x^2)) half its speed forward, 72% backward)
        if (auto it = root_of_.find(s); op(s) == Op::Sqrt || it != root_of_.end()) {
          return make(Op::Mul, {stabilized(Op::Log, op(s) == Op::Sqrt ? arg(s, 0) : it->second.sum), c(0.5)});
        }
        if (op(s) == Op::Tanh) {  // log(tanh(a)) = log1p(-2 sigmoid(-2a)) above a = 1/2 (0 past 9 in float)
          NodeId h = arg(s, 0);
          NodeId far = make(Op::Log1p, {make(Op::Mul, {sigmoid(scaled(h, -2)), c(-2)})});
          return make(Op::Where, {make(Op::Gt, {h, c(0.5)}), far, make(Op::Log, {s})});
        }
        if (auto it = sinc_of_.find(s); it != sinc_of_.end()) return log_sinc(it->second);  // log(sinh(a) / a)
        if (op(s) == Op::Mul && g_.is_const(arg(s, 1)) && g_.const_value(arg(s, 1)) > 0)  // log(sinh(k a) / a)
          if (auto it = sinc_of_.find(arg(s, 0)); it != sinc_of_.end())
            return make(Op::Add, {log_sinc(it->second), c(std::log(g_.const_value(arg(s, 1))))});
        if (op(s) == Op::Erfc) return log_erfc(arg(s, 0), 1);
        if (op(s) == Op::Mul && op(arg(s, 0)) == Op::Erfc && g_.is_const(arg(s, 1)) && g_.const_value(arg(s, 1)) > 0)
          return log_erfc(arg(arg(s, 0), 0), g_.const_value(arg(s, 1)));  // log(k erfc(a)): log(Phi(x)) for k = 1/2
        // log(k sinh(a)), k > 0 = a + log(k/2) + log1p(-exp(-2a)) above 1 (inf past 89.4 in
        // float; k = 2 is log(exp(x) - exp(-x)))
        if (double k = 1; op(s) == Op::Sinh || (op(s) == Op::Mul && op(arg(s, 0)) == Op::Sinh &&
                                                 g_.is_const(arg(s, 1)) && (k = g_.const_value(arg(s, 1))) > 0)) {
          NodeId h = op(s) == Op::Sinh ? arg(s, 0) : arg(arg(s, 0), 0);
          NodeId far = make(Op::Add, {make(Op::Add, {h, c(std::log(k) - std::numbers::ln2)}),
                                      make(Op::Log1p, {neg(make(Op::Exp, {scaled(h, -2)}))})});
          return make(Op::Where, {make(Op::Gt, {h, c(1)}), far, make(Op::Log, {s})});
        }
        if (auto sig = ir::sigmoid_form(g_, s)) return neg(softplus(scaled(sig->a, -1)));  // log(sigmoid(a)) = -softplus(-a)
        // log(p q) for sigmoids p and q: the sum of their logs, both <= 0 (log(sigmoid(x) (1 -
        // sigmoid(x))), a flow's log-Jacobian, was -inf where the product underflows: below
        // -89 and past 89 in float); sigmoid(a) sigmoid(-a) = 1 / (4 cosh(a/2)^2) as -2
        // log(cosh(a/2)) - 2 log 2, whose slope -tanh(a/2) does not cancel near 0 as
        // sigmoid(-a) - sigmoid(a) does. log(sigmoid(a) / sigmoid(-a)) = a. (Not log(p / q)
        // for other p, q: the logs' difference may cancel where p is near q, and nothing
        // was found that the quotient's log gets wrong.)
        if (op(s) == Op::Mul || op(s) == Op::Div)
          if (auto p = ir::sigmoid_form(g_, arg(s, 0)), q = ir::sigmoid_form(g_, arg(s, 1)); p && q) {
            const bool negated = negations(p->a, q->a);
            if (op(s) == Op::Mul && negated)
              return make(Op::Add, {make(Op::Mul, {log_cosh(scaled(p->a, 0.5)), c(-2)}), c(-2 * std::numbers::ln2)});
            if (op(s) == Op::Mul || negated)
              return stabilized(op(s) == Op::Mul ? Op::Add : Op::Sub, stabilized(Op::Log, arg(s, 0)), stabilized(Op::Log, arg(s, 1)));
          }
        // log((1 + exp(p)) / (1 + exp(q))), as the quotient is rewritten: (1 + exp(p))
        // sigmoid(-q); the soft clipping log((1 + exp(x)) / (1 + exp(x - 1))) was inf past 88
        // and NaN past 1e5 in float, 0 at -45. For |d| < 40, d = p - q, log1p(expm1(d)
        // sigmoid(q)) (nothing cancels, its slope neither: sigmoid(p) - sigmoid(q) did at x =
        // 30); beyond, softplus(p) - softplus(q), whose terms differ by far more than they
        // round.
        if (op(s) == Op::Mul)
          for (int k = 0; k < 2; ++k)
            if (auto [p, one] = exp_sum(arg(s, k)); p != ir::kNoNode && is(one, 0.0) && !is(p, 0.0))
              if (auto sig = ir::sigmoid_form(g_, arg(s, 1 - k))) {
                NodeId q = scaled(sig->a, -1);
                return softplus_difference(p, q, stabilized(Op::Add, softplus(p), stabilized(Op::Log, arg(s, 1 - k))));
              }
        // log(softplus(a)) = a + log(log1p(e) / e), e = exp(a), below a = -1 (-inf below -103
        // in float, where it is a; log1p(e) / e is 1 where e underflows)
        if (NodeId t = guarded_softplus_argument(s); t != ir::kNoNode) {
          NodeId e = make(Op::Exp, {t});
          NodeId far = make(Op::Add, {t, stabilized(Op::Log, stabilized(Op::Div, make(Op::Log1p, {e}), e))});
          return make(Op::Where, {make(Op::Lt, {t, c(-1)}), far, make(Op::Log, {s})});
        }
        if (op(s) == Op::Exp) return arg(s, 0);                               // log(exp(a)) = a
        if (op(s) == Op::Cosh) return log_cosh(arg(s, 0));                    // overflows past |a| = 89 in float
        if (op(s) == Op::Mul && op(arg(s, 0)) == Op::Cosh && g_.is_const(arg(s, 1)) && g_.const_value(arg(s, 1)) > 0) {
          // log(k cosh(a)) = log(cosh(a)) + log k (log(2 cosh(a)) is log(exp(a) + exp(-a)))
          double k = g_.const_value(arg(s, 1));
          if (k == 2) return log_cosh(arg(arg(s, 0), 0), true);
          return make(Op::Add, {log_cosh(arg(arg(s, 0), 0)), c(std::log(k))});
        }
        if (op(s) == Op::Sub && is(arg(s, 0), 1.0) && op(arg(s, 1)) == Op::Exp)  // log(1 - exp(a))
          return log1mexp(arg(arg(s, 1), 0));
        if (NodeId a = minus_expm1(s); a != ir::kNoNode) return log1mexp(a);  // log(1 - exp(a)), 1 - exp(a) rewritten
        if (op(s) == Op::Expm1) {  // log(expm1(a)) (softplus's inverse): inf past a = 89; a + log(1 - exp(-a)) above 1
          NodeId t = arg(s, 0);
          NodeId big = make(Op::Add, {t, make(Op::Log1p, {neg(make(Op::Exp, {scaled(t, -1)}))})});
          return make(Op::Where, {make(Op::Gt, {t, c(1)}), big, make(Op::Log, {s})});
        }
        // log(2 sigmoid(b)) = log(1 + tanh(h)), h = b/2 (1 + tanh(a) is rewritten
        // so): log1p(tanh(h)) for h >= -1, h - log(cosh(h)) below (no
        // cancellation either side; log(1 + tanh(x)) was 0 at 1e-30 and 4e-4
        // off at -1e-4 in float, log 2 - softplus(-b) would cancel near 0)
        if (op(s) == Op::Mul && is(arg(s, 1), 2.0))
          if (auto sig = ir::sigmoid_form(g_, arg(s, 0))) {
            NodeId h = scaled(sig->a, 0.5);
            NodeId near = make(Op::Log1p, {make(Op::Tanh, {h})});
            return make(Op::Where, {make(Op::Ge, {h, c(-1)}), near, make(Op::Sub, {h, log_cosh(h)})});
          }
        if (NodeId r = log_of_exp_sum(s); r != ir::kNoNode) return r;  // log(exp(a) + exp(b)), log(k (1 + exp(a)))
        if (NodeId r = log_of_root_sum(s); r != ir::kNoNode) return r;  // log(x + sqrt(x^2 + b)) = asinh
        if (op(s) == Op::Add && is(arg(s, 1), 1.0)) {
          NodeId t = arg(s, 0);
          if (op(t) == Op::Exp) return softplus(arg(t, 0));                    // log(1 + exp(a)) = softplus(a)
          return log1p_of(t);                                                  // log(1 + a) = log1p(a)
        }
        if (op(s) == Op::Sub && is(arg(s, 0), 1.0)) return make(Op::Log1p, {neg(arg(s, 1))});  // log(1 - a) = log1p(-a)
        // log((1 + a) / (1 - a)) = log(1 + a) - log(1 - a) (2 atanh(a): 0 below a = 6e-8
        // in float); 1 + a and 1 - a are never both negative, so the difference is NaN
        // where the quotient's log is
        if (op(s) == Op::Div && op(arg(s, 0)) == Op::Add && is(arg(arg(s, 0), 1), 1.0) && op(arg(s, 1)) == Op::Sub &&
            is(arg(arg(s, 1), 0), 1.0) && arg(arg(s, 1), 1) == arg(arg(s, 0), 0))
          return stabilized(Op::Sub, stabilized(Op::Log, arg(s, 0)), stabilized(Op::Log, arg(s, 1)));
        if (NodeId r = log_of_polynomial(s, false); r != ir::kNoNode) return r;  // log(x^4 + 2)
        // log(v v) = 2 log|v|, log(v^k) = k log|v| for an even k and k log(v) for an odd
        // one (integers k >= 3): the power under- or overflowed where its log is finite
        // (log(x*x) was -inf below 1e-19 and inf past 1.8e19 in float). A product, no
        // sum: nothing cancels. (log(v v + 1) - 2 log|v| below reads the product.)
        if (op(s) == Op::Mul && arg(s, 0) == arg(s, 1))
          return make(Op::Mul, {stabilized(Op::Log, make(Op::Abs, {arg(s, 0)})), c(2)});
        if (op(s) == Op::Abs && op(arg(s, 0)) == Op::Mul && arg(arg(s, 0), 0) == arg(arg(s, 0), 1))
          return stabilized(Op::Log, arg(s, 0));  // log|v v| = log(v v), as above: (x*x)*(x*x)'s
        if (double k = op(s) == Op::Pow && g_.is_const(arg(s, 1)) ? g_.const_value(arg(s, 1)) : 0;
            k >= 3 && k <= 64 && k == std::floor(k)) {
          NodeId v = arg(s, 0);
          return make(Op::Mul, {stabilized(Op::Log, std::fmod(k, 2) == 0 ? make(Op::Abs, {v}) : v), c(k)});
        }
        // log(u^k) = k log(u) for a constant k that is no integer (u^k is NaN where u < 0, as
        // log(u) is), also where the power was rewritten (pow_of_): log((1 + x*x)^0.3) was 0
        // below 1e-8 in double, log(sigmoid(x)^0.5) -inf below -745
        {
          auto it = pow_of_.find(s);
          NodeId u = it != pow_of_.end() ? it->second.first : op(s) == Op::Pow ? arg(s, 0) : ir::kNoNode;
          NodeId k = it != pow_of_.end() ? it->second.second : op(s) == Op::Pow ? arg(s, 1) : ir::kNoNode;
          if (u != ir::kNoNode && g_.is_const(k) && std::isfinite(g_.const_value(k)) &&
              g_.const_value(k) != std::floor(g_.const_value(k)))
            return make(Op::Mul, {stabilized(Op::Log, u), k});
        }
        // log(k - t), log(t + k) for a constant k other than 1 with k - 1 exact: log1p of
        // s - 1 where the rules write that without its cancellation (log(2 - exp(-x*x))
        // as log1p(-expm1(-x*x)): 0 below 1e-8 in double, where it is x^2)
        if ((op(s) == Op::Sub && g_.is_const(arg(s, 0))) || (op(s) == Op::Add && g_.is_const(arg(s, 1)))) {
          const bool sub = op(s) == Op::Sub;
          NodeId k = arg(s, sub ? 0 : 1), t = arg(s, sub ? 1 : 0);
          double k1 = g_.const_value(k) - 1;
          if (k1 != 0 && k1 + 1 == g_.const_value(k)) {
            if (NodeId r = rewritten(sub ? Op::Sub : Op::Add, sub ? c(k1) : t, sub ? t : c(k1)); r != ir::kNoNode) {
              NodeId near = stabilized(Op::Log1p, r);
              NodeId far = log_of_growing(s, near);
              return far != ir::kNoNode ? far : near;
            }
          }
        }
        if (NodeId r = log_of_growing(s); r != ir::kNoNode) return r;  // log|u exp(w)|, log|a + cosh(w)|
        break;
      }
      case Op::Tanh: {
        NodeId r = tanh_of(a[0]);
        if (op(r) != Op::Tanh) tanh_rewritten_of_[r] = a[0];
        return r;
      }
      case Op::Log1p:
        if (op(a[0]) == Op::Exp && !nonpositive(arg(a[0], 0))) return softplus(arg(a[0], 0));  // log1p(exp(a))
        if (op(a[0]) == Op::Neg && op(arg(a[0], 0)) == Op::Exp)                 // log1p(-exp(a))
          return log1mexp(arg(arg(a[0], 0), 0));
        if (NodeId r = log1p_of(a[0]); op(r) != Op::Log1p) return r;          // log1p(a*a)
        if (NodeId r = log1p_of_growing(a[0]); r != ir::kNoNode) return r;    // log1p(|sqrt(1 + P^2)|)
        break;
      case Op::Add: {
        // (u + c1) + c2 = u + (c1 + c2), one rounding (1 / sigmoid(x) - 1 as exp(-x) + 1 - 1);
        // simplify keeps the two, which differ where u + c1 rounds
        if (op(a[0]) == Op::Add && g_.is_const(arg(a[0], 1)) && g_.is_const(a[1]))
          if (NodeId k = make(Op::Add, {arg(a[0], 1), a[1]}); g_.is_const(k)) return stabilized(Op::Add, arg(a[0], 0), k);
        // (c1 - t) + c2 = (c1 + c2) - t, -t for c1 = -c2 (atan(x) / x - 1: its series near 0 is
        // 1 - x^2 R(x^2), and the - 1 cancelled)
        if (op(a[0]) == Op::Sub && g_.is_const(arg(a[0], 0)) && g_.is_const(a[1]))
          if (NodeId k = make(Op::Add, {arg(a[0], 0), a[1]}); g_.is_const(k))
            return is(k, 0.0) ? neg(arg(a[0], 1)) : stabilized(Op::Sub, k, arg(a[0], 1));
        if (op(a[0]) == Op::Exp && is(a[1], -1.0)) return make(Op::Expm1, {arg(a[0], 0)});  // exp(a) - 1 = expm1(a)
        // log(2 cosh(a)) - log 2 = log(cosh(a)) (log(exp(x) + exp(-x)) - log(2): 0 at 1e-8,
        // the constants' sum cancelled the small branch)
        if (auto it = log_2cosh_of_.find(a[0]); it != log_2cosh_of_.end() && g_.is_const(a[1], -std::numbers::ln2))
          return log_cosh(it->second);
        if (op(a[0]) == Op::Cos && is(a[1], -1.0)) return neg(one_minus_cos(arg(a[0], 0)));  // cos(a) - 1
        if (op(a[0]) == Op::Cosh && is(a[1], -1.0)) return cosh_minus_one(arg(a[0], 0));       // cosh(a) - 1
        // 1 + erf(a) = erfc(-a) (the textbook gelu 0.5 x (1 + erf(x / sqrt(2))): 0 below
        // x = -5.6 in float), erf(a) - 1 = -erfc(a), erfc(a) - 1 = -erf(a)
        if (op(a[0]) == Op::Erf && is(a[1], 1.0)) return make(Op::Erfc, {scaled(arg(a[0], 0), -1)});
        if (op(a[0]) == Op::Erf && is(a[1], -1.0)) return neg(make(Op::Erfc, {arg(a[0], 0)}));
        if (op(a[0]) == Op::Erfc && is(a[1], -1.0)) return neg(make(Op::Erf, {arg(a[0], 0)}));
        // k erf(a) + k = k erfc(-a), k erf(a) - k = -k erfc(a) (0.5 + 0.5 erf(x / sqrt(2)),
        // the normal CDF, was 0 below x = -5.6 in float and 4e-5 off at -3.7)
        if (op(a[0]) == Op::Mul && op(arg(a[0], 0)) == Op::Erf && g_.is_const(arg(a[0], 1)) && g_.is_const(a[1])) {
          double k = g_.const_value(arg(a[0], 1)), k1 = g_.const_value(a[1]);
          NodeId t = arg(arg(a[0], 0), 0);
          if (k1 == k && k != 0) return make(Op::Mul, {make(Op::Erfc, {scaled(t, -1)}), c(k)});
          if (k1 == -k && k != 0) return make(Op::Mul, {make(Op::Erfc, {t}), c(-k)});
        }
        for (int k = 0; k < 2; ++k) {  // softplus(-a) + a = softplus(a) (log(1 + exp(-x)) + x: 0 below -17)
          NodeId sp = softplus_argument(a[size_t(k)]);
          if (sp != ir::kNoNode && negations(sp, a[size_t(1 - k)])) return softplus(a[size_t(1 - k)]);
        }
        if (NodeId r = sigmoid_shift(a[0], a[1], false); r != ir::kNoNode) return r;  // 2 sigmoid(a) - 1, sigmoid(a) - 1/2
        if (NodeId r = root_sum(a[0], a[1], false); r != ir::kNoNode) return r;       // x + sqrt(x^2 + b)
        if (op(a[0]) == Op::Tanh && (is(a[1], 1.0) || is(a[1], -1.0)))  // tanh(a) + 1, tanh(a) - 1
          return is(a[1], 1.0) ? tanh_plus_one(arg(a[0], 0)) : neg(tanh_plus_one(neg(arg(a[0], 0))));
        // cosh(a) + sinh(a) = exp(a) (log(cosh(x) + sinh(x)) was 0 below 6e-8 in float)
        for (int k = 0; k < 2; ++k)
          if (op(a[size_t(k)]) == Op::Cosh && op(a[size_t(1 - k)]) == Op::Sinh && arg(a[0], 0) == arg(a[1], 0))
            return make(Op::Exp, {arg(a[0], 0)});
        // exp(a) + exp(-a) - 2 = 2 (cosh(a) - 1), (exp(a) + exp(-a)) / 2 - 1 = cosh(a) - 1,
        // without the cancellation near 0 (0 below 1e-4 in float)
        if (is(a[1], -2.0) || is(a[1], -1.0)) {
          NodeId sum = is(a[1], -2.0) ? a[0] : op(a[0]) == Op::Mul && is(arg(a[0], 1), 0.5) ? arg(a[0], 0) : ir::kNoNode;
          if (sum != ir::kNoNode)
            if (auto [p, q] = exp_sum(sum); p != ir::kNoNode && !is(p, 0.0) && negations(p, q))
              return is(a[1], -2.0) ? make(Op::Mul, {cosh_minus_one(p), c(2)}) : cosh_minus_one(p);
        }
        // 2 atan(exp(a)) - pi/2 = atan(sinh(a)) (the Gudermannian; 2^-24 off near 0 in float)
        if (g_.is_const(a[1], -std::numbers::pi / 2) && op(a[0]) == Op::Mul && is(arg(a[0], 1), 2.0) &&
            op(arg(a[0], 0)) == Op::Atan && op(arg(arg(a[0], 0), 0)) == Op::Exp)
          return make(Op::Atan, {make(Op::Sinh, {arg(arg(arg(a[0], 0), 0), 0)})});
        if (g_.is_const(a[1]))  // 1 + x / sqrt(x^2 + b), 1/2 + x / (2 (1 + |x|)), ... (shifted_ratio)
          if (NodeId r = shifted_ratio(a[0], g_.const_value(a[1])); r != ir::kNoNode) return r;
        // v + v^2 / R = v (1 + v / R), R a root of v^2 + b as the rules write v^2 / R
        // (|v| (|v| / R)): PFLU multiplied out, (x + x*x / sqrt(1 + x*x)) / 2, cancelled
        // below 0 (2.5% off at -700 in float, 0 at -1e10); shifted_ratio's form does not
        for (int k = 0; k < 2; ++k) {
          NodeId v = a[size_t(k)], w = a[size_t(1 - k)];
          if (op(w) != Op::Mul || op(arg(w, 0)) != Op::Abs || arg(arg(w, 0), 0) != v || op(arg(w, 1)) != Op::Div ||
              arg(arg(w, 1), 0) != arg(w, 0))
            continue;
          NodeId root = arg(arg(w, 1), 1);
          if (auto r = ir::root_of_square_sum(g_, root); r && r->v == v)
            return stabilized(Op::Mul, v, stabilized(Op::Add, stabilized(Op::Div, v, root), c(1)));
        }
        // k tanh(a) + k = k (1 + tanh(a)), k tanh(a) - k = -k (1 + tanh(-a)) (0.5 + 0.5
        // tanh(x/2), sigmoid as numpy code writes it, was 0 below -9 in float); k may be a
        // parameter's expression in the first (k + k tanh(x) with k passed at run time)
        for (int j = 0; j < 4; ++j) {
          NodeId m = a[size_t(j / 2)], other = a[size_t(1 - j / 2)];
          if (op(m) != Op::Mul || op(arg(m, j % 2)) != Op::Tanh || is(other, 0.0)) continue;
          NodeId k = arg(m, 1 - j % 2), t = arg(arg(m, j % 2), 0);
          const bool consts = g_.is_const(k) && g_.is_const(other);
          if (other == k || (consts && g_.const_value(other) == g_.const_value(k)))
            return stabilized(Op::Mul, tanh_plus_one(t), other);
          if (consts && g_.const_value(other) == -g_.const_value(k)) return stabilized(Op::Mul, tanh_plus_one(neg(t)), other);
        }
        if (is(a[1], -1.0))
          if (auto sig = ir::sigmoid_form(g_, a[0])) return neg(sigmoid(neg(sig->a)));  // sigmoid(a) - 1
        NodeId r = sqrt_minus_root(a[0], a[1]);  // sqrt(x^2 + b) - sqrt(b)
        if (r == ir::kNoNode && g_.is_const(a[1], -std::numbers::ln2)) r = shifted_softplus(a[0]);  // softplus(a) - log 2
        if (r != ir::kNoNode) return r;
        // k / (t + k) - 1 = -t / (t + k) for a constant k: the removable quotient x / sinh(x)
        // is 1 / (1 + x^2 S(x^2)) near 0, and x / sinh(x) - 1 cancelled there (3.6e8 ULP off
        // at 1e-5 in double)
        // (k / (k - t) - 1 = t / (k - t) alike: x / atan(x) - 1)
        if (is(a[1], -1.0) && op(a[0]) == Op::Div && g_.is_const(arg(a[0], 0))) {
          NodeId den = arg(a[0], 1);
          double k = g_.const_value(arg(a[0], 0));
          if (op(den) == Op::Add)
            for (int j = 0; j < 2; ++j)
              if (g_.is_const(arg(den, j)) && g_.const_value(arg(den, j)) == k)
                return make(Op::Div, {neg(arg(den, 1 - j)), den});
          if (op(den) == Op::Sub && g_.is_const(arg(den, 0)) && g_.const_value(arg(den, 0)) == k)
            return make(Op::Div, {arg(den, 1), den});
        }
        // (t + 1)^k - 1 = expm1(k log1p(t)) for |t| < 1 (cancelled near t = 0: (1 + x*x)^0.25
        // - 1 was 0 below 1e-8 in double); as written beyond, where pow is accurate
        if (is(a[1], -1.0) && op(a[0]) == Op::Pow && g_.is_const(arg(a[0], 1)) && op(arg(a[0], 0)) == Op::Add &&
            is(arg(arg(a[0], 0), 1), 1.0)) {
          NodeId t = arg(arg(a[0], 0), 0);
          NodeId near = make(Op::Expm1, {make(Op::Mul, {stabilized(Op::Log1p, t), arg(a[0], 1)})});
          return make(Op::Where, {make(Op::Lt, {make(Op::Abs, {t}), c(1)}), near, make(Op::Add, {a[0], a[1]})});
        }
        // a removable quotient's series less its limit (tanh(x) / x - 1)
        if (auto it = less_limit_.find(a[0]); it != less_limit_.end() && is(a[1], -it->second.first))
          return it->second.second;
        if (NodeId r = distributed_sum(Op::Add, a[0], a[1]); r != ir::kNoNode) return r;    // v + v t
        if (NodeId r = common_factor_sum(Op::Add, a[0], a[1]); r != ir::kNoNode) return r;  // k u + k w
        // where(c, p, q) + k = where(c, p + k, q + k) for a constant k where a branch has a
        // rewrite of its own (x / sinh(x) - 1: the quotient's series near 0)
        if (op(a[0]) == Op::Where && g_.is_const(a[1])) {
          NodeId w = a[0];
          NodeId p = stabilized(Op::Add, arg(w, 1), a[1]), q = stabilized(Op::Add, arg(w, 2), a[1]);
          if (p != make(Op::Add, {arg(w, 1), a[1]}) || q != make(Op::Add, {arg(w, 2), a[1]}))
            return ir::where(g_, arg(w, 0), p, q, ir::rare_where(g_, w));
        }
        break;
      }
      case Op::Sub:  // a - tanh(a) = tanhshrink(a), tanh(a) - a = -tanhshrink(a); 1 - ...
        // softplus(a) - a = softplus(-a) (0 past a = 17 in float: log(1 + exp(x)) - x),
        // a - softplus(a) = -softplus(-a)
        if (softplus_argument(a[0]) == a[1]) return softplus(scaled(a[1], -1));
        if (softplus_argument(a[1]) == a[0]) return neg(softplus(scaled(a[0], -1)));
        // softplus(p) - softplus(q), the soft clipping log(1 + exp(x)) - log(1 + exp(x - 1)),
        // as the log of their quotient (softplus_difference): 0 past 2^53 in double, where
        // it is 1
        if (NodeId p = softplus_argument(a[0]), q = softplus_argument(a[1]); p != ir::kNoNode && q != ir::kNoNode)
          return softplus_difference(p, q, make(Op::Sub, {a[0], a[1]}));
        if (NodeId r = root_minus_root(a[0], a[1]); r != ir::kNoNode) return r;  // sqrt(x^2 + b) - sqrt(b), b a parameter
        // sqrt(v v + b) - |v| = b / (sqrt(v v + b) + |v|) (cancelled for |v| >> b: 4e-4
        // off at 88 in float)
        if (op(a[1]) == Op::Abs)
          if (auto r = ir::root_of_square_sum(g_, a[0]); r && r->v == arg(a[1], 0))
            return make(Op::Div, {r->b, make(Op::Add, {a[0], a[1]})});
        // sqrt(u + b) - sqrt(u) = b / (sqrt(u + b) + sqrt(u)) for b free of the input
        // (sqrt(1 + x) - sqrt(x): 0.4% off at 1e5 in float)
        if (op(a[0]) == Op::Sqrt && op(a[1]) == Op::Sqrt && op(arg(a[0], 0)) == Op::Add)
          for (int k = 0; k < 2; ++k)
            if (NodeId b = arg(arg(a[0], 0), 1 - k); arg(arg(a[0], 0), k) == arg(a[1], 0) && input_free(b))
              return make(Op::Div, {b, make(Op::Add, {a[0], a[1]})});
        // cosh(a) - sinh(a) = exp(-a), sinh(a) - cosh(a) = -exp(-a)
        if (op(a[0]) == Op::Cosh && op(a[1]) == Op::Sinh && arg(a[0], 0) == arg(a[1], 0))
          return make(Op::Exp, {scaled(arg(a[0], 0), -1)});
        if (op(a[0]) == Op::Sinh && op(a[1]) == Op::Cosh && arg(a[0], 0) == arg(a[1], 0))
          return neg(make(Op::Exp, {scaled(arg(a[0], 0), -1)}));
        if (NodeId r = logit_entropy(a[0], a[1]); r != ir::kNoNode) return r;  // softplus(a) - a sigmoid(a)
        if (NodeId r = reciprocal_difference(a[0], a[1]); r != ir::kNoNode) return r;  // 1 / tanh(a) - 1 / a
        // (also where tanh_of rewrote tanh(a): a - tanh(softplus(t)), whose rational form of
        // exp(t) cancelled against a as much as tanh did: 1e-26 at t = -23, where it is 3e-31)
        if (tanh_of_node(a[1]) == a[0]) return make(Op::TanhShrink, {a[0]});
        if (tanh_of_node(a[0]) == a[1]) return neg(make(Op::TanhShrink, {a[1]}));
        // a - k tanh(a/k) = k tanhshrink(a/k) for a constant k, and its negation (x - 2
        // tanh(x/2) was 0 below 1e-4 in float)
        // (Not for a parameter's K, s tanh(x/s) - x with s passed: the gradient by K of K
        // tanhshrink(x/K), (u - tanh u) - u tanh(u)^2, cancels for large u = x/K, where
        // the written form's tanh(u) - u sech(u)^2 is right.)
        for (int j = 0; j < 2; ++j) {
          NodeId m = a[size_t(1 - j)];
          if (op(m) != Op::Mul || op(arg(m, 0)) != Op::Tanh || !g_.is_const(arg(m, 1)) || is(arg(m, 1), 0.0)) continue;
          NodeId u = arg(arg(m, 0), 0);
          double k = g_.const_value(arg(m, 1));
          if (scaled(u, k) != a[size_t(j)]) continue;
          NodeId r = make(Op::Mul, {make(Op::TanhShrink, {u}), c(k)});
          return j == 0 ? r : neg(r);
        }
        // a - sin(a), sinh(a) - a, expm1(a) - a, a - log1p(a), a - atan(a),
        // a - asinh(a), tan(a) - a (and the negations)
        for (int k = 0; k < 2; ++k) {
          NodeId f = a[size_t(k)], v = a[size_t(1 - k)];
          if (arg_is(f, Op::Sin, v)) return k == 1 ? minus_sin(v) : neg(minus_sin(v));
          if (arg_is(f, Op::Sinh, v)) return k == 0 ? sinh_minus(v) : neg(sinh_minus(v));
          if (arg_is(f, Op::Expm1, v)) return k == 0 ? expm1_minus(v) : neg(expm1_minus(v));
          if (arg_is(f, Op::Log1p, v)) return k == 1 ? minus_log1p(v) : neg(minus_log1p(v));
          if (arg_is(f, Op::Atan, v)) return k == 1 ? minus_atan(v) : neg(minus_atan(v));
          if (arg_is(f, Op::Asinh, v)) return k == 1 ? minus_asinh(v) : neg(minus_asinh(v));
          if (arg_is(f, Op::Tan, v)) return k == 0 ? tan_minus(v) : neg(tan_minus(v));
        }
        if (NodeId r = sigmoid_shift(a[1], a[0], true); r != ir::kNoNode) return r;  // 1 - 2 sigmoid(a), 1/2 - sigmoid(a)
        if (NodeId r = root_sum(a[0], a[1], true); r != ir::kNoNode) return r;       // sqrt(x^2 + b) - x, x - sqrt(...)
        // log1p(a) - log1p(-a) = 2 atanh(a) = log1p(2a / (1 - a)), odd in a (taken for
        // a >= 0, where 2a / (1 - a) does not approach -1): log(1 + x) - log(1 - x) was
        // off by 2x near 0 in float (1 + x rounded to 1 below 6e-8)
        if (op(a[0]) == Op::Log1p && op(a[1]) == Op::Log1p && negations(arg(a[0], 0), arg(a[1], 0))) {
          // (no abs(a): its slope at 0 would be 0)
          NodeId t = arg(a[0], 0), mt = scaled(t, -1);
          auto half = [&](NodeId u) { return make(Op::Log1p, {make(Op::Div, {make(Op::Mul, {u, c(2)}), make(Op::Sub, {c(1), u})})}); };
          return make(Op::Where, {make(Op::Ge, {t, c(0)}), half(t), neg(half(mt))});
        }
        // u p - u q = u (p - q) where the difference has a stable form of its own
        // (x sigmoid(x) - x / 2 = x tanh(x / 2) / 2: 0 below x = 1e-20 in double)
        if (op(a[0]) == Op::Mul && op(a[1]) == Op::Mul)
          for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
              if (arg(a[0], i) != arg(a[1], j) || g_.is_const(arg(a[0], i))) continue;
              NodeId p = arg(a[0], 1 - i), q = arg(a[1], 1 - j);
              NodeId plain = make(Op::Sub, {p, q});
              NodeId r = g_.is_const(q) ? stabilized(Op::Add, p, c(-g_.const_value(q))) : stabilized(Op::Sub, p, q);
              if (r != plain) return make(Op::Mul, {arg(a[0], i), r});
            }
        // a - a / (b + 1) = a (b / (b + 1)) (x - x / (1 + abs(x)) was 0 at 1e-8 in float),
        // the quotient by its rules (1 - 1 / (1 + x*x) is x*x / (x*x + 1), whose x*x
        // overflows: x (1 - 1 / (1 + x*x)) was NaN at 1e200 in double)
        if (op(a[1]) == Op::Div && arg(a[1], 0) == a[0] && op(arg(a[1], 1)) == Op::Add && is(arg(arg(a[1], 1), 1), 1.0)) {
          NodeId b = arg(arg(a[1], 1), 0);
          return stabilized(Op::Mul, a[0], stabilized(Op::Div, b, arg(a[1], 1)));
        }
        // exp(a) - exp(-a) = 2 sinh(a) (0 at 1e-8 in float: the difference cancels;
        // over_exp_sum still reads it as the difference)
        if (op(a[0]) == Op::Exp && op(a[1]) == Op::Exp && negations(arg(a[0], 0), arg(a[1], 0))) {
          NodeId r = make(Op::Mul, {make(Op::Sinh, {arg(a[0], 0)}), c(2)});
          exp_difference_[r] = {arg(a[0], 0), arg(a[1], 0)};
          return r;
        }
        // log(v v + 1) - 2 log|v| (or - log(v v)) = log1p(1 / (v v)) (log1p_inverse_square)
        if (auto it = log1p_square_of_.find(a[0]); it != log1p_square_of_.end()) {
          NodeId v = it->second, s1 = a[1];
          bool two_log = op(s1) == Op::Mul && is(arg(s1, 1), 2.0) && op(arg(s1, 0)) == Op::Log &&
                         op(arg(arg(s1, 0), 0)) == Op::Abs && arg(arg(arg(s1, 0), 0), 0) == v;
          bool log_square =
              op(s1) == Op::Log && op(arg(s1, 0)) == Op::Mul && arg(arg(s1, 0), 0) == v && arg(arg(s1, 0), 1) == v;
          if (two_log || log_square) return log1p_inverse_square(v);
        }
        // log(2 cosh(a)) - |a| = log1p(exp(-2|a|)) (log(2 cosh(x)) - abs(x): 0 past 9 in
        // float, 1% off at 6), log(cosh(a)) - |a| as that - log 2 from |a| = 1/2 (below,
        // log1p(2 sinh(a/2)^2) - |a|: the log 2 would cancel near 0, and the far form's
        // slope tanh(a) - sign(a) near 2, where log_cosh switches); |a| - ... their negations
        for (int k = 0; k < 2; ++k) {
          NodeId l = a[size_t(k)], ab = a[size_t(1 - k)];
          if (op(ab) != Op::Abs) continue;
          NodeId t = arg(ab, 0), r = ir::kNoNode;
          auto two = log_2cosh_of_.find(l);
          auto one = log_cosh_of_.find(l);
          bool plus_log2 = two != log_2cosh_of_.end() && two->second == t;
          if (!plus_log2 && (one == log_cosh_of_.end() || one->second != t)) continue;
          NodeId tail = make(Op::Log1p, {make(Op::Exp, {make(Op::Mul, {ab, c(-2)})})});
          r = plus_log2 ? tail
                        : make(Op::Where, {make(Op::Lt, {ab, c(0.5)}), make(Op::Sub, {arg(l, 1), ab}),
                                           make(Op::Add, {tail, c(-std::numbers::ln2)})});
          return k == 0 ? r : neg(r);
        }
        // log(cosh(a)) - a = softplus(-2a) - log 2 (the shifted softplus), and a -
        // log(cosh(a)) its negation: |a| - a cancelled (0 past 3e19 in float, 3e-3 off at 1e5)
        for (int k = 0; k < 2; ++k)
          if (auto it = log_cosh_of_.find(a[size_t(k)]); it != log_cosh_of_.end() && it->second == a[size_t(1 - k)]) {
            NodeId r = shifted_softplus(softplus(scaled(it->second, -2)));
            return k == 0 ? r : neg(r);
          }
        {
          // softplus(a) - softplus(-a) = a (logit(sigmoid(a)) as log(sigmoid(a)) - log(1 -
          // sigmoid(a)): 0 at 1e-8 in float, 1.7e-4 off at -1e-4), sigmoid(a) - sigmoid(-a)
          // = tanh(a/2) (0 at 1e-8, 7.6e-4 off at -1e-4)
          // (-f(q)) - (-f(p)) = f(p) - f(q) (log(sigmoid(a)) is -softplus(-a))
          bool negated = op(a[0]) == Op::Neg && op(a[1]) == Op::Neg;
          NodeId f = negated ? arg(a[1], 0) : a[0], g = negated ? arg(a[0], 0) : a[1];
          NodeId p = guarded_softplus_argument(f), q = guarded_softplus_argument(g);
          if (p != ir::kNoNode && q != ir::kNoNode && negations(p, q)) return p;
          auto sp = ir::sigmoid_form(g_, f), sq = ir::sigmoid_form(g_, g);
          if (sp && sq && negations(sp->a, sq->a)) return make(Op::Tanh, {scaled(sp->a, 0.5)});
        }
        if (g_.is_const(a[0]))  // 1 - x / sqrt(x^2 + b), ... (shifted_ratio)
          if (NodeId r = shifted_ratio(neg(a[1]), g_.const_value(a[0])); r != ir::kNoNode) return r;
        // k - k erf(a) = k erfc(a)
        if (g_.is_const(a[0]) && op(a[1]) == Op::Mul && op(arg(a[1], 0)) == Op::Erf && g_.is_const(arg(a[1], 1)) &&
            g_.const_value(arg(a[1], 1)) == g_.const_value(a[0]) && !is(a[0], 0.0))
          return make(Op::Mul, {make(Op::Erfc, {arg(arg(a[1], 0), 0)}), a[0]});
        // 2 - erfc(a) = erfc(-a), 2k - k erfc(a) = k erfc(-a) (x - 0.5 x erfc(x / sqrt(2)), the
        // gelu through its complement, was 0 below -5.6 in float)
        if (g_.is_const(a[0]) && !is(a[0], 0.0)) {
          NodeId e = op(a[1]) == Op::Mul && g_.is_const(arg(a[1], 1)) ? arg(a[1], 0) : a[1];
          double k = e == a[1] ? 1 : g_.const_value(arg(a[1], 1));
          if (op(e) == Op::Erfc && g_.const_value(a[0]) == 2 * k)
            return times(make(Op::Erfc, {scaled(arg(e, 0), -1)}), k);
        }
        if (is(a[0], 1.0)) {
          NodeId t = a[1];
          if (op(t) == Op::Exp) return make(Op::Sub, {c(0), make(Op::Expm1, {arg(t, 0)})});  // 1 - exp(a) = 0 - expm1(a) (+0 at a = 0)
          if (op(t) == Op::Erf) return make(Op::Erfc, {arg(t, 0)});                 // 1 - erf(a) = erfc(a)
          if (op(t) == Op::Erfc) return make(Op::Erf, {arg(t, 0)});                 // 1 - erfc(a) = erf(a)
          if (op(t) == Op::Cos) return one_minus_cos(arg(t, 0));                  // 1 - cos(a) = 2 sin(a/2)^2
          if (op(t) == Op::Cosh) return neg(cosh_minus_one(arg(t, 0)));          // 1 - cosh(a)
          if (op(t) == Op::Tanh) return tanh_plus_one(neg(arg(t, 0)));            // 1 - tanh(a) = 1 + tanh(-a)
          if (auto sig = ir::sigmoid_form(g_, t)) return sigmoid(neg(sig->a));   // 1 - sigmoid(a) = sigmoid(-a)
          // 1 - sigmoid(a)^2 = sigmoid(-a) (1 + sigmoid(a)) for a >= 0 (0 past 17 in
          // float); as written below 0, where sigmoid(a)^2 <= 1/4 (the product
          // rule on the factored form cancels there: its slope -2 s^2 sigmoid(-a)
          // is the difference of two terms of size s)
          if (op(t) == Op::Mul && arg(t, 0) == arg(t, 1))
            if (auto sig = ir::sigmoid_form(g_, arg(t, 0))) {
              NodeId factored = make(Op::Mul, {sigmoid(scaled(sig->a, -1)), make(Op::Add, {arg(t, 0), c(1)})});
              return make(Op::Where, {make(Op::Ge, {sig->a, c(0)}), factored, make(Op::Sub, {a[0], t})});
            }
          // 1 - tanh(a)^2 = 4e / (1 + e)^2, e = exp(-2|a|): nothing cancels near tanh(a) = +-1
          if (op(t) == Op::Mul && arg(t, 0) == arg(t, 1) && op(arg(t, 0)) == Op::Tanh)
            return ir::sech2(g_, arg(arg(t, 0), 0));
        }
        if (NodeId r = distributed_sum(Op::Sub, a[0], a[1]); r != ir::kNoNode) return r;    // v - v t
        if (NodeId r = common_factor_sum(Op::Sub, a[0], a[1]); r != ir::kNoNode) return r;  // k u - k w
        break;
      case Op::Div: {
        if (NodeId r = merged_exps(a[0], a[1], true); r != ir::kNoNode) return r;
        // expm1(a) / exp(b) past a = 80, where expm1(a) is exp(a): exp(a - b) (the
        // quotient was inf / inf = NaN past 709.8: (exp(x) - 1) / exp(softplus(x)), 1
        // there, random_forms seed 5214)
        if (op(a[0]) == Op::Expm1 && op(a[1]) == Op::Exp && arg(a[0], 0) != arg(a[1], 0) && !input_free(a[1])) {
          NodeId ea = arg(a[0], 0);
          NodeId far = stabilized(Op::Exp, stabilized(Op::Sub, ea, arg(a[1], 0)));
          return rare_where(make(Op::Gt, {ea, c(ir::kExpDivSplit)}), far, make(Op::Div, {a[0], a[1]}));
        }
        // u over a power the rules rewrote as where(c, far, near): where(c, u / far, u /
        // near), the rare mark kept, so that the derivative sees each quotient (x / (1 +
        // |x|^2.5)^0.4: the power softsign's slope, diff.cpp's power_sum_quotient_slope)
        if (auto it = pow_of_.find(a[1]); it != pow_of_.end() && op(a[1]) == Op::Where)
          return ir::where(g_, arg(a[1], 0), stabilized(Op::Div, a[0], arg(a[1], 1)),
                           stabilized(Op::Div, a[0], arg(a[1], 2)), ir::rare_where(g_, a[1]));
        // Quotients over exp(p) + exp(q) (q = 0 for + 1): sigmoid, tanh (over_exp_sum).
        NodeId num = a[0], den = a[1];
        // k / exp(a) = k exp(-a) for k free of the input, so that the rules for exp(-a)
        // see it (log(1 + 1 / exp(x)) was inf below -88.7 in float: softplus(-x) now).
        // (Not for any u: u exp(-a) overflows where u / exp(a) underflows and the
        // other way round, and softplus(x) / exp(x) is finite below -88.7 only so.)
        if (op(den) == Op::Exp && input_free(num))
          return stabilized(Op::Mul, num, make(Op::Exp, {scaled(arg(den, 0), -1)}));
        // v v / R = |v| (|v| / R), R a root of v*v + b (x^2 / sqrt(x^2 + 1) was inf past
        // 1.8e19 in float, where v v overflows and the quotient does not)
        if (op(num) == Op::Mul && arg(num, 0) == arg(num, 1))
          if (auto r = ir::root_of_square_sum(g_, den); r && r->v == arg(num, 0)) {
            NodeId av = make(Op::Abs, {r->v});
            return make(Op::Mul, {av, make(Op::Div, {av, den})});
          }
        // k / sigmoid(a) = k (exp(-a) + 1) for k free of the input (1 / sigmoid(x) - 1 was 0
        // past 17 in float; not for any u, as for k / exp(a) above: exp(x) / sigmoid(x)
        // is finite below -88.7 only as the quotient)
        if (auto sig = ir::sigmoid_form(g_, den); sig && input_free(num))
          return stabilized(Op::Mul, num, make(Op::Add, {make(Op::Exp, {scaled(sig->a, -1)}), c(1)}));
        if (NodeId r = over_exp_sum(num, den); r != ir::kNoNode) return r;
        if (!in_removable_)  // softplus(t) / exp(t), as softplus(t) exp(-t) above
          if (NodeId r = softplus_over_exp(num, den, true); r != ir::kNoNode) return r;
        // u / (exp(p) + exp(q)) = u e e / (1 + exp(-|p - q|)), e = exp(-m/2), m = max(p, q),
        // past m = kExpDivSplit, u free of exps (x / (exp(x) + exp(-x)) was 0 past 710 in
        // double, where it is a normal number to 745; exp(-m) itself would be subnormal)
        if (auto [top, m] = larger_exponent(den); top != ir::kNoNode && !grows_exponentially(num)) {
          NodeId e = make(Op::Exp, {scaled(top, -0.5)});
          NodeId far =
              make(Op::Div, {make(Op::Mul, {make(Op::Mul, {num, e}), e}), make(Op::Add, {make(Op::Exp, {m}), c(1)})});
          return rare_where(make(Op::Gt, {top, c(ir::kExpDivSplit)}), far, make(Op::Div, {num, den}));
        }
        if (NodeId r = over_exps(num, den); r != ir::kNoNode) return r;
        // u / (R c), R a root of v*v + b as the Sqrt rule writes sqrt(k v*v + b):
        // (u / R) (1 / c), whose quotient the derivative takes without
        // cancellation where u = v (ISRU)
        if (op(den) == Op::Mul)
          for (int k = 0; k < 2; ++k)
            if (g_.is_const(arg(den, k)) && !is(arg(den, k), 0.0) && ir::root_of_square_sum(g_, arg(den, 1 - k)))
              return make(Op::Mul, {stabilized(Op::Div, num, arg(den, 1 - k)), c(1 / g_.const_value(arg(den, k)))});
        // log(cosh(a)) / b and b / log(cosh(a)) for a = s b (s a constant)
        if (auto it = log_cosh_of_.find(num); it != log_cosh_of_.end())
          if (double s = ratio(it->second, den); s != 0)
            if (NodeId q = log_cosh_over(num); q != ir::kNoNode) return times(q, s);
        if (auto it = log_cosh_of_.find(den); it != log_cosh_of_.end())
          if (double s = ratio(it->second, num); s != 0)
            if (NodeId q = log_cosh_over(den); q != ir::kNoNode) return make(Op::Div, {c(1 / s), q});
        // sinh(a) / cosh(a) = tanh(a), cosh(a) / sinh(a) = 1 / tanh(a) (inf / inf past 89)
        if (op(num) == Op::Sinh && op(den) == Op::Cosh && arg(num, 0) == arg(den, 0)) return make(Op::Tanh, {arg(num, 0)});
        if (op(num) == Op::Cosh && op(den) == Op::Sinh && arg(num, 0) == arg(den, 0))
          return make(Op::Div, {c(1), make(Op::Tanh, {arg(num, 0)})});
        // u exp(a) / expm1(a) = -u / expm1(-a) for a > 0 (x exp(x) / (exp(x) - 1):
        // inf / inf past 89; below 0 the quotient as written, whose exp does not overflow)
        if (op(den) == Op::Expm1) {
          NodeId t = arg(den, 0), u = ir::kNoNode;
          bool match = op(num) == Op::Exp && arg(num, 0) == t;
          for (int k = 0; k < 2 && !match && op(num) == Op::Mul; ++k)
            if (op(arg(num, k)) == Op::Exp && arg(arg(num, k), 0) == t) {
              match = true;
              u = arg(num, 1 - k);
            }
          if (match && u == t && !in_removable_)  // a exp(a) / expm1(a) = (-a) / expm1(-a) for all a
            return removable_quotient({neg(t), make(Op::Expm1, {neg(t)}), ir::kNoNode});
          if (match) {
            NodeId flipped = make(Op::Div, {u == ir::kNoNode ? c(-1) : neg(u), make(Op::Expm1, {scaled(t, -1)})});
            return make(Op::Where, {make(Op::Gt, {t, c(0)}), flipped, make(Op::Div, {num, den})});
          }
        }
        // where(c, p, q) / d as where(c, p / d, q / d) where a branch's quotient has a
        // removable singularity ((sqrt(x^2 + 1) - 1) / x as rewritten was 0 / 0 at 0),
        // and p / where(c, d, e) likewise (exp(x/2) / sqrt(1 + exp(x)) as rewritten)
        if (!in_removable_)
          for (int side = 0; side < 2; ++side)
            if (NodeId r = branch_quotients(num, den, side == 1); r != ir::kNoNode) return r;
        if (!in_removable_)  // u(a) / a and a / u(a) for u(0) = 0: sinc, x / expm1(x), ... (after
                             // u exp(a) / expm1(a): exp(x) x / expm1(x) is not exp(x) (x / expm1(x)))
          if (NodeId r = removable_quotient(a); r != ir::kNoNode) return r;
        // u / expm1(a) past a = 80 (also as the removable quotient's far side): u e e
        // with e = exp(-a/2) (expm1(-a) is -1 to double's precision there): x /
        // expm1(x) was 0 past x = 89 in float, where it is a normal number up to 95,
        // and past 710 in double. (exp(b) / expm1(a) is the ratio's, below.)
        if (op(den) == Op::Expm1 && !input_free(num) && op(num) != Op::Exp && op(num) != Op::Expm1) {
          NodeId t = arg(den, 0), e = make(Op::Exp, {scaled(t, -0.5)});
          NodeId far = make(Op::Mul, {make(Op::Mul, {num, e}), e});
          return rare_where(make(Op::Gt, {t, c(ir::kExpDivSplit)}), far, make(Op::Div, {num, den}));
        }
        // exp(a) / b and, for large a, expm1(a) / b: finite where the ratio
        // is though exp(a) overflows, with a derivative free of inf - inf.
        // Not inside row-wise functions (softmax's exp(x - max) / sum never
        // overflows, and its vector-Jacobian product is tuned as it is).
        if ((op(num) == Op::Exp || op(num) == Op::Expm1) && !ir::is_rowwise(g_, std::array{num, den})) {
          NodeId ea = arg(num, 0);
          NodeId ratio = make(Op::ExpDiv, {ea, den});
          if (op(num) == Op::Exp) return ratio;
          return rare_where(make(Op::Gt, {ea, c(ir::kExpDivSplit)}), ratio, make(Op::Div, {num, den}));
        }
        if (NodeId r = over_hyperbolic(num, den); r != ir::kNoNode) return r;
        if (NodeId r = hyperbolic_over(num, den); r != ir::kNoNode) return r;
        if (NodeId r = over_square_sum(num, den); r != ir::kNoNode) return r;
        if (NodeId r = over_shifted(num, den); r != ir::kNoNode) return r;
        if (NodeId r = over_polynomial(num, den); r != ir::kNoNode) return r;
        if (NodeId r = over_growing(num, den); r != ir::kNoNode) return r;
        break;
      }
      case Op::Mul: {
        if (NodeId r = merged_exps(a[0], a[1], false); r != ir::kNoNode) return r;
        // p (P / Q) = (p P) / Q for polynomials p, P, Q (over_polynomial's quotient),
        // and (P / Q) (R / S) = (P R) / (Q S): P / Q underflowed where p brings it back
        // (x (1 - x) / (1 + x^4) was 0 at 1e200 in double, where it is -1e-200;
        // random_forms seeds 5201, 5203)
        // (Not a square v v: log1p(v v), sqrt(v v + b), ... have rules of their own for
        // it, and 2 log|v| held log(1 + (P / Q)^2) at 1e200: seed 5206.)
        for (int k = 0; k < 2 && a[0] != a[1]; ++k)
          if (auto it = quotient_of_polynomials_.find(a[size_t(k)]); it != quotient_of_polynomials_.end()) {
            auto [p, q] = it->second;
            NodeId other = a[size_t(1 - k)];
            if (auto o = quotient_of_polynomials_.find(other); o != quotient_of_polynomials_.end())
              return stabilized(Op::Div, make(Op::Mul, {p, o->second.first}), make(Op::Mul, {q, o->second.second}));
            if (!input_free(other) && polynomial_degree(other) >= 1)
              return stabilized(Op::Div, make(Op::Mul, {other, p}), q);
          }
        // softplus(t) exp(-t) = log1p(e) / e, e = exp(t), for t < 0, with the removable
        // quotient's series near e = 0 (exp(-x) softplus(x) was inf below -88.7 in float,
        // NaN below -1e5: inf * 0)
        for (int k = 0; k < 2 && !in_removable_; ++k)
          if (NodeId r = softplus_over_exp(a[size_t(k)], a[size_t(1 - k)], false); r != ir::kNoNode) return r;
        // exp(-a) expm1(a) = -expm1(-a) (exp(-x) (exp(x) - 1): inf past 88.7 in float)
        for (int k = 0; k < 2; ++k)
          if (op(a[size_t(k)]) == Op::Exp && op(a[size_t(1 - k)]) == Op::Expm1 &&
              negations(arg(a[size_t(k)], 0), arg(a[size_t(1 - k)], 0)))
            return neg(make(Op::Expm1, {arg(a[size_t(k)], 0)}));
        for (int k = 0; k < 2; ++k)  // v (1 + v / sqrt(v^2 + b)) (PFLU), ... (shifted_ratio)
          if (NodeId r = times_shifted_ratio(a[size_t(k)], a[size_t(1 - k)]); r != ir::kNoNode) return r;
        // erfc(a) exp(a^2) (erfcx): NaN past 9.4 in float (0 * inf)
        for (int k = 0; k < 2; ++k) {
          NodeId e = a[size_t(k)], f = a[size_t(1 - k)];
          if (op(e) == Op::Exp && op(f) == Op::Erfc && op(arg(e, 0)) == Op::Mul && arg(arg(e, 0), 0) == arg(f, 0) &&
              arg(arg(e, 0), 1) == arg(f, 0)) {
            NodeId t = arg(f, 0);
            NodeId far = make(Op::Div, {erfcx_series(t), make(Op::Mul, {t, c(std::sqrt(std::numbers::pi))})});
            return rare_where(make(Op::Gt, {t, c(kErfcSeries)}), far, make(Op::Mul, {f, e}));
          }
        }
        // a a 4^j = (a 2^j) (a 2^j), exactly: the square's rules see it
        // (sqrt(1 + 4 x^2) - 1 as 4 x^2 / (sqrt(...) + 1))
        if (g_.is_const(a[1]) || op(a[0]) == Op::Mul || op(a[1]) == Op::Mul) {  // (a constant is needed somewhere)
          std::vector<NodeId> nums, dens;
          double k = 1;
          factors(a[0], nums, dens, k, false);
          factors(a[1], nums, dens, k, false);
          int e = 0;
          if (nums.size() == 2 && nums[0] == nums[1] && dens.empty() && k != 1 && std::frexp(k, &e) == 0.5 &&
              (e - 1) % 2 == 0) {
            NodeId t = make(Op::Mul, {nums[0], c(std::ldexp(1.0, (e - 1) / 2))});
            return make(Op::Mul, {t, t});
          }
        }
        // exp(p) sigmoid(a) = exp(p) / (exp(-a) + 1) as over_exp_sum writes it
        // (exp(x) sigmoid(-x) is sigmoid(x); it was inf past 88.7 in float)
        for (int k = 0; k < 2; ++k)
          if (op(a[size_t(k)]) == Op::Exp)
            if (auto sig = ir::sigmoid_form(g_, a[size_t(1 - k)])) {
              NodeId den = make(Op::Add, {make(Op::Exp, {scaled(sig->a, -1)}), c(1)});
              if (NodeId r = over_exp_sum(a[size_t(k)], den); r != ir::kNoNode) return r;
            }
        // (u 2^j) k = u (2^j k) for j >= 0: u 2^j is exact where it does not
        // overflow, and where it does the folded product may not (the same
        // value otherwise): (1 + tanh(x)) / 2 = (2 sigmoid(2x)) / 2 is
        // sigmoid(2x) again, and log((1 + tanh(x)) / 2) -softplus(-2x) (it
        // was 0 at x = 30); (exp(x) - exp(-x)) / 2 is sinh(x)
        NodeId p = a[0];
        if (op(p) == Op::Mul && g_.is_const(arg(p, 1)) && g_.is_const(a[1])) {
          double pk = g_.const_value(arg(p, 1)), k = pk * g_.const_value(a[1]);
          int e = 0;
          if (std::frexp(pk, &e) == 0.5 && pk >= 1 && std::isnormal(k))
            return k == 1 ? arg(p, 0) : make(Op::Mul, {arg(p, 0), c(k)});
        }
        break;
      }
      case Op::Pow:  // exp(a)^c = exp(a c) (no overflow of exp(a) for |c| < 1)
        if (op(a[0]) == Op::Exp && g_.is_const(a[1]) && !is(a[1], 0.0))
          return make(Op::Exp, {make(Op::Mul, {arg(a[0], 0), a[1]})});
        // (exp(p) + 1)^c = exp(c max(p, 0)) (1 + exp(-|p|))^c (1 / (1 + exp(-x))^0.5 was 0
        // below -89 in float, where it is 3.7e-20). Not exp(c softplus(p)): that exp's
        // argument rounded with softplus (87 ULP off at 1000 in double for c = 0.3), where
        // c max(p, 0)'s is carried (emitter.cpp) and the power's base is in [1, 2].
        if (g_.is_const(a[1]) && !is(a[1], 0.0)) {
          auto [t, zero] = exp_sum(a[0]);
          if (t != ir::kNoNode && is(zero, 0.0) && !is(t, 0.0)) {
            // (one condition for both where()s, as softplus: the slope at p = 0 takes one side)
            NodeId pos = make(Op::Gt, {t, c(0)});
            NodeId big = make(Op::Exp, {make(Op::Mul, {make(Op::Where, {pos, t, c(0)}), a[1]})});
            NodeId rest =
                make(Op::Pow, {make(Op::Add, {make(Op::Exp, {make(Op::Where, {pos, neg(t), t})}), c(1)}), a[1]});
            NodeId r = make(Op::Mul, {big, rest});
            pow_of_[r] = {a[0], a[1]};
            return r;
          }
        }
        if (g_.is_const(a[1]) && !is(a[1], 0.0))
          if (NodeId r = sigmoid_power(a[0], a[1]); r != ir::kNoNode) return r;
        // (a*a + b)^0.5, ^-0.5 for a constant b > 0 (positive: pow and sqrt agree) as
        // sqrt, 1 / sqrt, which the rules below know (x / (1 + x*x)^0.5 was 0 past 1.8e19)
        if ((is(a[1], 0.5) || is(a[1], -0.5)) && op(a[0]) == Op::Add && g_.is_const(arg(a[0], 1)) &&
            g_.const_value(arg(a[0], 1)) > 0 && op(arg(a[0], 0)) == Op::Mul && arg(arg(a[0], 0), 0) == arg(arg(a[0], 0), 1)) {
          NodeId r = stabilized(Op::Sqrt, a[0]);
          return is(a[1], 0.5) ? r : make(Op::Div, {c(1), r});
        }
        if (g_.is_const(a[1]))
          if (NodeId r = power_of_sum(a[0], a[1]); r != ir::kNoNode) return r;  // (a*a + b)^k, (|a|^p + b)^k
        break;
      case Op::Asinh:
        // asinh(exp(w)) = w + log(1 + sqrt(1 + exp(-2w))), w + log 2 to double's
        // precision past w = 20 (inf past 88.7 in float, 709.8 in double, where
        // exp(w) overflows): a rare branch
        if (op(a[0]) == Op::Exp) {
          NodeId w = arg(a[0], 0);
          return rare_where(make(Op::Gt, {w, c(20)}), make(Op::Add, {w, c(std::numbers::ln2)}),
                            make(Op::Asinh, {a[0]}));
        }
        // asinh(u) = sign(u) (log|u| + log 2) past |u| = e^20, log|u| by log_far
        // where exps take u past the range (asinh(expm1(x) + k) was inf past 709.8
        // in double: random_forms seed 5110)
        if (LogFar f = log_far(a[0], 6); f.far != ir::kNoNode) {
          NodeId plain = make(Op::Asinh, {a[0]});
          NodeId big = make(Op::Add, {f.far, c(std::numbers::ln2)});
          if (f.sign != ir::kNoNode) big = make(Op::Mul, {big, f.sign});
          NodeId far = make(Op::Where, {make(Op::Gt, {f.far, c(20)}), big, plain});
          return rare_where(f.cond, far, plain);
        }
        break;
      case Op::Sqrt: {
        NodeId s = a[0];
        // sqrt(k v*v) = |v| sqrt(k), k > 0 (sqrt(x*x) was inf past 1.8e19 in float and 0
        // below 1e-23; its slope there inf)
        if (op(s) == Op::Mul) {
          std::vector<NodeId> tn, td;
          double k = 1;
          factors(s, tn, td, k, false);
          if (td.empty() && tn.size() == 2 && tn[0] == tn[1] && k > 0 && std::isfinite(k))
            return times(make(Op::Abs, {tn[0]}), std::sqrt(k));
        }
        if (op(s) == Op::Exp) return make(Op::Exp, {make(Op::Mul, {arg(s, 0), c(0.5)})});  // sqrt(exp(a)) = exp(a/2)
        if (NodeId r = sigmoid_power(s, c(0.5)); r != ir::kNoNode) return r;               // sqrt(sigmoid(a))
        // sqrt(exp(a) + b), b a constant >= 0: exp(a/2) sqrt(1 + b exp(-a)) for a > 0
        // (sqrt(1 + exp(x)) was inf past 88.7 in float, where it is finite to 177)
        if (op(s) == Op::Add && op(arg(s, 0)) == Op::Exp && g_.is_const(arg(s, 1)) && g_.const_value(arg(s, 1)) >= 0) {
          NodeId t = arg(arg(s, 0), 0);
          NodeId inner = make(Op::Add, {make(Op::Mul, {make(Op::Exp, {scaled(t, -1)}), arg(s, 1)}), c(1)});
          NodeId big = make(Op::Mul, {make(Op::Exp, {scaled(t, 0.5)}), make(Op::Sqrt, {inner})});
          NodeId r = make(Op::Where, {make(Op::Gt, {t, c(0)}), big, make(Op::Sqrt, {s})});
          return rewritten_root(r, s);
        }
        // sqrt(exp(p) + exp(q)) = exp(m/2) sqrt(1 + exp(-|p - q|)), m = max(p, q), past
        // m = kExpDivSplit (sqrt(exp(x) + exp(-x)) was inf past 89 in float, 710 in double,
        // where it is finite to 177 and 1420); below it as written, whose slope does not
        // cancel near p = q as the far form's would
        if (auto [top, m] = larger_exponent(s); top != ir::kNoNode) {
          NodeId big = make(Op::Mul, {make(Op::Exp, {scaled(top, 0.5)}),
                                      make(Op::Sqrt, {make(Op::Add, {make(Op::Exp, {m}), c(1)})})});
          NodeId r = rare_where(make(Op::Gt, {top, c(ir::kExpDivSplit)}), big, make(Op::Sqrt, {s}));
          return rewritten_root(r, s);
        }
        // sqrt(cosh(a)) = exp(|a|/2) sqrt((1 + exp(-2|a|)) / 2) past |a| = kExpDivSplit
        // (inf past 89 in float, where it is finite to 177)
        if (op(s) == Op::Cosh) {
          NodeId aa = make(Op::Abs, {arg(s, 0)});
          NodeId inner = make(Op::Add, {make(Op::Mul, {make(Op::Exp, {scaled(aa, -2)}), c(0.5)}), c(0.5)});
          NodeId big = make(Op::Mul, {make(Op::Exp, {scaled(aa, 0.5)}), make(Op::Sqrt, {inner})});
          return rare_where(make(Op::Gt, {aa, c(ir::kExpDivSplit)}), big, make(Op::Sqrt, {s}));
        }
        // k v*v + b, k a positive constant other than 1 (ISRU's 1 + a x^2 for
        // a constant a): sqrt(k) sqrt(v*v + b/k), whose root the rule below
        // guards (x / sqrt(1 + 0.5 x^2) was 0 past 1.8e19 in float) and the
        // Div rule and the derivative's quotient rule know.
        for (int side = 0; side < 2 && op(s) == Op::Add; ++side) {
          NodeId t = arg(s, side), b = arg(s, 1 - side);
          if (op(t) != Op::Mul || arg(t, 0) == arg(t, 1) || !input_free(b)) continue;  // (a square as it is: below)
          std::vector<NodeId> tn, td;
          double k = 1;
          factors(t, tn, td, k, false);
          if (!td.empty() || tn.size() != 2 || tn[0] != tn[1] || !(k > 0) || k == 1 || !std::isfinite(k)) continue;
          NodeId scaled_b = g_.is_const(b) ? c(g_.const_value(b) / k) : make(Op::Mul, {b, c(1 / k)});
          NodeId root = stabilized(Op::Sqrt, make(Op::Add, {make(Op::Mul, {tn[0], tn[0]}), scaled_b}));
          return rewritten_root(make(Op::Mul, {root, c(std::sqrt(k))}), s);
        }
        auto is_square = [&](NodeId t) { return op(t) == Op::Mul && arg(t, 0) == arg(t, 1); };
        // x * x + b, or b + x * x (a non-constant b may come first; of two squares the
        // one beside a b free of the input: SMU-1's mu*mu + (0.75 x)^2 with a passed mu
        // was guarded on |mu| and inf past 1.8e19 in float)
        int sq = -1;
        for (int side = 0; side < 2 && op(s) == Op::Add; ++side)
          if (is_square(arg(s, side)) && (sq < 0 || !input_free(arg(s, 1 - sq)))) sq = side;
        if (sq >= 0) {
          NodeId x = arg(arg(s, sq), 0), b = arg(s, 1 - sq);
          NodeId ax = make(Op::Abs, {x});
          // A constant b: past |x| = 2^27 sqrt|b|, b / x^2 < 2^-54 and sqrt(x^2 + b)
          // rounds to |x| (float and double), whose derivative is sign(x):
          // no divisions. (A threshold <= kSquareGuard keeps x^2 finite below it.)
          if (g_.is_const(b)) {
            double threshold = std::ldexp(std::sqrt(std::fabs(g_.const_value(b))), 27);
            if (threshold > 0 && threshold <= kSquareGuard)
              return rewritten_root(make(Op::Where, {make(Op::Gt, {ax, c(threshold)}), ax, make(Op::Sqrt, {s})}), s,
                                    false);
          }
          // Else past |x| = 1e15 |x| sqrt(1 + b/x^2), with b/x^2 as (b r) r,
          // r = 1/x (one division; within 1.5 ULP of b/x^2), and one square
          // root for both sides: sqrt(where(c, 1 + (b r) r, x^2 + b))
          // where(c, |x|, 1) (squareplus with a parameter b: the guard with a
          // root of its own took 3.2 e/ns forward, 5.2 now). At |x| = inf
          // the product's derivatives are inf * 0: |x| itself there
          // (ir::root_of_square_sum reads this shape).
          NodeId r = make(Op::Div, {c(1), x});
          NodeId big = make(Op::Gt, {ax, c(kSquareGuard)});
          NodeId radicand = make(Op::Where, {big, make(Op::Add, {c(1), make(Op::Mul, {make(Op::Mul, {b, r}), r})}), s});
          NodeId root = make(Op::Mul, {make(Op::Sqrt, {radicand}), make(Op::Where, {big, ax, c(1)})});
          return make(Op::Where, {make(Op::Eq, {ax, c(HUGE_VAL)}), ax, root});
        }
        // K x*x + b, K a parameter's expression (ISRU with a learned a, x /
        // sqrt(1 + a x^2): 0 past 1.8e19 in float): the constant b's guard
        // with its bound from the parameters, 2^27 sqrt|b / K| (computed once
        // a call), past which K x^2 + b rounds to K x^2: |x| sqrt(K) there.
        // (The guard of a parameter's b above, with 1/x, cost ISRU 29% of
        // its speed.) K <= 0: the bound is inf, or sqrt(K) NaN as the sum's
        // root is; a NaN bound takes the sum.
        if (op(s) == Op::Add)
          for (int side = 0; side < 2; ++side) {
            auto [x, K] = scaled_square(arg(s, side));
            NodeId b = arg(s, 1 - side);
            if (x == ir::kNoNode || !input_free(b)) continue;
            NodeId bound = make(Op::Mul, {make(Op::Sqrt, {make(Op::Abs, {make(Op::Div, {b, K})})}), c(0x1p27)});
            NodeId ax = make(Op::Abs, {x});
            NodeId far = make(Op::Mul, {ax, make(Op::Sqrt, {K})});
            return rewritten_root(make(Op::Where, {make(Op::Gt, {ax, bound}), far, make(Op::Sqrt, {s})}), s);
          }
        break;
      }
      default:
        break;
    }
    return simplify::rewrite(g_, n.op, std::span<const NodeId>(a.data(), n.arity), n.value, n.lo);
  }

  /// The second pass: `n` with polynomials_far in a comparison's operands,
  /// which take a NaN as false and leave no lane to recompute, and k exp(a)
  /// as one exp (below). After every
  /// rule has matched the forms as written (the sign tests of sigmoid and
  /// logsigmoid, which the rules read, compare a polynomial too: seed 5110's
  /// log(sigmoid(logsigmoid(P))) was -inf at -8 when they were rewritten
  /// first).
  NodeId after_rules(const ir::Node& n, std::array<NodeId, 3> a) {
    if (n.op == Op::Lt || n.op == Op::Le || n.op == Op::Gt || n.op == Op::Ge)
      for (int k = 0; k < 2; ++k) a[size_t(k)] = polynomials_far(a[size_t(k)], 3);
    // u exp(a) k and u exp(a) / k (u possibly 1) = u exp(a + log|k|) (negated for k <
    // 0), log|k| as hi + lo (Node::lo), which the kernels carry in exp's argument:
    // exp(a) overflowed where the product is finite (0.001 exp(x) was inf past 709.8
    // in double, where it is finite to 716.7, and past 88.7 in float; x exp(x) / 1000
    // past 709.8: the product overflowed before the constant came) or underflowed
    // where it is normal (1e30 exp(x) below -708). Here, after the rules, which read
    // k exp(a) (log(k (1 + exp(a))) among them). Not for k = 2^j.
    if (n.op == Op::Mul || (n.op == Op::Div && g_.is_const(a[1])))
      if (NodeId r = scaled_exp_product(n.op, a[0], a[1]); r != ir::kNoNode) return r;
    // where(P >= 0, -P, P), exp's argument in the sigmoid and softplus forms,
    // whose sign test took P's far form above: its branches take it too, so
    // that the forms' recognizers (ir::sigmoid_form) read one argument and the
    // differentiator their slopes (sigmoid(x + 0.5 x^3)'s was the quotient
    // rule's, NaN past 1e154 in double)
    if (n.op == Op::Where && a[0] != n.args[0]) {
      const ir::Node was = g_[n.args[0]], now = g_[a[0]];
      NodeId p = was.args[0];
      if ((was.op == Op::Ge || was.op == Op::Gt) && now.op == was.op && is(was.args[1], 0) &&
          now.args[1] == was.args[1] && a[2] == p && a[1] == neg(p)) {
        a[2] = now.args[0];
        a[1] = neg(now.args[0]);
      }
    }
    return simplify::rewrite(g_, n.op, std::span<const NodeId>(a.data(), n.arity), n.value, n.lo);
  }

  /// p q (o Mul) or p / q (o Div, q a constant) with factors u exp(a) k (u
  /// none or more factors, exactly one exp, k a constant other than +-2^j:
  /// exact, and an exp more in mish's e (e + 2)) as u exp(a + log|k|),
  /// negated for k < 0, log|k| as hi + lo; kNoNode otherwise.
  NodeId scaled_exp_product(Op o, NodeId p, NodeId q) {
    std::vector<NodeId> nums, dens;
    double k = 1;
    factors(p, nums, dens, k, false);
    if (o == Op::Mul) factors(q, nums, dens, k, false);
    long double divisor = o == Op::Div ? static_cast<long double>(g_.const_value(q)) : 1.0L;
    if (!dens.empty() || nums.empty() || divisor == 0 || !std::isfinite(double(divisor))) return ir::kNoNode;
    int exps = 0;
    for (NodeId f : nums) exps += op(f) == Op::Exp && !input_free(f);
    long double total = static_cast<long double>(k) / divisor;
    int e2 = 0;
    if (exps != 1 || total == 0 || !std::isfinite(double(total)) || std::fabs(std::frexp(double(total), &e2)) == 0.5)
      return ir::kNoNode;
    long double l = std::log(std::fabs(static_cast<long double>(k))) - std::log(std::fabs(divisor));
    NodeId shift = ir::constant(g_, double(l), double(l - static_cast<long double>(double(l))));
    NodeId product = ir::kNoNode;
    for (NodeId f : nums) {
      NodeId t = op(f) == Op::Exp && !input_free(f) ? make(Op::Exp, {make(Op::Add, {arg(f, 0), shift})}) : f;
      product = product == ir::kNoNode ? t : make(Op::Mul, {product, t});
    }
    return total < 0 ? neg(product) : product;
  }

  /// `r`, a root sqrt(s) as the Sqrt rule rewrote it, noted (root_of_) for
  /// the rules that take a root apart: log(sqrt(s)), and sqrt(s) - sqrt(b)
  /// as the quotient over r for any u (`any_u`: s = exp(a) + b, or k x*x + b
  /// with k a constant other than 1 or a parameter's expression; not x*x +
  /// b, whose guarded form sqrt_minus_root takes apart itself).
  NodeId rewritten_root(NodeId r, NodeId s, bool any_u = true) {
    root_of_[r] = {s, any_u};
    return r;
  }

  /// (x, K) when t is the product K x*x with K a product of constants and
  /// at least one factor free of the input that is not a constant (a
  /// parameter's expression), x not free of it; kNoNode twice otherwise.
  std::pair<NodeId, NodeId> scaled_square(NodeId t) {
    std::vector<NodeId> tn, td, rest;
    double k = 1;
    factors(t, tn, td, k, false);
    NodeId x = ir::kNoNode;
    int count = 0;
    for (NodeId f : tn) {
      if (input_free(f)) {
        rest.push_back(f);
      } else if (x == ir::kNoNode || f == x) {
        x = f;
        ++count;
      } else {
        return {ir::kNoNode, ir::kNoNode};
      }
    }
    if (count != 2 || rest.empty() || !td.empty() || !std::isfinite(k) || k == 0) return {ir::kNoNode, ir::kNoNode};
    NodeId K = rest[0];
    for (size_t i = 1; i < rest.size(); ++i) K = make(Op::Mul, {K, rest[i]});
    if (k != 1) K = make(Op::Mul, {K, c(k)});
    return {x, K};
  }

  /// difference_slope (stabilize.hpp): n is one of the forms the Sub rule
  /// builds for a - f(a) or f(a) - a (or its negation), rebuilt here from
  /// the naive branch's a and compared (hash-consed nodes: the same node
  /// or another).
  std::optional<DifferenceSlope> difference_slope(NodeId n) {
    if (op(n) != Op::Where) return std::nullopt;
    NodeId naive = arg(n, 2);
    if (op(naive) == Op::Neg) naive = arg(naive, 0);
    if (op(naive) != Op::Sub) return std::nullopt;
    if (auto e = logit_entropy_parts(arg(naive, 0), arg(naive, 1)); e && logit_entropy(arg(naive, 0), arg(naive, 1)) == n) {
      // -+t sigmoid(t) sigmoid(-t) = -+(t sech(t/2)^2) / 4 (t first: sech^2 / 4 is
      // subnormal in float past |t| = 87.3 where the product is not)
      NodeId ts2 = make(Op::Mul, {e->t, ir::sech2(g_, scaled(e->t, 0.5))});
      return DifferenceSlope{e->t, make(Op::Mul, {ts2, c(e->negated ? 0.25 : -0.25)})};
    }
    for (int k = 0; k < 2; ++k) {
      NodeId f = arg(naive, k), a = arg(naive, 1 - k);
      if (g_[f].arity != 1 || arg(f, 0) != a) continue;
      NodeId form = ir::kNoNode;
      switch (op(f)) {
        case Op::Sin: form = minus_sin(a); break;
        case Op::Sinh: form = sinh_minus(a); break;
        case Op::Expm1: form = expm1_minus(a); break;
        case Op::Log1p: form = minus_log1p(a); break;
        case Op::Atan: form = minus_atan(a); break;
        case Op::Asinh: form = minus_asinh(a); break;
        case Op::Tan: form = tan_minus(a); break;
        default: continue;
      }
      double sign = form == n ? 1 : neg(form) == n ? -1 : 0;
      if (sign == 0) continue;
      // The slope of the form, without the cancellation: the series'
      // derivative (what the general rules give) costs a second series.
      NodeId slope = ir::kNoNode;
      NodeId aa = make(Op::Abs, {a});
      switch (op(f)) {
        case Op::Sin: case Op::Sinh: {  // 1 - cos(a) = 2 sin(a/2)^2, cosh(a) - 1 = 2 sinh(a/2)^2
          NodeId h = make(op(f), {make(Op::Mul, {a, c(0.5)})});
          slope = make(Op::Mul, {make(Op::Mul, {h, h}), c(2)});
          break;
        }
        case Op::Expm1: slope = make(Op::Expm1, {a}); break;                          // exp(a) - 1
        case Op::Log1p: slope = make(Op::Div, {a, make(Op::Add, {a, c(1)})}); break;  // 1 - 1/(1 + a)
        case Op::Atan: {  // 1 - 1/(1 + a^2) = a^2 / (1 + a^2), the first beyond |a| = 1.5 (a^2 overflows)
          NodeId q = make(Op::Add, {make(Op::Mul, {a, a}), c(1)});
          slope = make(Op::Where, {make(Op::Lt, {aa, c(1.5)}), make(Op::Div, {make(Op::Mul, {a, a}), q}),
                                   make(Op::Sub, {c(1), make(Op::Div, {c(1), q})})});
          break;
        }
        case Op::Asinh: {  // 1 - 1/r = a^2 / (r (1 + r)), r = sqrt(1 + a^2), the first beyond |a| = 1.5
          NodeId r = make(Op::Sqrt, {make(Op::Add, {make(Op::Mul, {a, a}), c(1)})});
          slope = make(Op::Where, {make(Op::Lt, {aa, c(1.5)}),
                                   make(Op::Div, {make(Op::Mul, {a, a}), make(Op::Mul, {r, make(Op::Add, {r, c(1)})})}),
                                   make(Op::Sub, {c(1), make(Op::Div, {c(1), r})})});
          break;
        }
        default: {  // Tan: (1 + tan(a)^2) - 1
          NodeId t = make(Op::Tan, {a});
          slope = make(Op::Mul, {t, t});
          break;
        }
      }
      // (the slopes of the forms as built: f(a) - a for sinh, expm1 and
      // tan, a - f(a) for the others)
      return DifferenceSlope{a, sign > 0 ? slope : neg(slope)};
    }
    return std::nullopt;
  }

  /// tangent_intercept (stabilize.hpp): u(a) - a u'(a) as a difference of
  /// the stable forms above below |a| = 1 (each side a^3 in size, or a^2
  /// for expm1 and log1p: at most a factor 2 lost), as written beyond.
  std::optional<TangentIntercept> tangent_intercept(NodeId n) {
    if (g_[n].arity != 1) return std::nullopt;
    NodeId a = arg(n, 0);
    NodeId aa = make(Op::Abs, {a}), z = make(Op::Mul, {a, a});
    NodeId slope = ir::kNoNode, near = ir::kNoNode;
    auto times_a = [&](NodeId v) { return make(Op::Mul, {a, v}); };
    switch (op(n)) {
      case Op::Tanh: {  // a tanh(a)^2 - tanhshrink(a)
        slope = ir::sech2(g_, a);
        near = make(Op::Sub, {times_a(make(Op::Mul, {n, n})), make(Op::TanhShrink, {a})});
        break;
      }
      case Op::Sin:
      case Op::Sinh: {  // a (1 - cos a) - (a - sin a), (sinh a - a) - a (cosh a - 1)
        NodeId h = make(op(n), {make(Op::Mul, {a, c(0.5)})});
        NodeId bend = times_a(make(Op::Mul, {make(Op::Mul, {h, h}), c(2)}));
        slope = make(op(n) == Op::Sin ? Op::Cos : Op::Cosh, {a});
        near = op(n) == Op::Sin ? make(Op::Sub, {bend, minus_sin(a)}) : make(Op::Sub, {sinh_minus(a), bend});
        break;
      }
      case Op::Tan: {  // (tan a - a) - a tan(a)^2
        slope = make(Op::Add, {make(Op::Mul, {n, n}), c(1)});
        near = make(Op::Sub, {tan_minus(a), times_a(make(Op::Mul, {n, n}))});
        break;
      }
      case Op::Atan: {  // a a^2 / (1 + a^2) - (a - atan a)
        NodeId q = make(Op::Add, {z, c(1)});
        slope = make(Op::Div, {c(1), q});
        near = make(Op::Sub, {times_a(make(Op::Div, {z, q})), minus_atan(a)});
        break;
      }
      case Op::Asinh: {  // a a^2 / (r (1 + r)) - (a - asinh a), r = sqrt(1 + a^2)
        NodeId r = make(Op::Sqrt, {make(Op::Add, {z, c(1)})});
        slope = make(Op::Div, {c(1), r});
        near =
            make(Op::Sub, {times_a(make(Op::Div, {z, make(Op::Mul, {r, make(Op::Add, {r, c(1)})})})), minus_asinh(a)});
        break;
      }
      case Op::Expm1: {  // (expm1 a - a) - a expm1(a)
        slope = make(Op::Exp, {a});
        near = make(Op::Sub, {expm1_minus(a), times_a(n)});
        break;
      }
      case Op::Log1p: {  // a^2 / (1 + a) - (a - log1p a)
        slope = make(Op::Div, {c(1), make(Op::Add, {a, c(1)})});
        near = make(Op::Sub, {make(Op::Div, {z, make(Op::Add, {a, c(1)})}), minus_log1p(a)});
        break;
      }
      default:
        return std::nullopt;
    }
    NodeId naive = make(Op::Sub, {n, times_a(slope)});
    return TangentIntercept{a, slope, make(Op::Where, {make(Op::Lt, {aa, c(1)}), near, naive})};
  }

 private:
  NodeId make(Op o, std::initializer_list<NodeId> args) {
    return simplify::rewrite(g_, o, std::span<const NodeId>(args.begin(), args.size()));
  }
  NodeId c(double v) { return ir::constant(g_, v); }
  /// where(cond, far, near) with `far` a rare branch (ir::where): a far
  /// form past a threshold that inputs seldom pass, and that costs
  /// enough to be worth a test a register.
  NodeId rare_where(NodeId cond, NodeId far, NodeId near) {
    NodeId w = make(Op::Where, {cond, far, near});
    const ir::Node& n = g_[w];
    if (n.op != Op::Where || n.args[0] != cond || n.args[1] != far || n.args[2] != near) return w;
    return ir::where(g_, cond, far, near, true);
  }
  NodeId neg(NodeId a) { return make(Op::Neg, {a}); }
  Op op(NodeId id) const { return g_[id].op; }
  NodeId arg(NodeId id, int k) const { return g_[id].args[k]; }
  bool is(NodeId id, double v) const { return g_.is_const(id, v); }

  /// a <= 0 (or NaN) by construction: -|y|, -(y y), where(y >= 0, -y, y), a constant <= 0.
  bool nonpositive(NodeId a) const {
    const ir::Node& n = g_[a];
    if (n.op == Op::Const) return n.value <= 0;
    auto nonnegative = [&](NodeId b) { return op(b) == Op::Abs || (op(b) == Op::Mul && arg(b, 0) == arg(b, 1)); };
    if (n.op == Op::Neg) return nonnegative(n.args[0]);
    // k b for a constant k <= 0 and b >= 0 (|x| * -2 of 1 - tanh(x)^2 as rewritten)
    if (n.op == Op::Mul)
      for (int k = 0; k < 2; ++k)
        if (g_.is_const(n.args[k]) && g_.const_value(n.args[k]) <= 0 && nonnegative(n.args[1 - k])) return true;
    if (n.op == Op::Where) {
      NodeId cond = n.args[0];
      bool sign_split = (op(cond) == Op::Ge || op(cond) == Op::Gt) && is(arg(cond, 1), 0.0);
      NodeId y = sign_split ? arg(cond, 0) : ir::kNoNode;
      // where(y > 0, -y, y) = -|y|, also where -y folded (y = -x: where(-x > 0, x, -x))
      if (sign_split && n.args[2] == y && negations(n.args[1], y)) return true;
      return nonpositive(n.args[1]) && nonpositive(n.args[2]);
    }
    return false;
  }

  /// a when n is tanh(a), as written or as tanh_of rewrote it; kNoNode otherwise.
  NodeId tanh_of_node(NodeId n) const {
    if (op(n) == Op::Tanh) return arg(n, 0);
    auto it = tanh_rewritten_of_.find(n);
    return it == tanh_rewritten_of_.end() ? ir::kNoNode : it->second;
  }

  /// tanh(t), rewritten where that removes transcendentals.
  NodeId tanh_of(NodeId t) {
    // tanh(softplus(a)) = n / (n + 2) with n = e^2 + 2e, e = exp(a): one exp and
    // one division instead of exp, log1p and tanh; exactly 1 (to rounding) above a = 20.
    // n as e e + 2 e rather than e (e + 2): for small e one rounding (of the sum)
    // instead of two (mish's forward 4.57 -> 3.9 ULP in a float simulation).
    NodeId sp = softplus_argument(t);
    if (sp != ir::kNoNode) {
      NodeId e = make(Op::Exp, {sp});
      NodeId n = make(Op::Add, {make(Op::Mul, {e, e}), make(Op::Mul, {c(2), e})});
      return make(Op::Where, {make(Op::Gt, {sp, c(20)}), c(1), make(Op::Div, {n, make(Op::Add, {n, c(2)})})});
    }
    // Into the guards around a softplus (as the catalogue writes it), when the
    // other branch costs nothing: tanh(where(c, k, q)) = where(c, tanh(k), tanh(q))
    // for a constant k, and tanh(where(v > T, v, q)) = where(v > T, 1, tanh(q)) for
    // T >= 20, where tanh(v) is 1 in double.
    if (op(t) == Op::Where) {
      NodeId cond = arg(t, 0), p = arg(t, 1), q = arg(t, 2);
      bool saturated = op(cond) == Op::Gt && arg(cond, 0) == p && g_.is_const(arg(cond, 1)) &&
                       g_.const_value(arg(cond, 1)) >= 20;
      if (g_.is_const(p) || saturated) {
        NodeId inner = tanh_of(q);
        if (op(inner) != Op::Tanh)  // only when it pays off below
          return make(Op::Where, {cond, saturated ? c(1) : make(Op::Tanh, {p}), inner});
      }
    }
    return make(Op::Tanh, {t});
  }

  /// log(cosh(a)): log1p(2 sinh(a/2)^2) for |a| < 2 (no cancellation near 0,
  /// where it is a^2/2), |a| + log1p(exp(-2|a|)) - log 2 beyond (no overflow
  /// of cosh; nothing cancels past 2).
  /// With `plus_log2`, log(2 cosh(a)) = log(exp(a) + exp(-a)): log 2 on the
  /// small branch, the big one without its - log 2.
  NodeId log_cosh(NodeId a, bool plus_log2 = false) {
    NodeId ax = make(Op::Abs, {a});
    NodeId h = make(Op::Sinh, {make(Op::Mul, {a, c(0.5)})});
    NodeId small = make(Op::Log1p, {make(Op::Mul, {make(Op::Mul, {h, h}), c(2)})});
    NodeId tail = make(Op::Log1p, {make(Op::Exp, {make(Op::Mul, {ax, c(-2)})})});
    NodeId big = make(Op::Add, {ax, tail});
    if (plus_log2) small = make(Op::Add, {small, c(std::numbers::ln2)});
    else big = make(Op::Add, {big, c(-std::numbers::ln2)});
    NodeId out = make(Op::Where, {make(Op::Lt, {ax, c(2)}), small, big});
    (plus_log2 ? log_2cosh_of_ : log_cosh_of_)[out] = a;
    return out;
  }

  /// log(cosh(a)) / a, `lc` log_cosh(a) (kNoNode if its form is not
  /// log_cosh's): below |a| = 2, log1p(s) / a with s
  /// = 2 sinh(h)^2, h = a/2, as (a/2) (sinh(h)/h)^2 (log1p(s)/s), each a
  /// removable quotient's series (s was subnormal in float below |a| = 1.5e-19
  /// and 0 below 2e-23: the value 2e-5 off at -1e-20, the slope 1 at 1e-30
  /// where it is 1/2); the quotient beyond.
  NodeId log_cosh_over(NodeId lc) {
    NodeId a = log_cosh_of_.at(lc), small = arg(lc, 1);
    NodeId sq = arg(small, 0);  // 2 sinh(h)^2, as log_cosh made it
    if (op(small) != Op::Log1p || op(sq) != Op::Mul || op(arg(sq, 0)) != Op::Mul || op(arg(arg(sq, 0), 0)) != Op::Sinh)
      return ir::kNoNode;
    NodeId sh = arg(arg(sq, 0), 0);  // sinh(h)
    NodeId sinhc = removable_pair(sh, false), ratio = removable_pair(small, false);
    NodeId near = make(Op::Mul, {make(Op::Mul, {make(Op::Mul, {a, c(0.5)}), make(Op::Mul, {sinhc, sinhc})}), ratio});
    // beyond, (|a| + r) / a = sign(a) + r / a with r = log1p(e^-2|a|) - log 2: the
    // quotient rule on (|a| + r) / a cancels (1/a - (|a| + r)/a^2; 1e-5 - 1e-5 at 1e5)
    NodeId tail = make(Op::Log1p, {make(Op::Exp, {make(Op::Mul, {make(Op::Abs, {a}), c(-2)})})});
    NodeId far = make(Op::Add, {make(Op::Where, {make(Op::Gt, {a, c(0)}), c(1), c(-1)}),
                                make(Op::Div, {make(Op::Add, {tail, c(-std::numbers::ln2)}), a})});
    return make(Op::Where, {arg(lc, 0), near, far});
  }

  /// log(1 - exp(a)) (Maechler's log1mexp): log(-expm1(a)) for a > -log 2,
  /// where 1 - exp(a) cancels, log1p(-exp(a)) below, where exp(a) < 1/2.
  /// For a = -k t^e (e even: t^2, t^4; k > 0, or k a product of other
  /// factors: -x^2 / (2 s^2)) the first is log(k) + e log|t| + log(expm1(a) / a), the last a
  /// removable quotient's series: t^2 underflows (log(1 -
  /// exp(-x^2)) was -inf at 1e-30 in float, its slope 5e-6 off at 1e-20).
  NodeId log1mexp(NodeId a) {
    NodeId near = make(Op::Log, {neg(make(Op::Expm1, {a}))});
    std::vector<NodeId> nums, dens;
    double k = 1;
    factors(a, nums, dens, k, false);
    // t: the factor of the greatest even power e (t^2, t^4 = t t t t)
    NodeId t = ir::kNoNode;
    size_t e = 0;
    for (NodeId f : nums) {
      size_t even = size_t(std::count(nums.begin(), nums.end(), f)) / 2 * 2;
      if (even > e) t = f, e = even;
    }
    if (e >= 2) {
      // -a / t^e from the other factors (a constant, or one such as 1 / (2 s^2);
      // an odd power's last t among them: its sign stays in the log)
      NodeId rest = c(-k);
      size_t skipped = 0;
      for (NodeId f : nums)
        if (f == t && skipped < e) ++skipped;
        else rest = make(Op::Mul, {rest, f});
      for (NodeId d : dens) rest = make(Op::Div, {rest, d});
      NodeId logs = make(Op::Mul, {make(Op::Log, {make(Op::Abs, {t})}), c(double(e))});
      if (!is(rest, 1.0)) logs = make(Op::Add, {logs, make(Op::Log, {rest})});
      near = make(Op::Add, {logs, make(Op::Log, {removable_pair(make(Op::Expm1, {a}), false)})});
    }
    // a = -exp(t): t + log(expm1(a) / a) (log(1 - exp(-exp(x))) was -inf below -103 in
    // float, where exp(x) underflows and the value is x)
    if (op(a) == Op::Neg && op(arg(a, 0)) == Op::Exp)
      near = make(Op::Add, {arg(arg(a, 0), 0), make(Op::Log, {removable_pair(make(Op::Expm1, {a}), false)})});
    NodeId far = make(Op::Log1p, {neg(make(Op::Exp, {a}))});
    return make(Op::Where, {make(Op::Gt, {a, c(-std::numbers::ln2)}), near, far});
  }

  /// erfc(a) a sqrt(pi) exp(a^2) = 1 + sum_k (-1)^k (2k - 1)!! / (2a^2)^k,
  /// Laplace's asymptotic series, for a > kErfcSeries (14 terms: the 15th
  /// is below 3e-17 there).
  NodeId erfcx_series(NodeId a) {
    NodeId w = make(Op::Div, {c(0.5), make(Op::Mul, {a, a})});
    std::vector<double> coefficients{1};
    double f = 1;
    for (int k = 1; k <= 14; ++k) coefficients.push_back((k % 2 ? -1 : 1) * (f *= 2 * k - 1));
    return polynomial(w, coefficients);
  }

  /// log(k erfc(a)) for a constant k > 0 (log(Phi(x)), the log of the
  /// normal CDF, for k = 1/2 and a = -x/sqrt(2)): log(2k) + log1p(-erfc(-a)/2)
  /// below a = -1/2 (erfc(a) = 2 - erfc(-a); log(Phi(x)) was 0 past x = 6
  /// where it is -Phi(-x)), log(k) + log1p(-erf(a)) below 1/2 (log(erfc(x))
  /// was 0 at 1e-8 in float: erfc rounds to 1), log(k) - a^2 - log(a
  /// sqrt(pi)) + log of the asymptotic series above kErfcSeries (erfc
  /// underflows float past 9.2, double past 26.5: -inf, and the slope NaN),
  /// log(k) + log(erfc(a)) between.
  NodeId log_erfc(NodeId a, double k) {
    auto plus = [&](double constant, NodeId t) { return constant == 0 ? t : make(Op::Add, {t, c(constant)}); };
    NodeId left = plus(std::log(2 * k), make(Op::Log1p, {make(Op::Mul, {make(Op::Erfc, {scaled(a, -1)}), c(-0.5)})}));
    NodeId near = plus(std::log(k), make(Op::Log1p, {neg(make(Op::Erf, {a}))}));
    NodeId far = make(Op::Sub, {neg(make(Op::Mul, {a, a})), make(Op::Log, {make(Op::Mul, {a, c(std::sqrt(std::numbers::pi))})})});
    far = plus(std::log(k), make(Op::Add, {far, make(Op::Log, {erfcx_series(a)})}));
    NodeId mid =
        rare_where(make(Op::Gt, {a, c(kErfcSeries)}), far, plus(std::log(k), make(Op::Log, {make(Op::Erfc, {a})})));
    NodeId inner = make(Op::Where, {make(Op::Lt, {a, c(0.5)}), near, mid});
    return make(Op::Where, {make(Op::Lt, {a, c(-0.5)}), left, inner});
  }

  /// m + k1 for m = q k (or q), q = v / D with D even in v and above |v|: D
  /// a root of v*v + b (D - |v| = b / (D + |v|)) or |v| + k0 (k0 > 0), and
  /// k1 = +-k: k (1 + q) or -k (1 - q), where the sum cancels (v < 0 for
  /// 1 + q) as k N / D, N = D + v: b / (D - v) or k0. PFLU x (1 + x /
  /// sqrt(1 + x^2)) / 2 was 1e-5 off at x = -9 in float, 0 at -1e10; the
  /// Elliott sigmoid x / (2 (1 + |x|)) + 1/2 was 0 at -1e10. Else kNoNode.
  NodeId shifted_ratio(NodeId m, double k1) {
    double k = 1;
    for (int i = 0; i < 2; ++i)
      if (op(m) == Op::Neg) {
        k = -k;
        m = arg(m, 0);
      } else if (op(m) == Op::Mul && g_.is_const(arg(m, 1))) {
        k *= g_.const_value(arg(m, 1));
        m = arg(m, 0);
      }
    if (op(m) != Op::Div || k == 0 || !(k1 == k || k1 == -k)) return ir::kNoNode;
    NodeId v = arg(m, 0), d = arg(m, 1);
    const bool plus = k1 == k;  // 1 + q, else q - 1
    NodeId v_out = plus ? neg(v) : v;  // -v past 0 on the cancelling side: |v| there
    NodeId n;
    if (auto r = ir::root_of_square_sum(g_, d); r && r->v == v) {
      n = make(Op::Div, {r->b, make(Op::Add, {d, v_out})});  // D + |v| on that side
    } else if (op(d) == Op::Add && op(arg(d, 0)) == Op::Abs && arg(arg(d, 0), 0) == v && g_.is_const(arg(d, 1)) &&
               g_.const_value(arg(d, 1)) > 0) {
      n = arg(d, 1);
    } else {
      return ir::kNoNode;
    }
    NodeId near = make(Op::Div, {n, d});  // 1 + q on the side where it cancels (q - 1: -near)
    NodeId cond = plus ? make(Op::Lt, {v, c(0)}) : make(Op::Gt, {v, c(0)});
    NodeId plain = make(Op::Add, {m, c(plus ? 1 : -1)});
    NodeId r = make(Op::Where, {cond, plus ? near : neg(near), plain});
    shifted_of_[r] = {v, m, n, plus};
    return times(r, k);
  }

  /// t and the sign when p - q is softplus(t) - t sigmoid(t) (negated: t
  /// sigmoid(t) - softplus(t)), softplus the stable one (the catalogue's is
  /// t past its threshold by definition).
  struct LogitEntropy {
    NodeId t;
    bool negated;
  };
  std::optional<LogitEntropy> logit_entropy_parts(NodeId p, NodeId q) const {
    for (int k = 0; k < 2; ++k) {
      NodeId t = softplus_argument(k == 0 ? p : q), m = k == 0 ? q : p;
      if (t == ir::kNoNode || op(m) != Op::Mul) continue;
      for (int j = 0; j < 2; ++j)
        if (auto sig = ir::sigmoid_form(g_, arg(m, 1 - j)); arg(m, j) == t && sig && sig->a == t)
          return LogitEntropy{t, k == 1};
    }
    return std::nullopt;
  }

  /// softplus(t) - t sigmoid(t), the binary entropy of sigmoid(t), as
  /// softplus(-t) + t sigmoid(-t) for t > 0 (17% off at 15 in float, 0 at
  /// 88), or its negation; kNoNode for other p - q. Its slope, -t
  /// sigmoid(t) sigmoid(-t), is difference_slope's (the product rule's
  /// sigmoid(t) - (sigmoid(t) + ...) cancels near 0).
  NodeId logit_entropy(NodeId p, NodeId q) {
    auto e = logit_entropy_parts(p, q);
    if (!e) return ir::kNoNode;
    NodeId t = e->t;
    NodeId flipped = make(Op::Add, {softplus(neg(t)), make(Op::Mul, {t, sigmoid(neg(t))})});
    return make(Op::Where, {make(Op::Gt, {t, c(0)}), e->negated ? neg(flipped) : flipped, make(Op::Sub, {p, q})});
  }

  /// v times a shifted_ratio's where (without its k): +-q N on the side where
  /// the sum cancels (v N / D, N / D underflowing where v N / D does not: PFLU
  /// was 0 below -1.8e19 in float, its slope wrong below -1e103 in double).
  /// Also u = v f for a constant f (0.5 x (1 + x / sqrt(1 + x^2))).
  NodeId times_shifted_ratio(NodeId u, NodeId w) {
    auto it = shifted_of_.find(w);
    if (it == shifted_of_.end()) return ir::kNoNode;
    const ShiftedRatio& s = it->second;
    const bool scaled_v = op(u) == Op::Mul && g_.is_const(arg(u, 1)) && arg(u, 0) == s.v;
    if (u != s.v && !scaled_v) return ir::kNoNode;
    NodeId near = times(make(Op::Mul, {s.q, s.n}), scaled_v ? g_.const_value(arg(u, 1)) : 1);
    return make(Op::Where, {arg(w, 0), s.plus ? near : neg(near), make(Op::Mul, {u, arg(w, 2)})});
  }

  /// 1 + tanh(a) = 2 sigmoid(2a), which does not cancel where tanh(a) is
  /// near -1 (the textbook gelu_tanh's left tail: 0 for x below -9 in float).
  NodeId tanh_plus_one(NodeId a) { return make(Op::Mul, {sigmoid(scaled(a, 2)), c(2)}); }

  /// 1 - cos(a) = 2 sin(a/2)^2, without the cancellation near 0.
  NodeId one_minus_cos(NodeId a) {
    NodeId h = make(Op::Sin, {make(Op::Mul, {a, c(0.5)})});
    return make(Op::Mul, {make(Op::Mul, {h, h}), c(2)});
  }

  /// Whether `n` holds an exp (but of a nonpositive argument), expm1, sinh,
  /// cosh or a power to a variable exponent at any depth: a factor that may
  /// itself overflow where a
  /// quotient's divisor does (2 sinh(x) / (exp(x) + exp(-2x)) is inf / inf
  /// either way).
  bool grows_exponentially(NodeId n) const {
    for (NodeId id : g_.reachable(std::vector<NodeId>{n})) {
      Op o = g_[id].op;
      if (o == Op::Exp && nonpositive(g_[id].args[0])) continue;  // at most 1 (logsigmoid's exp(-|x|))
      if (o == Op::Exp || o == Op::Expm1 || o == Op::Sinh || o == Op::Cosh || o == Op::ExpDiv) return true;
      if (o == Op::Pow && !g_.is_const(g_[id].args[1])) return true;
    }
    return false;
  }

  /// softplus(t) exp(-t) (`over` false) or softplus(t) / exp(t) (`over`
  /// true) for `sp` = softplus(t) and `ex` = exp(-t) or exp(t): log1p(e) / e
  /// with e = exp(t) for t < 0 (removable_quotient: 1 where e underflows),
  /// softplus(t) h h with h = exp(-t/2) from 0 on (exp(t) overflows past
  /// 709.8 in double, exp(-t) is subnormal there). kNoNode otherwise.
  NodeId softplus_over_exp(NodeId sp, NodeId ex, bool over) {
    NodeId t = guarded_softplus_argument(sp);
    if (t == ir::kNoNode || op(ex) != Op::Exp) return ir::kNoNode;
    if (over ? arg(ex, 0) != t : !negations(t, arg(ex, 0))) return ir::kNoNode;
    NodeId e = make(Op::Exp, {t}), h = make(Op::Exp, {scaled(t, -0.5)});
    NodeId near = removable_quotient({make(Op::Log1p, {e}), e, ir::kNoNode});
    return make(Op::Where, {make(Op::Lt, {t, c(0)}), near, make(Op::Mul, {make(Op::Mul, {sp, h}), h})});
  }

  /// Whether an exp, expm1, sinh or cosh is among the nodes `n` is computed from.
  bool depends_on_exp(NodeId n) const {
    for (NodeId id : g_.reachable(std::vector<NodeId>{n}))
      if (Op o = op(id); o == Op::Exp || o == Op::Expm1 || o == Op::Sinh || o == Op::Cosh) return true;
    return false;
  }

  /// Whether `n` is `e` or has it among its operands, at any depth.
  bool depends_on(NodeId n, NodeId e) const {
    std::vector<NodeId> all = g_.reachable(std::vector<NodeId>{n});
    return std::find(all.begin(), all.end(), e) != all.end();
  }

  /// log1p(t), and for t = a*a past |a| = 2^27 (where 1 + a^2 rounds to a^2
  /// in float and double alike) 2 log|a|: a^2 overflows at |a| = 1.8e19 in
  /// float, the logarithm does not (log(1 + x*x) was inf there).
  NodeId log1p_of(NodeId t) {
    NodeId plain = make(Op::Log1p, {t});
    // log1p(cosh(w)), log1p(sinh(w)) past |w| = 80 as log(g + 1)'s far form
    // (log_far's sums: inf past 89.4 in float; hunt_forms' log(cosh(x) + c) with
    // its default c = 1), log1p as written below (log(1 + sinh(x)) cancels at 0);
    // |sinh(w)| likewise (log1p(|sinh(log1p(x^4))|) was inf past 1e10 in float:
    // random_forms seed 5230)
    NodeId core = op(t) == Op::Abs ? arg(t, 0) : t;
    if (op(core) == Op::Cosh || op(core) == Op::Sinh) return log_of_growing(make(Op::Add, {t, c(1)}), plain);
    // log1p(expm1(a)) = a (log(1 + (exp(x) - 1)) was inf past 709.8 in double, -inf
    // below -745); log1p(|expm1(a)|) likewise for a >= 0
    if (op(t) == Op::Expm1) return arg(t, 0);
    if (op(t) == Op::Abs && op(arg(t, 0)) == Op::Expm1) {
      NodeId a = arg(arg(t, 0), 0);
      return make(Op::Where, {make(Op::Ge, {a, c(0)}), a, plain});
    }
    if (op(t) == Op::Abs && op(arg(t, 0)) == Op::Mul && arg(arg(t, 0), 0) == arg(arg(t, 0), 1))
      t = arg(t, 0);  // |v v| = v v: log1p(abs(x^2)) as log1p(x^2)
    if (op(t) == Op::Div && is(arg(t, 0), 1.0) && op(arg(t, 1)) == Op::Mul && arg(arg(t, 1), 0) == arg(arg(t, 1), 1))
      return log1p_inverse_square(arg(arg(t, 1), 0));  // log1p(1 / (v v))
    if (op(t) != Op::Mul || arg(t, 0) != arg(t, 1)) {
      NodeId r = log_of_polynomial(t, true);  // log1p(x^4), log1p(|x|^3)
      return r == ir::kNoNode ? plain : r;
    }
    // A polynomial v with a sum, of degree 2 or more, as the polynomial's log:
    // its terms overflow to inf - inf = NaN before v does, and |v| > 2^27
    // was false there (log(1 + (4x^3 - 3x^2 + 1.7)^2) NaN past 1e154 in double).
    if (NodeId v = arg(t, 0); has_sum(v) && polynomial_degree(v) >= 2)
      if (NodeId r = log_of_polynomial(t, true); r != ir::kNoNode) {
        log1p_square_of_[r] = v;
        return r;
      }
    // (the log by the Log rules: a = v v is 2 log|v| in turn, where a itself
    // overflows: log(1 + (x*x)*(x*x)) was inf past 1.8e19 in float)
    NodeId ax = make(Op::Abs, {arg(t, 0)});
    NodeId big = make(Op::Mul, {stabilized(Op::Log, ax), c(2)});
    NodeId out = rare_where(make(Op::Gt, {ax, c(0x1p27)}), big, plain);
    log1p_square_of_[out] = arg(t, 0);
    return out;
  }

  /// log|u| for a u that exps or powers take past the type's range: `far`,
  /// valid where `cond` holds, and u's sign there (`sign`; kNoNode where u > 0
  /// by construction). Of exp(w) (w, past |w| = 80), expm1(w) (w +
  /// log1p(-exp(-w)), past w = 80), cosh(w) and sinh(w) (|w| - log 2, past |w|
  /// = 80), polynomials of degree d >= 2 (log|r^d P| + d log|x|, r = 1/x, past
  /// their range: past_polynomial_range), and through products, quotients,
  /// powers to a constant, roots, negations, absolute values, where()s'
  /// branches, and sums g + a with g an exp, expm1, cosh or sinh past 80
  /// (or one under an absolute value, a negation, a constant factor) and
  /// an `a` that does not grow exponentially (log|g| + log|1 + a/g|, a/g as
  /// (a h) h sign(g) with h = exp(-log|g|/2): a / g keeps a's size where g
  /// overflowed). Empty where u has no such part. The log's error is
  /// absolute, a few ulps of the result: no product of the logs' sum is
  /// formed.
  struct LogFar {
    NodeId far = ir::kNoNode, cond = ir::kNoNode, sign = ir::kNoNode;
    // For exps and their products and quotients: the sum of the exponents' |w|,
    // which bounds |far| (the product's cond is past it: exp(h) (x exp(h)) overflows
    // float at h = 46, though neither exp is past 80)
    NodeId size = ir::kNoNode;
  };
  LogFar log_far(NodeId u, int depth) {
    if (depth == 0 || input_free(u)) return {};
    // A quotient of polynomials in its far form (over_polynomial): as P / Q,
    // log|P| - log|Q|. Its far branch r^p P / (r^q Q) x^(p - q) overflowed
    // where the log is finite (log(1 + (x^5 / (1 + |x*x|))^2) at 1e200 in
    // double: random_forms seed 5222).
    if (auto it = quotient_of_polynomials_.find(u); it != quotient_of_polynomials_.end()) {
      auto [num, den] = it->second;
      Scale scale = scale_of(den);
      auto [ratio, extra, top] = polynomial_quotient_far(num, den, scale);
      NodeId far = make(Op::Log, {make(Op::Abs, {ratio})}), sign = make(Op::Sign, {ratio});
      if (extra > 0) far = make(Op::Add, {far, make(Op::Mul, {make(Op::Log, {make(Op::Abs, {scale.x})}), c(extra)})});
      if (extra % 2) sign = make(Op::Mul, {sign, scale.sign});
      return {far, past_polynomial_range(scale, top), sign};
    }
    auto times = [&](NodeId p, NodeId q) {
      return p == ir::kNoNode ? q : q == ir::kNoNode ? p : make(Op::Mul, {p, q});
    };
    auto past = [&](NodeId m) { return make(Op::Gt, {m, c(ir::kExpDivSplit)}); };
    auto either = [&](const LogFar& p, const LogFar& q) {
      return p.far == ir::kNoNode ? q.cond : q.far == ir::kNoNode ? p.cond : make(Op::Or, {p.cond, q.cond});
    };
    const NodeId ln2 = c(std::numbers::ln2);
    if (int d = polynomial_degree(u); d >= 2) {
      Scale scale = scale_of(u);
      NodeId sp = scaled_polynomial(u, d, scale);  // r^d P: P's sign times sign(x)^d
      NodeId far = make(Op::Add, {make(Op::Log, {make(Op::Abs, {sp})}),
                                  make(Op::Mul, {make(Op::Log, {make(Op::Abs, {scale.x})}), c(d)})});
      NodeId sign = make(Op::Sign, {sp});
      if (d % 2) sign = make(Op::Mul, {sign, scale.sign});
      return {far, past_polynomial_range(scale, d), sign};
    }
    switch (op(u)) {
      case Op::Exp: {
        NodeId size = make(Op::Abs, {arg(u, 0)});
        return {arg(u, 0), past(size), ir::kNoNode, size};
      }
      case Op::Expm1: {  // (below w = -80 expm1 is -1: w, not |w|)
        NodeId w = arg(u, 0);
        return {make(Op::Add, {w, make(Op::Log1p, {neg(make(Op::Exp, {neg(w)}))})}), past(w), ir::kNoNode};
      }
      case Op::ExpDiv:  // exp(a) / b as the rules fuse it (log(exp(x) / x) was inf past 709.8 in double)
        return log_far(make(Op::Div, {make(Op::Exp, {arg(u, 0)}), arg(u, 1)}), depth);
      case Op::Cosh:
      case Op::Sinh: {
        NodeId m = make(Op::Abs, {arg(u, 0)});
        return {make(Op::Sub, {m, ln2}), past(m), op(u) == Op::Sinh ? make(Op::Sign, {arg(u, 0)}) : ir::kNoNode};
      }
      case Op::Neg:
      case Op::Abs: {
        LogFar f = log_far(arg(u, 0), depth - 1);
        if (f.far != ir::kNoNode) f.sign = op(u) == Op::Abs ? ir::kNoNode : times(f.sign, c(-1));
        return f;
      }
      case Op::Sqrt:  // (its sign: NaN's log below 0, as the root's)
      case Op::Pow: {
        double k = op(u) == Op::Sqrt ? 0.5 : g_.is_const(arg(u, 1)) ? g_.const_value(arg(u, 1)) : 0;
        LogFar f = k == 0 || !std::isfinite(k) ? LogFar{} : log_far(arg(u, 0), depth - 1);
        if (f.far == ir::kNoNode) return {};
        f.far = make(Op::Mul, {f.far, c(k)});
        if (k == std::floor(k) && std::fmod(k, 2) == 0) f.sign = ir::kNoNode;
        return f;
      }
      case Op::Mul:
      case Op::Div: {
        LogFar p = log_far(arg(u, 0), depth - 1), q = log_far(arg(u, 1), depth - 1);
        if (p.far == ir::kNoNode && q.far == ir::kNoNode) return {};
        // (where one side grows, its far form holds wherever the product's does)
        NodeId lp = p.far != ir::kNoNode && q.far == ir::kNoNode ? p.far : log_abs(arg(u, 0), p);
        NodeId lq = q.far != ir::kNoNode && p.far == ir::kNoNode ? q.far : log_abs(arg(u, 1), q);
        NodeId size = p.far == ir::kNoNode ? q.size : q.far == ir::kNoNode ? p.size : ir::kNoNode;
        if (p.size != ir::kNoNode && q.size != ir::kNoNode) size = make(Op::Add, {p.size, q.size});
        NodeId cond = p.far != ir::kNoNode && q.far != ir::kNoNode && size != ir::kNoNode ? past(size) : either(p, q);
        return {make(op(u) == Op::Mul ? Op::Add : Op::Sub, {lp, lq}), cond,
                times(sign_of(arg(u, 0), p), sign_of(arg(u, 1), q)), size};
      }
      case Op::Add:
      case Op::Sub:
        for (int k = 0; k < 2; ++k) {
          NodeId g = arg(u, k), a = arg(u, 1 - k);
          NodeId core = exp_family_core(g);  // (g, or g under abs, negation, a constant factor)
          Op go = op(core);
          if ((go != Op::Exp && go != Op::Expm1 && go != Op::Cosh && go != Op::Sinh) || grows_exponentially(a))
            continue;
          LogFar f = log_far(g, depth - 1);
          if (f.far == ir::kNoNode) continue;
          if (go == Op::Exp) f.cond = past(arg(core, 0));  // a large g: exp(w) + a is a below -80
          // u = g + a, g - a or a - g = -(g - a): g (1 + r) up to the sign, r = +-a / g
          double s = op(u) == Op::Add ? 1 : -1;
          NodeId h = make(Op::Exp, {scaled(f.far, -0.5)});
          NodeId r = make(Op::Mul, {make(Op::Mul, {scaled(a, s), h}), h});
          if (f.sign != ir::kNoNode) r = make(Op::Mul, {r, f.sign});
          NodeId t = make(Op::Add, {c(1), r});
          NodeId sign = times(f.sign, make(Op::Sign, {t}));
          if (op(u) == Op::Sub && k == 1) sign = times(sign, c(-1));
          return {make(Op::Add, {f.far, make(Op::Log, {make(Op::Abs, {t})})}), f.cond, sign};
        }
        return {};
      case Op::Where: {
        LogFar p = log_far(arg(u, 1), depth - 1), q = log_far(arg(u, 2), depth - 1);
        if (p.far == ir::kNoNode && q.far == ir::kNoNode) return {};
        NodeId sp = sign_of(arg(u, 1), p), sq = sign_of(arg(u, 2), q);
        NodeId sign = sp == ir::kNoNode && sq == ir::kNoNode
                          ? ir::kNoNode
                          : make(Op::Where, {arg(u, 0), sp == ir::kNoNode ? c(1) : sp, sq == ir::kNoNode ? c(1) : sq});
        return {make(Op::Where, {arg(u, 0), log_abs(arg(u, 1), p), log_abs(arg(u, 2), q)}), either(p, q), sign};
      }
      default:
        return {};
    }
  }
  /// u / D for a D that exps take past the range (log_far: sinh, cosh, their
  /// sums, products, powers, ...) and a u that does not grow so: past it,
  /// (u h) h sign(D) with h = exp(-log|D| / 2), a rare branch (x / (1 +
  /// |sinh(x)|) was 0 past 710 in double, where it is a normal number to
  /// 745, and its slope NaN: random_forms seed 5201). kNoNode otherwise.
  NodeId over_growing(NodeId num, NodeId den) {
    // (not over an exp or expm1 alone: their quotients are the rules' above, or
    // as written, as x / exp(x), which the float kernels' underflow watch takes)
    if (op(den) == Op::Exp || op(den) == Op::Expm1 || grows_exponentially(num) || !grows_exponentially(den) ||
        ir::is_rowwise(g_, std::array{num, den}))
      return ir::kNoNode;
    LogFar f = log_far(den, 6);
    if (f.far == ir::kNoNode) return ir::kNoNode;
    // L's terms: its logs log|t| as a factor 1/|t| (or |t|) of the quotient,
    // the rest in h's exponent, its constants added last as one with its
    // rest: exp's argument u + c, which the kernels add as a double-float
    // (|w| - log 2 - log 0.06 rounded to 711, or any log in the exponent,
    // cost exp(-L/2) 5e-14 relative at w = 712)
    std::vector<std::pair<NodeId, double>> todo{{f.far, -0.5}};
    NodeId sum = ir::kNoNode, constant = c(0), over = ir::kNoNode, times = ir::kNoNode;
    auto add = [&](NodeId& to, NodeId t, Op o) { to = to == ir::kNoNode ? t : make(o, {to, t}); };
    while (!todo.empty()) {
      auto [t, k] = todo.back();
      todo.pop_back();
      if (op(t) == Op::Add || op(t) == Op::Sub) {
        todo.push_back({arg(t, 0), k});
        todo.push_back({arg(t, 1), op(t) == Op::Sub ? -k : k});
      } else if (op(t) == Op::Neg) {
        todo.push_back({arg(t, 0), -k});
      } else if (g_.is_const(t)) {
        constant = make(Op::Add, {constant, make(Op::Mul, {t, c(k)})});
      } else if (op(t) == Op::Log && op(arg(t, 0)) == Op::Abs && (k == -0.5 || k == 0.5)) {
        add(k < 0 ? over : times, arg(t, 0), Op::Mul);
      } else {
        add(sum, scaled(t, k), Op::Add);
      }
    }
    NodeId h = make(Op::Exp, {sum == ir::kNoNode  ? constant
                              : is(constant, 0.0) ? sum
                                                  : make(Op::Add, {sum, constant})});
    NodeId far = make(Op::Mul, {make(Op::Mul, {num, h}), h});
    if (times != ir::kNoNode) far = make(Op::Mul, {far, times});
    if (over != ir::kNoNode) far = make(Op::Div, {far, over});
    if (f.sign != ir::kNoNode) far = make(Op::Mul, {far, f.sign});
    return rare_where(f.cond, far, make(Op::Div, {num, den}));
  }

  /// `g` without absolute values, negations and constant factors around it.
  NodeId exp_family_core(NodeId g) const {
    for (;;) {
      if (op(g) == Op::Abs || op(g) == Op::Neg)
        g = arg(g, 0);
      else if (op(g) == Op::Mul && g_.is_const(arg(g, 1)) && !is(arg(g, 1), 0.0))
        g = arg(g, 0);
      else if (op(g) == Op::Mul && g_.is_const(arg(g, 0)) && !is(arg(g, 0), 0.0))
        g = arg(g, 1);
      else
        return g;
    }
  }

  /// log|u| everywhere: f's far form where its condition holds, the log as
  /// written elsewhere (or by the Log rules where u does not grow so).
  NodeId log_abs(NodeId u, const LogFar& f) {
    if (f.far == ir::kNoNode) return stabilized(Op::Log, make(Op::Abs, {u}));
    return make(Op::Where, {f.cond, f.far, make(Op::Log, {make(Op::Abs, {u})})});
  }
  /// u's sign: f's where u grows, else sign(u) (kNoNode: u >= 0 by construction).
  NodeId sign_of(NodeId u, const LogFar& f) {
    if (f.far != ir::kNoNode) return f.sign;
    if (op(u) == Op::Abs || (g_.is_const(u) && g_.const_value(u) > 0)) return ir::kNoNode;
    return make(Op::Sign, {u});
  }
  /// log(s) (also log|s|) past the range of the exps and powers in s
  /// (log_far), a rare branch: the value over- or underflowed where its log
  /// is finite (log(1 + (x exp(-x))^2), 2 log|x exp(-x)| past 2^27, was inf
  /// below -88.7 in float: random_forms seed 5106; log(1 + (a + cosh(x))^2)
  /// inf past 710 in double: seed 5107; log(1 + expm1(u)^2) seed 5110). Below,
  /// the log as written (the logs' sum cancels where the value is near 1), or
  /// `near`. kNoNode (or `near`) where s does not grow so.
  NodeId log_of_growing(NodeId s, NodeId near = ir::kNoNode) {
    LogFar f = log_far(s, 6);
    if (f.far == ir::kNoNode) return near;
    NodeId far = f.sign == ir::kNoNode ? f.far : make(Op::Add, {f.far, make(Op::Log, {f.sign})});  // NaN where s < 0
    return rare_where(f.cond, far, near == ir::kNoNode ? make(Op::Log, {s}) : near);
  }
  /// log1p(s) likewise: log|s| + log(sign(s)) (NaN where s < -1 far out)
  /// (log1p(|sqrt(1 + P^2)|), P of degree 2, was inf past 1.8e19 in float
  /// and 1e154 in double: seed 5112), also for an s that exps take past the
  /// range (log1p(|cosh(x/3) + 1|) was inf past 2e3 in double: seed 5307;
  /// log1p(|where(x > 2, exp(x), ...)|) past 709.8: seed 5301). Not for an s
  /// with exps that do not grow, nor for an exp (log1p(exp(a)) is softplus's
  /// above, for any a that is not <= 0): a tiny s (an exp past -80,
  /// softplus's log1p(exp(-|t|)), also where t holds a growing exp) is log1p's own.
  NodeId log1p_of_growing(NodeId s) {
    if (op(s) == Op::Exp || (depends_on_exp(s) && !grows_exponentially(s))) return ir::kNoNode;
    LogFar f = log_far(s, 6);
    if (f.far == ir::kNoNode) return ir::kNoNode;
    // log|s| + log(sign(s)) past |s| = e^40, where log1p(1/s) is below double's
    // precision of the sum; log1p as written below (no exp: a sum with this log
    // would read as growing, random_forms seed 5107's log(1 + (log1p(...) +
    // cosh(x))^2))
    NodeId plain = make(Op::Log1p, {s});
    NodeId big = f.sign == ir::kNoNode ? f.far : make(Op::Add, {f.far, make(Op::Log, {f.sign})});
    return rare_where(f.cond, make(Op::Where, {make(Op::Gt, {f.far, c(40)}), big, plain}), plain);
  }

  /// log1p(1 / (v v)) = log(1 + v^2) - 2 log|v|: as written for |v| > 1, and
  /// log1p(v v) - 2 log|v| below (two terms of one sign), where 1 / (v v)
  /// overflows (inf below 1e-19 in float). log(x*x + 1) - 2 log|x| comes
  /// here too: it cancelled for large |x| (0.7% off at -89.5 in float).
  NodeId log1p_inverse_square(NodeId v) {
    NodeId ax = make(Op::Abs, {v}), vv = make(Op::Mul, {v, v});
    NodeId far = make(Op::Log1p, {make(Op::Div, {c(1), vv})});
    NodeId near = make(Op::Sub, {make(Op::Log1p, {vv}), make(Op::Mul, {make(Op::Log, {ax}), c(2)})});
    return make(Op::Where, {make(Op::Gt, {ax, c(1)}), far, near});
  }

  /// Whether b is -a as simplify writes it: -a, a = -b, or u k and u (-k).
  bool negations(NodeId a, NodeId b) const {
    if ((op(b) == Op::Neg && arg(b, 0) == a) || (op(a) == Op::Neg && arg(a, 0) == b)) return true;
    return op(a) == Op::Mul && op(b) == Op::Mul && arg(a, 0) == arg(b, 0) && g_.is_const(arg(a, 1)) &&
           g_.is_const(arg(b, 1)) && g_.const_value(arg(a, 1)) == -g_.const_value(arg(b, 1));
  }

  /// Whether `f` is o(a).
  bool arg_is(NodeId f, Op o, NodeId a) const { return op(f) == o && arg(f, 0) == a; }

  /// c0 + c1 z + c2 z^2 + ... by Horner's rule, as IR (ir::horner: the
  /// chain the lowering cuts and the differentiator takes as one).
  NodeId polynomial(NodeId z, const std::vector<double>& coefficients) { return ir::horner(g_, z, coefficients); }

  /// a - f(a) for f(a) = a + O(a^3) cancels near 0, losing the factor
  /// f(a) / (a - f(a)) of f's rounding: there, below |a| = 2 (where that
  /// factor falls to 1.2 for sin, 2.2 for sinh), a^3 P(a^2) with P
  /// Taylor's series to double's precision at |a| = 2 (the next term below
  /// 2^-55 of the first), the naive difference beyond.
  NodeId odd_series(NodeId a, const std::vector<double>& coefficients, NodeId naive) {
    NodeId z = make(Op::Mul, {a, a});
    NodeId series = make(Op::Mul, {make(Op::Mul, {z, a}), polynomial(z, coefficients)});
    return make(Op::Where, {make(Op::Lt, {make(Op::Abs, {a}), c(2)}), series, naive});
  }
  /// Taylor's coefficients t_0 ... t_(count - 1) of tan = sum t_n a^n, from tan' = 1 +
  /// tan^2: (n + 1) t_(n+1) = sum t_i t_(n-i) (positive terms: no cancellation).
  static std::vector<double> tan_taylor(size_t count) {
    std::vector<double> t(count, 0.0);
    t[1] = 1;
    for (size_t m = 1; m + 1 < t.size(); ++m) {
      double sum = 0;
      for (size_t i = 1; i < m; ++i) sum += t[i] * t[m - i];
      t[m + 1] = sum / double(m + 1);
    }
    return t;
  }

  /// (a*a + b)^k and (|a|^p + b)^k (p > 0), b free of the input (either
  /// side of the sum) and k a constant: |a|^(pk) (1 + b / |a|^p)^k past |a| =
  /// (2^54 |b|)^(1/p) for a constant b (b / |a|^p < 2^-54 there: 2^27
  /// sqrt|b| for the square, as for the root), else (squares only) past
  /// kSquareGuard; a rare branch. The power overflowed: (1 + x*x)^-0.3 was 0
  /// past 1.8e19 in float, where it is 1e-12 at 1e20; x / (1 + |x|^2.5)^0.4
  /// 0 past 1e123 in double, where it is -1; and the slope's (a*a +
  /// b)^(k - 1) underflowed float past 1e11, where a' = 2x brings it back.
  /// Else kNoNode.
  NodeId power_of_sum(NodeId base, NodeId k) {
    // (not an integer k: such a power is a polynomial, whose quotients and logs have
    // rules of their own, over_polynomial's; x^5 / (1 + x*x)^3 was NaN at 1e100 through this)
    if (op(base) != Op::Add || g_.const_value(k) == std::floor(g_.const_value(k))) return ir::kNoNode;
    NodeId b = ir::kNoNode, v = ir::kNoNode;
    double p = 0;
    for (int side = 0; side < 2 && v == ir::kNoNode; ++side) {
      NodeId t = arg(base, side);
      b = arg(base, 1 - side);
      if (!input_free(b)) continue;
      if (op(t) == Op::Mul && arg(t, 0) == arg(t, 1)) {
        v = arg(t, 0);
        p = 2;
      } else if (op(t) == Op::Pow && op(arg(t, 0)) == Op::Abs && g_.is_const(arg(t, 1)) &&
                 g_.const_value(arg(t, 1)) > 0 && g_.const_lo(arg(t, 1)) == 0) {
        v = arg(arg(t, 0), 0);
        p = g_.const_value(arg(t, 1));
      }
    }
    if (v == ir::kNoNode) return ir::kNoNode;
    NodeId av = make(Op::Abs, {v});
    // |a|^(pk) (1 + b / |a|^p)^k: the second factor is 1 to double's precision past the
    // constant b's threshold, but its slope is what is left of a / (...)^k's where p k = 1
    // (the power softsign: diff.cpp's power_sum_quotient_slope reads this shape)
    NodeId u = make(Op::Div, {b, p == 2 ? make(Op::Mul, {av, av}) : make(Op::Pow, {av, c(p)})});
    NodeId far =
        make(Op::Mul, {make(Op::Pow, {av, make(Op::Mul, {c(p), k})}), make(Op::Pow, {make(Op::Add, {u, c(1)}), k})});
    double threshold = g_.is_const(b) ? std::pow(std::ldexp(std::fabs(g_.const_value(b)), 54), 1 / p) : 0;
    if (!(threshold > 0 && threshold <= (p == 2 ? kSquareGuard : 1e300))) {
      if (p != 2) return ir::kNoNode;
      threshold = kSquareGuard;
    }
    NodeId r = rare_where(make(Op::Gt, {av, c(threshold)}), far, make(Op::Pow, {base, k}));
    pow_of_[r] = {base, k};
    return r;
  }

  /// sigmoid(a)^k (sqrt for k = 1/2), k a nonzero constant: exp(k a) past
  /// a = -80 (a rare branch), where sigmoid(a) is exp(a) to both types'
  /// precision, and underflows where its powers below 1 do not
  /// (sqrt(sigmoid(x)) was 0 below -745 in double, where it is 7e-218 at
  /// -1000, and 0.85% off at -100 in float, sigmoid's subnormal range); for
  /// k < 0 the power overflowed (sigmoid(x)^-0.5 past 1420 in double). Else kNoNode.
  NodeId sigmoid_power(NodeId s, NodeId k) {
    auto sig = ir::sigmoid_form(g_, s);
    if (!sig) return ir::kNoNode;
    NodeId written = is(k, 0.5) ? make(Op::Sqrt, {s}) : make(Op::Pow, {s, k});
    NodeId r = rare_where(make(Op::Lt, {sig->a, c(-80)}), make(Op::Exp, {make(Op::Mul, {sig->a, k})}), written);
    pow_of_[r] = {s, k};
    return r;
  }

  /// The Langevin function coth(u) - 1/u as a series, for |u| below 1.5,
  /// where its two terms cancel (1 / tanh(x) - 1 / x was 5e-6 off at 1e-5 in
  /// double): u C(u^2) with C's coefficients (-1)^(n+1) 4^n |B_2n| / (2n)! =
  /// (-1)^(n+1) t_(2n-1) / (4^n - 1) (tan's t_n), 26 terms (they fall by
  /// (1.5/pi)^2 each); beyond, the cancellation costs at most 2.5x.
  NodeId langevin_series(NodeId u) {
    std::vector<double> t = tan_taylor(54), coefficients;
    double four = 4;
    for (size_t n = 1; n <= 26; ++n, four *= 4) coefficients.push_back((n % 2 ? 1 : -1) * t[2 * n - 1] / (four - 1));
    return make(Op::Mul, {u, polynomial(make(Op::Mul, {u, u}), coefficients)});
  }

  /// k / tanh(u) - k / u = k L(u) below |u| = 1.5 and k / expm1(u) - k / u =
  /// k (L(u/2) - 1) / 2 below |u| = 3 (1 / expm1(u) = (coth(u/2) - 1) / 2),
  /// L the Langevin function (langevin_series), the written difference
  /// beyond (1 / expm1(u) is 0.05 at 3), and their negations, for a constant
  /// k; else kNoNode.
  NodeId reciprocal_difference(NodeId p, NodeId q) {
    for (int j = 0; j < 2; ++j) {
      NodeId f = j ? q : p, h = j ? p : q;  // f = k / w(u), h = k / u
      if (op(f) != Op::Div || op(h) != Op::Div || arg(f, 0) != arg(h, 0) || !g_.is_const(arg(f, 0))) continue;
      NodeId u = arg(h, 1), w = arg(f, 1);
      double k = g_.const_value(arg(f, 0)) * (j ? -1 : 1);
      NodeId near = ir::kNoNode;
      double band = 0;
      if (tanh_of_node(w) == u) {
        near = times(langevin_series(u), k);
        band = 1.5;
      } else if (op(w) == Op::Expm1 && arg(w, 0) == u) {
        near = times(make(Op::Add, {langevin_series(make(Op::Mul, {u, c(0.5)})), c(-1)}), 0.5 * k);
        band = 3;
      } else {
        continue;
      }
      return make(Op::Where, {make(Op::Lt, {make(Op::Abs, {u}), c(band)}), near, make(Op::Sub, {p, q})});
    }
    return ir::kNoNode;
  }

  /// +-1 / n! for n = first, first + step, ... (`count` of them; step 1
  /// or 2), the signs alternating or not: the Taylor coefficients of exp,
  /// sin and sinh and of their remainders and quotients.
  static std::vector<double> inverse_factorials(int first, int step, int count, bool alternating) {
    std::vector<double> out;
    double f = 1;
    for (int n = 2; n <= first; ++n) f *= n;
    for (int k = 0; k < count; ++k) {
      out.push_back((alternating && k % 2 ? -1 : 1) / f);
      int n = first + step * k;
      f *= step == 1 ? double(n + 1) : double(n + 1) * double(n + 2);
    }
    return out;
  }
  /// a - sin(a) = a^3/3! - a^5/5! + ... (12 terms)
  NodeId minus_sin(NodeId a) {
    return odd_series(a, inverse_factorials(3, 2, 12, true), make(Op::Sub, {a, make(Op::Sin, {a})}));
  }
  /// sinh(a) - a = a^3/3! + a^5/5! + ...
  NodeId sinh_minus(NodeId a) {
    return odd_series(a, inverse_factorials(3, 2, 12, false), make(Op::Sub, {make(Op::Sinh, {a}), a}));
  }
  /// expm1(a) - a = a^2/2! + a^3/3! + ...: Taylor's series to double's
  /// precision on (-1, 1.25) (20 terms; the naive difference loses a factor
  /// expm1(a) / (expm1(a) - a), 1.7 at -1 and 2.0 at 1.25, beyond).
  NodeId expm1_minus(NodeId a) {
    NodeId series = make(Op::Mul, {make(Op::Mul, {a, a}), polynomial(a, inverse_factorials(2, 1, 20, false))});
    NodeId naive = make(Op::Sub, {make(Op::Expm1, {a}), a});
    NodeId near = make(Op::And, {make(Op::Gt, {a, c(-1)}), make(Op::Lt, {a, c(1.25)})});
    return make(Op::Where, {near, series, naive});
  }

  /// log(sinh(a) / a) and log(sin(a) / a) (u is sinh(a) or sin(a); or the
  /// negation for log(a / u), `reciprocal`): near 0
  /// log1p(+-a^2 P(a^2)) with the series of (sinh(a) - a) / a^3 or (a -
  /// sin(a)) / a^3 (log of the quotient's series was 0 at 1e-8 in float,
  /// 1.3e-3 off at 0.01: log(1 + tiny)); for sinh past |a| = 20 |a| - log 2
  /// - log|a| (e^-2|a| below double's rounding there; sinh(a) / a overflows
  /// float at 95, where the log is 90); between, the log of the quotient
  /// (at least 1.8 there: no cancellation).
  NodeId log_sinc(std::pair<NodeId, bool> quotient) {
    auto [u, reciprocal] = quotient;
    NodeId a = arg(u, 0);
    bool sin = op(u) == Op::Sin;
    NodeId z = make(Op::Mul, {a, a});
    NodeId d = make(Op::Mul, {z, polynomial(z, inverse_factorials(3, 2, 12, sin))});
    NodeId near = make(Op::Log1p, {sin ? neg(d) : d});
    NodeId av = make(Op::Abs, {a});
    NodeId mid = make(Op::Log, {make(Op::Div, {u, a})});
    NodeId out = mid;
    if (!sin) {
      NodeId far = make(Op::Sub, {make(Op::Add, {av, c(-std::numbers::ln2)}), make(Op::Log, {av})});
      out = rare_where(make(Op::Gt, {av, c(20)}), far, mid);
    }
    NodeId r = make(Op::Where, {make(Op::Lt, {av, c(sin ? 1.5 : 2)}), near, out});
    return reciprocal ? neg(r) : r;
  }

  /// Quotients with a removable singularity at a = 0: u(a) / a and a / u(a)
  /// for u with u(0) = 0 (sin, sinh, tan, tanh, atan, asinh, erf, expm1,
  /// log1p), also of scaled arguments (u(c a) / a = c u(h) / h, h = c a)
  /// and of two such functions (u(a) / w(a) = (u(a)/a) / (w(a)/a)), paired
  /// factor by factor in products: (1 - cos(a)) / a^2 = 2 sin(a/2)^2 / a^2
  /// is (sin(h)/h)^2 / 2. 0 / 0 = NaN at a = 0, where the quotient's limit
  /// is u'(0), and the quotient rule's derivative (u' a - u) / a^2 cancels
  /// near 0 (sin(x)/x's was 0 at x = 1e-6 in float, tanh(x)/x's 0.12
  /// there; the slopes are -x/3, -2x/3). Each pair near 0 is the quotient's
  /// own series (removable_pair); the factors left over stay a quotient.
  NodeId removable_quotient(const std::array<NodeId, 3>& args) {
    std::vector<NodeId> nums, dens;
    double k = 1;
    factors(args[0], nums, dens, k, false);
    factors(args[1], nums, dens, k, true);
    std::vector<bool> used(nums.size());
    std::vector<NodeId> parts, rest;
    bool cancelled = false;
    for (NodeId d : dens) {
      // a / a = 1, its limit at a = 0 ((sqrt(1 + 4x^2) - 1) / (2x) as 4x^2 / (sqrt(...) + 1) / (2x))
      size_t same = 0;
      while (same < nums.size() && (used[same] || nums[same] != d)) ++same;
      if (same < nums.size()) {
        used[same] = true;
        cancelled = true;
        continue;
      }
      NodeId q = ir::kNoNode;
      NodeId hd = vanishing_argument(d);
      for (size_t i = 0; i < nums.size() && q == ir::kNoNode; ++i) {
        if (used[i]) continue;
        NodeId hn = vanishing_argument(nums[i]);
        if (double s = ratio(hn, d); s != 0)  // u(h) / a = s (u(h) / h) for h = s a
          q = times(removable_pair(nums[i], false), s);
        else if (double s = ratio(hd, nums[i]); s != 0)  // a / u(h) = (h / u(h)) / s
          q = times(removable_pair(d, true), 1 / s);
        else if (double s = ratio(hn, hd); s != 0)  // u(h) / w(g) = s (u(h) / h) / (w(g) / g) for h = s g
          q = removable_ratio(nums[i], d, s);
        else if (NodeId f = cofactor(hn, d); f != ir::kNoNode)  // u(a f) / a = f (u(h) / h): sin(a x) / x, a a parameter
          q = make(Op::Mul, {removable_pair(nums[i], false), f});
        else if (NodeId f = cofactor(hd, nums[i]); f != ir::kNoNode)  // a / u(a f) = (h / u(h)) / f
          q = make(Op::Div, {removable_pair(d, true), f});
        if (q != ir::kNoNode) used[i] = true;
      }
      if (q == ir::kNoNode)
        rest.push_back(d);
      else
        parts.push_back(q);
    }
    if (parts.empty() && !cancelled) return ir::kNoNode;
    for (size_t i = 0; i < nums.size(); ++i)
      if (!used[i]) parts.push_back(nums[i]);
    NodeId out = parts.empty() ? c(1) : parts[0];
    for (size_t j = 1; j < parts.size(); ++j) out = make(Op::Mul, {out, parts[j]});
    if (!rest.empty()) {
      NodeId den = rest[0];
      for (size_t j = 1; j < rest.size(); ++j) den = make(Op::Mul, {den, rest[j]});
      out = make(Op::Div, {out, den});
    }
    return times(out, k);
  }

  /// u / sinh(a), u / cosh(a) and u over their squares: past |a| = 20,
  /// where sinh(a) and cosh(a) are e^|a| / 2 to double's precision (the
  /// next term e^-2|a| relative), u 2 e^-|a| (times sign(a) for sinh) and
  /// u 4 e^-2|a|, as (u 2 e) e with e = e^-|a|/2 (e^-|a| itself is
  /// subnormal in float past 87.3, where x / cosh(x) is 1e-35): the naive
  /// quotient was 0 where sinh or cosh overflows (float: past 89.4, where
  /// x / cosh(x) is 1.5e-37) and its derivative inf / inf = NaN.
  NodeId over_hyperbolic(NodeId num, NodeId den) {
    bool square = op(den) == Op::Mul && arg(den, 0) == arg(den, 1);
    NodeId f = square ? arg(den, 0) : den;
    if (op(f) != Op::Sinh && op(f) != Op::Cosh) return ir::kNoNode;
    NodeId a = arg(f, 0);
    NodeId m = neg_abs(a);
    NodeId e = make(Op::Exp, {square ? m : make(Op::Mul, {m, c(0.5)})});
    NodeId k = square ? c(4) : op(f) == Op::Sinh ? make(Op::Where, {make(Op::Gt, {a, c(0)}), c(2), c(-2)}) : c(2);
    NodeId far = make(Op::Mul, {make(Op::Mul, {num, make(Op::Mul, {e, k})}), e});
    return rare_where(make(Op::Gt, {make(Op::Abs, {a}), c(20)}), far, make(Op::Div, {num, den}));
  }

  /// sinh(a) / b and cosh(a) / b: past |a| = 20 (sign(a)) e^|a| / (2 b) as
  /// ExpDiv, finite where the quotient is though sinh and cosh overflow
  /// (float: sinh(x) / x was inf from 89.4 to 93.2, where it is 4.9e37;
  /// its slope NaN).
  NodeId hyperbolic_over(NodeId num, NodeId den) {
    if (op(num) != Op::Sinh && op(num) != Op::Cosh) return ir::kNoNode;
    NodeId a = arg(num, 0);
    // g / (g + k) for a constant k: 1 / (1 + k / g), k / g = 2 k exp(-|a|) (sign(a) for
    // sinh), whose slope does not cancel as ExpDiv's y (|a|' - g' / (g + k)) does
    // (softsign(cosh(a x))'s slope was 3e-7 where it is 5e-34: random_forms seed 5236)
    if (op(den) == Op::Add && arg(den, 0) == num && g_.is_const(arg(den, 1))) {
      NodeId r = make(Op::Mul, {make(Op::Exp, {neg_abs(a)}), c(2 * g_.const_value(arg(den, 1)))});
      if (op(num) == Op::Sinh) r = make(Op::Mul, {r, make(Op::Sign, {a})});
      NodeId far = make(Op::Div, {c(1), make(Op::Add, {c(1), r})});
      return rare_where(make(Op::Gt, {make(Op::Abs, {a}), c(20)}), far, make(Op::Div, {num, den}));
    }
    NodeId far = make(Op::ExpDiv, {make(Op::Abs, {a}), make(Op::Mul, {den, c(2)})});
    if (op(num) == Op::Sinh) far = make(Op::Where, {make(Op::Gt, {a, c(0)}), far, neg(far)});
    return rare_where(make(Op::Gt, {make(Op::Abs, {a}), c(20)}), far, make(Op::Div, {num, den}));
  }

  /// u / (t + b) and u / (b - t) for t = k a*a s / d (a constant k, factors
  /// s and d free of the input: parameters; at most 8 in all) and a constant
  /// b != 0: where t + b rounds to t (float and double), u / t with u's factors a (up to
  /// two) cancelled. a*a overflows float at |a| = 1.8e19, where x / (1 +
  /// x*x) is 5.4e-20 (it was 0), x*x / (4 + x*x) 1 (it was NaN) and x / (1
  /// + x*x/b) b / x (it was 0, its b-gradient NaN). The bound: |a| > 2^27
  /// sqrt|b / k| without s and d, |t| > 2^54 |b| with them (t may be inf
  /// there; NaN takes the quotient as written). (With two cancelled the
  /// slope there is 0, not 2 b u / (k a^3): below 2^-80 / sqrt|b/k| of u.)
  /// Not for a constant u (1 / (1 + x*x)): there the quotient is subnormal
  /// or near it where a*a overflows, and its kernels keep one division. A
  /// polynomial a with a sum is taken in its far form (polynomial_far).
  NodeId over_square_sum(NodeId num, NodeId den) {
    if (g_.is_const(num)) return ir::kNoNode;
    // t + b, or b - t (as the quotient's far form: -u / t)
    const bool minus = op(den) == Op::Sub;
    if ((!minus && op(den) != Op::Add) || !g_.is_const(arg(den, minus ? 0 : 1)) || is(arg(den, minus ? 0 : 1), 0.0))
      return ir::kNoNode;
    const double b = std::fabs(g_.const_value(arg(den, minus ? 0 : 1)));
    NodeId t = arg(den, minus ? 1 : 0);
    std::vector<NodeId> tn, td;
    double kt = minus ? -1 : 1;
    factors(t, tn, td, kt, false);
    if (!(kt != 0 && std::isfinite(kt))) return ir::kNoNode;
    NodeId a = ir::kNoNode;
    std::vector<NodeId> scale_nums, scale_dens;  // s and d
    for (NodeId f : tn) {
      if (input_free(f)) {
        scale_nums.push_back(f);
      } else if (a == ir::kNoNode || a == f) {
        a = f;
      } else {
        return ir::kNoNode;
      }
    }
    if (a == ir::kNoNode || std::count(tn.begin(), tn.end(), a) != 2) return ir::kNoNode;
    // A polynomial a with a sum in its far form: as written it is inf - inf =
    // NaN past its range where its square is inf (random_forms seed 5228).
    NodeId af = a;
    if (NodeId p = polynomial_far(a); p != ir::kNoNode) af = p;
    for (NodeId f : td) {
      if (!input_free(f)) return ir::kNoNode;
      scale_dens.push_back(f);
    }
    NodeId far_condition;
    if (scale_nums.empty() && scale_dens.empty()) {
      double threshold = std::ldexp(std::sqrt(b / std::fabs(kt)), 27);
      if (!(threshold <= kSquareGuard)) return ir::kNoNode;
      far_condition = make(Op::Gt, {make(Op::Abs, {af}), c(threshold)});
    } else {
      double threshold = std::ldexp(b, 54);
      if (!std::isfinite(threshold)) return ir::kNoNode;
      far_condition = make(Op::Gt, {make(Op::Abs, {t}), c(threshold)});
    }
    std::vector<NodeId> nums, dens;
    double k = 1;
    factors(num, nums, dens, k, false);
    if (!dens.empty()) return ir::kNoNode;
    int left = 2;  // the powers of a still to divide by
    NodeId far = c(k / kt);
    int kept_degree = 0;  // of the factors left in u, where they are polynomials in the input
    int cancelled = 0;
    for (NodeId f : nums) cancelled += f == a && cancelled < 2;
    left -= cancelled;
    for (NodeId f : nums) {
      if (f == a && cancelled > 0) {
        --cancelled;
      } else {
        // each factor over an a still to divide by (f / a): x*x / (gelu(x)^2 + 1)
        // was inf / inf past 1.3e154 in double, (x / a)(x / a) is 1
        far = make(Op::Mul, {far, left > 0 ? make(Op::Div, {f, af}) : f});
        left -= left > 0;
        int d = polynomial_degree(f);
        kept_degree = d < 0 || kept_degree < 0 ? -1 : kept_degree + d;
      }
    }
    // What is left of u would overflow with a*a ((x*x + 2x + 1) / (x*x +
    // 1) was inf past 1.8e19 in float, NaN at inf): over_polynomial's
    // scaled form takes such quotients.
    if (kept_degree >= 2 && polynomial_degree(den) >= 1) return ir::kNoNode;
    for (NodeId f : scale_dens) far = make(Op::Mul, {far, f});
    for (NodeId f : scale_nums) far = make(Op::Div, {far, f});
    for (; left > 0; --left) far = make(Op::Div, {far, af});
    return make(Op::Where, {far_condition, far, make(Op::Div, {num, den})});
  }

  /// ir::input_free
  bool input_free(NodeId n) const { return ir::input_free(g_, n); }

  /// u / (a + k) and u / (|a| + k) for a constant k != 0 and a product u
  /// with the factor a and more (another factor or a constant other than
  /// 1): (u / a) (a / (a + k)), the same roundings with the bounded quotient
  /// formed first, so that u's product does not overflow before the result
  /// does (x*x / (1 + abs(x)) was inf past 1.8e19 in float, 1e3 x / (1 +
  /// abs(x)) past 3.4e35); a / (a + k) differentiates without the quotient
  /// rule's cancellation (diff.cpp's shifted denominators).
  NodeId over_shifted(NodeId num, NodeId den) {
    if (op(den) != Op::Add || !g_.is_const(arg(den, 1)) || is(arg(den, 1), 0.0)) return ir::kNoNode;
    NodeId shifted = arg(den, 0);
    NodeId a = op(shifted) == Op::Abs ? arg(shifted, 0) : shifted;
    std::vector<NodeId> nums, dens;
    double k = 1;
    factors(num, nums, dens, k, false);
    auto it = std::find(nums.begin(), nums.end(), a);
    if (!dens.empty() || it == nums.end() || (nums.size() == 1 && k == 1)) return ir::kNoNode;
    nums.erase(it);
    NodeId rest = c(k);
    for (NodeId f : nums) rest = make(Op::Mul, {rest, f});
    return make(Op::Mul, {rest, stabilized(Op::Div, a, den)});
  }

  /// The degree in the input x of a polynomial in x with coefficients free
  /// of it (absolute values of such polynomials allowed: |b1 x + b2 x^2| is
  /// of degree 2), or -1 for anything else (and past degree 32).
  int polynomial_degree(NodeId n) {
    if (auto it = degree_of_.find(n); it != degree_of_.end()) return it->second;
    int d = -1;
    const ir::Node& node = g_[n];
    if (input_free(n)) {
      d = 0;
    } else if (node.op == Op::Input) {
      d = node.value == 0 ? 1 : -1;  // the element itself, not a view of a row
    } else if (node.op == Op::Neg || node.op == Op::Abs || (node.op == Op::Div && g_.is_const(node.args[1]))) {
      d = polynomial_degree(node.args[0]);  // (a / k: x / 1.5, which is no product by a power of two)
    } else if (node.op == Op::Add || node.op == Op::Sub || node.op == Op::Mul) {
      int a = polynomial_degree(node.args[0]), b = a < 0 ? -1 : polynomial_degree(node.args[1]);
      if (a >= 0 && b >= 0) d = node.op == Op::Mul ? a + b : std::max(a, b);
    } else if (node.op == Op::Pow && g_.is_const(node.args[1])) {
      double k = g_.const_value(node.args[1]);
      int a = polynomial_degree(node.args[0]);
      if (a >= 0 && k >= 2 && k <= 32 && k == std::floor(k)) d = a * int(k);
    }
    if (d > 32) d = -1;
    degree_of_.emplace(n, d);
    return d;
  }

  /// r^d p(x) for a polynomial p (polynomial_degree), written in r = 1/x
  /// (`scale`): x^k r^d = r^(d - k), or x^(k - d) where k > d, so that no
  /// power of x past d is formed; r^d |a| = r^(d - e) sign(x)^e |r^e a| for a
  /// of degree e.
  struct Scale {
    NodeId x, r, sign;
    std::vector<NodeId> powers;  // r^0 (kNoNode: 1), r^1, ...
  };
  NodeId scaled_polynomial(NodeId p, int d, Scale& scale) {
    auto times_power = [&](NodeId t, int k) {  // t r^k, t x^-k for k < 0 (t = kNoNode: 1)
      auto times = [&](NodeId f) { return t == ir::kNoNode ? f : make(Op::Mul, {t, f}); };
      for (; k < 0; ++k) t = times(scale.x);
      while (int(scale.powers.size()) <= k)
        scale.powers.push_back(scale.powers.size() == 1 ? scale.r : make(Op::Mul, {scale.powers.back(), scale.r}));
      if (k > 0) t = times(scale.powers[size_t(k)]);
      return t == ir::kNoNode ? c(1) : t;
    };
    const ir::Node n = g_[p];  // a copy: the calls below add nodes (the graph may move)
    if (input_free(p)) return times_power(p, d);
    switch (n.op) {
      case Op::Input:
        return times_power(ir::kNoNode, d - 1);
      case Op::Neg:
        return neg(scaled_polynomial(n.args[0], d, scale));
      case Op::Div:  // by a constant
        return make(Op::Div, {scaled_polynomial(n.args[0], d, scale), n.args[1]});
      case Op::Abs: {
        int e = polynomial_degree(n.args[0]);
        NodeId a = make(Op::Abs, {scaled_polynomial(n.args[0], e, scale)});
        return times_power(e % 2 ? make(Op::Mul, {a, scale.sign}) : a, d - e);
      }
      case Op::Add:
      case Op::Sub: {
        NodeId a = scaled_polynomial(n.args[0], d, scale);
        return make(n.op, {a, scaled_polynomial(n.args[1], d, scale)});
      }
      case Op::Mul: {
        int da = std::min(d, polynomial_degree(n.args[0]));
        NodeId a = scaled_polynomial(n.args[0], da, scale);
        return make(Op::Mul, {a, scaled_polynomial(n.args[1], d - da, scale)});
      }
      default: {  // Pow(a, k)
        int da = polynomial_degree(n.args[0]), k = int(g_.const_value(n.args[1]));
        NodeId a = scaled_polynomial(n.args[0], da, scale);
        return times_power(make(Op::Pow, {a, n.args[1]}), d - k * da);
      }
    }
  }

  /// The far form of P / Q (over_polynomial) before its powers of x:
  /// r^D P / (r^q Q) for D the larger degree, `extra` = p - q factors x
  /// (where p > q) and D. A numerator of higher degree as (r^p P / r^q Q)
  /// x^(p - q): its terms in x^(k - q) overflowed to inf - inf = NaN where
  /// their signs differ (tanh of a Pade unit of degree (5, 1) was NaN past
  /// 1e61 in double, where it is -1); the quotient is of order 1, and each
  /// product by x keeps its sign and stays below the result.
  struct QuotientFar {
    NodeId ratio;
    int extra, top;
  };
  QuotientFar polynomial_quotient_far(NodeId num, NodeId den, Scale& scale) {
    int dn = polynomial_degree(num), dd = polynomial_degree(den), top = std::max(dn, dd);
    NodeId ratio = make(Op::Div, {scaled_polynomial(num, top, scale), scaled_polynomial(den, dd, scale)});
    return {ratio, std::max(0, dn - dd), top};
  }

  /// P(x) / Q(x) for polynomials P and Q in the input (polynomial_degree),
  /// Q of degree q >= 1, either of degree 2 or more (D the larger): past
  /// |x| = 2^min(32, 96 / D), r^q P / (r^q Q) in r = 1/x (scaled_polynomial),
  /// as a rare branch (ir::where: kernels compute it only for registers
  /// with a lane that far out). The powers of x overflowed where the
  /// quotient is finite (x / (x*x + 1)^2 was 0 past 4.3e9 in float, x^3 /
  /// (1 + |x|^3) NaN past 5.6e102 in double, a Pade unit (a0 + a1 x + a2
  /// x^2) / (1 + |b1 x|) inf past 1.8e19 in float). r^q Q is of order 1 and
  /// its derivative small, so the quotient rule's terms keep their size
  /// (with r^D Q, (r^D Q)' underflowed for the Pade unit). Nearer, x^D
  /// stays below 2^96 (coefficients up to 2^32 keep float's range) and the
  /// quotient is as written, to the bit; at +-inf the far form gives the
  /// limit. The far form is the quotient at 1/r, x up to r's rounding (half
  /// an ULP); for a numerator of degree p > q, r^p P / (r^q Q) times x^(p - q).
  NodeId over_polynomial(NodeId num, NodeId den) {
    int dn = polynomial_degree(num), dd = dn < 0 ? -1 : polynomial_degree(den);
    if (dn < 1 || dd < 1 || std::max(dn, dd) < 2) return ir::kNoNode;
    Scale scale = scale_of(den);
    auto [far, extra, top] = polynomial_quotient_far(num, den, scale);
    for (int k = 0; k < extra; ++k) far = make(Op::Mul, {far, scale.x});
    NodeId r = ir::where(g_, past_polynomial_range(scale, top), far, make(Op::Div, {num, den}), true);
    quotient_of_polynomials_[r] = {num, den};
    return r;
  }

  /// A polynomial P in the input of degree d >= 2 with a sum (polynomial_degree,
  /// has_sum) as where(past_polynomial_range, (r^d P) x^d, P), a rare branch:
  /// its terms' powers overflowed to inf - inf = NaN where their signs differ
  /// (erf(0.04 + 0.04x - 0.5x^2 - 0.25x^3 - 4x^5) was NaN past 1e62 in double,
  /// where it is 1); r^d P is of order 1 (P's leading coefficient far out),
  /// and each product by x keeps its sign. Else kNoNode. For the arguments of
  /// tanh, erf, erfc and atan, which saturate long before.
  NodeId polynomial_far(NodeId p) {
    int d = polynomial_degree(p);
    if (d < 2 || !has_sum(p)) return ir::kNoNode;
    Scale scale = scale_of(p);
    NodeId far = scaled_polynomial(p, d, scale);
    for (int k = 0; k < d; ++k) far = make(Op::Mul, {far, scale.x});
    return ir::where(g_, past_polynomial_range(scale, d), far, p, true);
  }

  /// `t` with its polynomials (polynomial_far) in their far form, `t` itself
  /// or its operands through products, quotients, sums, negations, absolute
  /// values and where()'s branches, `depth` levels down: a comparison's
  /// operand, where the
  /// polynomials' inf - inf = NaN made the condition false (random_forms seed
  /// 5105: where(P(x) / (log1p(|x|/20)^2 + 1) > 1, ...), P of degree 5, took
  /// the other branch past 1e10 in float, where P is 4e48).
  NodeId polynomials_far(NodeId t, int depth) {
    if (two_growing_terms(t))
      if (NodeId p = polynomial_far(t); p != ir::kNoNode) return p;
    Op o = op(t);
    if (depth == 0 || input_free(t)) return t;
    if (o == Op::Where) {  // its branches (a far form's)
      NodeId p = polynomials_far(arg(t, 1), depth - 1), q = polynomials_far(arg(t, 2), depth - 1);
      return p == arg(t, 1) && q == arg(t, 2) ? t : ir::where(g_, arg(t, 0), p, q, g_[t].value != 0);
    }
    if (o != Op::Mul && o != Op::Div && o != Op::Add && o != Op::Sub && o != Op::Neg && o != Op::Abs) return t;
    std::array<NodeId, 2> args{arg(t, 0), o == Op::Neg || o == Op::Abs ? ir::kNoNode : arg(t, 1)};
    bool changed = false;
    for (NodeId& u : args)
      if (u != ir::kNoNode) {
        NodeId v = polynomials_far(u, depth - 1);
        changed |= v != u;
        u = v;
      }
    if (!changed) return t;
    return o == Op::Neg || o == Op::Abs ? make(o, {args[0]}) : make(o, {args[0], args[1]});
  }

  /// Whether a sum or difference of two terms that both depend on the input
  /// is among the nodes `p` is computed from: only such a sum can be inf -
  /// inf (sigmoid's sign test of gelu_tanh's x (k x^2 + c) cannot).
  bool two_growing_terms(NodeId p) const {
    for (NodeId id : g_.reachable(std::vector<NodeId>{p}))
      if ((op(id) == Op::Add || op(id) == Op::Sub) && !input_free(arg(id, 0)) && !input_free(arg(id, 1))) return true;
    return false;
  }

  /// Whether a sum or difference is among the nodes `p` is computed from.
  bool has_sum(NodeId p) const {
    for (NodeId id : g_.reachable(std::vector<NodeId>{p}))
      if (op(id) == Op::Add || op(id) == Op::Sub) return true;
    return false;
  }

  /// The Scale of the input in `p` (which depends on it).
  Scale scale_of(NodeId p) {
    NodeId x = ir::kNoNode;
    for (NodeId id : g_.reachable(std::vector<NodeId>{p}))
      if (op(id) == Op::Input) x = id;
    return Scale{x, make(Op::Div, {c(1), x}), make(Op::Sign, {x}), {ir::kNoNode}};
  }
  /// |x| > 2^min(32, 96 / d): where a polynomial of degree d takes its far form.
  NodeId past_polynomial_range(const Scale& scale, int d) {
    return make(Op::Gt, {make(Op::Abs, {scale.x}), c(std::ldexp(1.0, std::min(32, 96 / d)))});
  }

  /// log(P(x)) and log1p(P(x)) (`plus_one`) for a polynomial P in the
  /// input of degree d >= 2 (polynomial_degree): past |x| = 2^min(32, 96 /
  /// d) (past_polynomial_range), log(|r|^d P) + d log|x| with r = 1/x
  /// (scaled_polynomial; |r|^d + |r|^d P for log1p), else as written (log(1 +
  /// x^4) was inf past 1.8e19 in float where it is 177; log(x^4 + 2)
  /// likewise), as a rare branch (ir::where). Not log of a monomial
  /// (log(x*x), log(|x|^3)), whose forms other rules match. Else kNoNode.
  NodeId log_of_polynomial(NodeId t, bool plus_one) {
    int d = polynomial_degree(t);
    if (d < 2 || (!plus_one && !has_sum(t))) return ir::kNoNode;  // not monomials: log(x*x) is the other rules'
    Scale scale = scale_of(t);
    NodeId sp = scaled_polynomial(t, d, scale);
    if (plus_one) sp = make(Op::Add, {scaled_polynomial(c(1), d, scale), sp});
    if (d % 2) sp = make(Op::Mul, {sp, scale.sign});  // |r|^d = r^d sign(x)^d
    NodeId shift = make(Op::Mul, {make(Op::Log, {make(Op::Abs, {scale.x})}), c(d)});
    NodeId far = make(Op::Add, {make(Op::Log, {sp}), shift});
    return ir::where(g_, past_polynomial_range(scale, d), far, make(plus_one ? Op::Log1p : Op::Log, {t}), true);
  }

  /// num / den with the where() on one side (`in_den`) split into its
  /// branches, where a branch's quotient is a removable one; else kNoNode.
  NodeId branch_quotients(NodeId num, NodeId den, bool in_den) {
    NodeId w = in_den ? den : num;
    if (op(w) != Op::Where) return ir::kNoNode;
    std::array<NodeId, 2> branch{};
    bool any = false;
    for (int b = 0; b < 2; ++b) {
      NodeId p = in_den ? num : arg(w, 1 + b), d = in_den ? arg(w, 1 + b) : den;
      branch[size_t(b)] = removable_quotient({p, d, ir::kNoNode});
      any = any || branch[size_t(b)] != ir::kNoNode;
      if (branch[size_t(b)] == ir::kNoNode) branch[size_t(b)] = make(Op::Div, {p, d});
    }
    return any ? make(Op::Where, {arg(w, 0), branch[0], branch[1]}) : ir::kNoNode;
  }

  /// x y (x / y for a quotient) with its factors exp(a), exp(b), ... as one
  /// exp(a + b - ...): exp(x) exp(-1.5 x) was inf * 0 past 1e3 in double
  /// (inf below -472), exp(x) / exp(2x) 0 / 0 past 745, where the one exp
  /// is finite; and it is one exp fewer. exp's argument is a double-float in
  /// the kernels, so the sum's rounding is not added to the result's (exp(x
  /// - x*x) is 0.5 ULP in double). Only where two exps have different
  /// arguments: exp(a) exp(a) stays a product (one exp; mish's slope).
  NodeId merged_exps(NodeId x, NodeId y, bool quotient) {
    std::vector<NodeId> nums, dens;
    double k = 1;
    factors(x, nums, dens, k, false);
    factors(y, nums, dens, k, quotient);
    std::vector<NodeId> up, down;  // the exps' arguments
    auto split = [&](std::vector<NodeId>& fs, std::vector<NodeId>& exps) {
      std::erase_if(fs, [&](NodeId f) { return op(f) == Op::Exp && (exps.push_back(arg(f, 0)), true); });
    };
    split(nums, up);
    split(dens, down);
    std::vector<NodeId> all = up;
    all.insert(all.end(), down.begin(), down.end());
    // A factor sinh(a) or cosh(a) beside exps: (sign(a)) exp(|a| + ...) (1 -+
    // exp(-2|a|)) / 2 past |a| = 20 (sinh(x) exp(-x) was inf past 89 in float,
    // where it is 1/2; NaN past 710 in double). The last factor is 1 to
    // double's precision there, but its slope is what sinh(x) exp(-x)'s is.
    NodeId hyperbolic = ir::kNoNode;
    if (!all.empty())
      for (auto it = nums.begin(); it != nums.end(); ++it)
        if (op(*it) == Op::Sinh || op(*it) == Op::Cosh) {
          hyperbolic = *it;
          nums.erase(it);
          break;
        }
    if (hyperbolic == ir::kNoNode &&
        (all.size() < 2 ||
         (std::all_of(all.begin(), all.end(), [&](NodeId e) { return e == all[0]; }) && (up.empty() || down.empty()))))
      return ir::kNoNode;
    // The exponents as terms t k, like terms collected (x - 1.5 x = -0.5 x;
    // a term whose coefficients cancel, exp(x) / exp(x), drops out: its
    // limit at +-inf too)
    std::vector<std::pair<NodeId, NodeId>> terms;
    auto add_term = [&](NodeId e, double sign) {
      NodeId coef = c(sign);
      if (op(e) == Op::Neg) {
        e = arg(e, 0);
        coef = c(-sign);
      } else if (op(e) == Op::Mul && g_.is_const(arg(e, 1))) {
        coef = sign > 0 ? arg(e, 1) : make(Op::Neg, {arg(e, 1)});
        e = arg(e, 0);
      }
      for (auto& [term, sum] : terms)
        if (term == e) {
          sum = make(Op::Add, {sum, coef});
          return;
        }
      terms.push_back({e, coef});
    };
    auto exponent = [&]() {
      NodeId sum = ir::kNoNode;
      for (auto [term, coef] : terms) {
        if (!g_.is_const(coef) || is(coef, 0.0)) continue;
        NodeId t = is(coef, 1.0) ? term : is(coef, -1.0) ? neg(term) : make(Op::Mul, {term, coef});
        sum = sum == ir::kNoNode ? t : make(Op::Add, {sum, t});
      }
      return sum;
    };
    for (NodeId e : up) add_term(e, 1);
    for (NodeId e : down) add_term(e, -1);
    NodeId sum = exponent();
    NodeId t = sum == ir::kNoNode ? c(1) : stabilized(Op::Exp, sum);
    if (hyperbolic != ir::kNoNode) {
      NodeId a = arg(hyperbolic, 0);
      add_term(make(Op::Abs, {a}), 1);
      NodeId far_sum = exponent();
      NodeId e2 = make(Op::Mul, {make(Op::Abs, {a}), c(-2)});
      NodeId rest =
          op(hyperbolic) == Op::Sinh ? neg(make(Op::Expm1, {e2})) : make(Op::Add, {make(Op::Exp, {e2}), c(1)});
      NodeId half = make(Op::Mul, {rest, c(0.5)});
      NodeId far = far_sum == ir::kNoNode ? half : make(Op::Mul, {stabilized(Op::Exp, far_sum), half});
      if (op(hyperbolic) == Op::Sinh) far = make(Op::Where, {make(Op::Gt, {a, c(0)}), far, neg(far)});
      t = rare_where(make(Op::Gt, {make(Op::Abs, {a}), c(20)}), far, make(Op::Mul, {t, hyperbolic}));
    }
    // The other factors u (and k, and over the denominator's): u exp(s), and past |s| =
    // kExpDivSplit, a rare branch, e (e u) with e = exp(s/2): exp(s) overflowed (or
    // underflowed) where the product is finite (expm1(m) exp(-expm1(m)) / exp(R) was -inf
    // at R = -744 in double, where it is -1.6e291)
    auto times_rest = [&](NodeId e) {
      for (NodeId f : nums) e = stabilized(Op::Mul, e, f);
      if (k != 1) e = make(Op::Mul, {e, c(k)});
      if (dens.empty()) return e;
      NodeId d = dens[0];
      for (size_t i = 1; i < dens.size(); ++i) d = stabilized(Op::Mul, d, dens[i]);
      return stabilized(Op::Div, e, d);
    };
    NodeId near = times_rest(t);
    if (hyperbolic != ir::kNoNode || sum == ir::kNoNode || near == t) return near;
    NodeId half = stabilized(Op::Exp, make(Op::Mul, {sum, c(0.5)}));
    return rare_where(make(Op::Gt, {make(Op::Abs, {sum}), c(ir::kExpDivSplit)}),
                      make(Op::Mul, {half, times_rest(half)}), near);
  }

  /// The factors of a quotient of products (at most 8 split), sorted into
  /// numerator and denominator (`below`: t is in the denominator); its
  /// constant factors multiplied into k (divided, in the denominator).
  void factors(NodeId t, std::vector<NodeId>& nums, std::vector<NodeId>& dens, double& k, bool below) const {
    bool room = nums.size() + dens.size() < 8;
    if (op(t) == Op::Neg || (op(t) == Op::Sub && is(arg(t, 0), 0.0))) {  // -t, 0 - t (1 - exp(a) as 0 - expm1(a))
      k = -k;
      factors(arg(t, op(t) == Op::Neg ? 0 : 1), nums, dens, k, below);
    } else if (op(t) == Op::Mul && room) {
      factors(arg(t, 0), nums, dens, k, below);
      factors(arg(t, 1), nums, dens, k, below);
    } else if (op(t) == Op::Div && room && !g_.is_const(arg(t, 1))) {
      factors(arg(t, 0), nums, dens, k, below);
      factors(arg(t, 1), nums, dens, k, !below);
    } else if (int power = small_power(g_, t); power && room) {  // a^3, a^4 (a^2 is a a)
      for (int i = 0; i < power; ++i) (below ? dens : nums).push_back(arg(t, 0));
    } else if (g_.is_const(t)) {
      k = below ? k / g_.const_value(t) : k * g_.const_value(t);
    } else {
      (below ? dens : nums).push_back(t);
    }
  }

  /// The argument of `u` when it is sin, sinh, tan, tanh, atan, asinh,
  /// erf, expm1 or log1p (functions with u(0) = 0, u'(0) != 0), else kNoNode.
  NodeId vanishing_argument(NodeId u) const {
    switch (op(u)) {
      case Op::Sin: case Op::Sinh: case Op::Tan: case Op::Tanh: case Op::Atan: case Op::Asinh: case Op::Erf:
      case Op::Expm1: case Op::Log1p:
        return arg(u, 0);
      default:
        return ir::kNoNode;
    }
  }

  /// s with h = s a, when h and a are the same node up to a factor -1
  /// or a nonzero constant (h = a, -a, a k, a / k, or a = -h, h k), else 0.
  double ratio(NodeId h, NodeId a) const {
    if (h == ir::kNoNode || a == ir::kNoNode) return 0;
    auto base = [&](NodeId t) -> std::pair<NodeId, double> {
      if (op(t) == Op::Neg) return {arg(t, 0), -1};
      if (op(t) == Op::Mul && g_.is_const(arg(t, 1)) && g_.const_value(arg(t, 1)) != 0)
        return {arg(t, 0), g_.const_value(arg(t, 1))};
      if (op(t) == Op::Div && g_.is_const(arg(t, 1))) {  // a / k (simplify makes a / 2^j a 2^-j)
        double k = g_.const_value(arg(t, 1));
        if (k != 0 && std::isfinite(k) && std::isfinite(1 / k)) return {arg(t, 0), 1 / k};
      }
      return {t, 1};
    };
    auto [bh, sh] = base(h);
    auto [ba, sa] = base(a);
    return bh == ba && !g_.is_const(bh) ? sh / sa : 0;
  }

  /// f where h = a f or f a for a non-constant f (a parameter, or x in
  /// sin(x x) / x), else kNoNode (constant factors: ratio()).
  NodeId cofactor(NodeId h, NodeId a) const {
    if (h == ir::kNoNode || op(h) != Op::Mul) return ir::kNoNode;
    for (int k = 0; k < 2; ++k)
      if (arg(h, k) == a && !g_.is_const(arg(h, 1 - k))) return arg(h, 1 - k);
    return ir::kNoNode;
  }

  /// u(h) / w(g) for h = s g: below |g| = 1 (where each series serves)
  /// s (u(h) / h) / (w(g) / g), beyond the quotient itself (the pairs'
  /// quotients there cost two roundings more: tan(x)/sin(x) 3.4 ULP).
  NodeId removable_ratio(NodeId u, NodeId w, double s) {
    NodeId naive = plain_quotient(u, w);
    NodeId near = times(make(Op::Div, {removable_pair(u, false), removable_pair(w, false)}), s);
    return make(Op::Where, {make(Op::Lt, {make(Op::Abs, {arg(w, 0)}), c(1)}), near, naive});
  }

  /// o(x, y) as the rules rewrite it (a node made for the purpose).
  NodeId stabilized(Op o, NodeId x, NodeId y = ir::kNoNode) {
    ir::Node n{o, uint8_t(y == ir::kNoNode ? 1 : 2), {x, y, ir::kNoNode}, 0, 0};
    return rebuild(n, n.args);
  }

  /// o(x, y) as the rules rewrite it, or kNoNode where no rule does (the node
  /// as made): a sum handed to the rules to see whether it has a stable form.
  NodeId rewritten(Op o, NodeId x, NodeId y) {
    NodeId r = stabilized(o, x, y);
    return r == make(o, {x, y}) ? ir::kNoNode : r;
  }

  /// num / den as the other rules leave it, without removable_quotient's
  /// (its series' "beyond" branch: expm1(h) / h's ExpDiv past h = 80).
  NodeId plain_quotient(NodeId num, NodeId den) {
    in_removable_ = true;
    NodeId q = stabilized(Op::Div, num, den);
    in_removable_ = false;
    return q;
  }

  NodeId times(NodeId q, double k) { return k == 1 ? q : make(Op::Mul, {q, c(k)}); }

  /// u(h) / h, or h / u(h) (`reciprocal`), for h = u's argument: near 0
  /// the quotient's own series: sin, sinh (in h^2, below |h| = 1.5 and 2,
  /// 13 terms: double's precision there), tanh as the sinh series over
  /// cosh(h) (below 1.2), expm1 (on (-1, 2), 25 terms); log1p(h)/h as
  /// (1 - s) T(s^2) with s = h / (2 + h) (on (-0.75, 3)), atan(h)/h as 1 -
  /// h^2 atan_remainder(h) (below 1), erf (below 1), tan (below 1, 42
  /// terms), asinh (below 1.5; above 1/2 its series at 1); h / u(h) as 1
  /// over it. At the bands' ends the quotient rule loses at most ~3 ULP.
  /// Beyond, the quotient as the other rules leave it (expm1(h) / h's
  /// ExpDiv past h = 80).
  NodeId removable_pair(NodeId u, bool reciprocal) {
    NodeId v = arg(u, 0);
    NodeId naive = reciprocal ? plain_quotient(v, u) : plain_quotient(u, v);
    auto oriented = [&](NodeId q) { return reciprocal ? make(Op::Div, {c(1), q}) : q; };
    NodeId av = make(Op::Abs, {v});
    switch (op(u)) {
      case Op::Sin: case Op::Sinh: case Op::Tanh: {
        // tanh(a)/a = (sinh(a)/a) / cosh(a): the quotient rule on it does
        // not cancel (S' cosh - S sinh is -2a/3 + ... from a/3 and a; 1 -
        // tanhshrink(a)/a's slope measured 10.6 ULP in float, its a^3
        // underflowed near 0)
        bool sin = op(u) == Op::Sin;
        NodeId series = polynomial(make(Op::Mul, {v, v}), inverse_factorials(1, 2, 13, sin));
        if (op(u) == Op::Tanh) {
          // less its limit 1: sinh(a)/a - cosh(a) = z Q(z), z = a^2, Q's coefficients
          // 1/(2k+1)! - 1/(2k)! = -2k/(2k+1)! (k >= 1), so tanh(a)/a - 1 = z Q(z) / cosh(a)
          // and a/tanh(a) - 1 = -z Q(z) / (sinh(a)/a) (both cancelled near 0: 8e-8 off at 1e-5
          // in double)
          NodeId z = make(Op::Mul, {v, v});
          std::vector<double> q;
          double f = 6;  // (2k+1)!
          for (int k = 1; k <= 12; f *= double(2 * k + 2) * double(2 * k + 3), ++k) q.push_back(-2.0 * k / f);
          NodeId zq = make(Op::Mul, {z, polynomial(z, q)}), ch = make(Op::Cosh, {v});
          NodeId shifted = reciprocal ? neg(make(Op::Div, {zq, series})) : make(Op::Div, {zq, ch});
          series = make(Op::Div, {series, ch});
          less_limit_[oriented(series)] = {1.0, shifted};
        }
        // where the quotient rule's amplification of the parts' errors is the
        // same either way (2.6 for tanh at 1.2)
        double band = sin ? 1.5 : op(u) == Op::Tanh ? 1.2 : 2;
        NodeId r = make(Op::Where, {make(Op::Lt, {av, c(band)}), oriented(series), naive});
        if (op(u) != Op::Tanh) sinc_of_[r] = {u, reciprocal};
        return r;
      }
      case Op::Expm1: {
        NodeId near = make(Op::And, {make(Op::Gt, {v, c(-1)}), make(Op::Lt, {v, c(2)})});
        return make(Op::Where, {near, oriented(polynomial(v, inverse_factorials(1, 1, 25, false))), naive});
      }
      case Op::Log1p: {
        // log1p(a) = 2 atanh(s), s = a / (2 + a), and a = 2s / (1 - s):
        // log1p(a)/a = (1 - s) T(s^2) with T(z) = atanh(sqrt z)/sqrt z = sum
        // z^k / (2k + 1); on (-0.75, 3) |s| < 0.6 (37 terms), where the
        // quotient rule would lose up to 6x at the ends of a narrower band
        NodeId sv = make(Op::Div, {v, make(Op::Add, {v, c(2)})});
        std::vector<double> coefficients;
        for (int j = 0; j < 37; ++j) coefficients.push_back(1.0 / (2 * j + 1));
        NodeId t = polynomial(make(Op::Mul, {sv, sv}), coefficients);
        NodeId series = make(Op::Mul, {make(Op::Sub, {c(1), sv}), t});
        // less its limit 1: (1 - s) T - 1 = -s (T - s T1) with T(z) = 1 + z T1(z) (log1p(a)/a -
        // 1 cancelled near 0: 2e-11 relative at 1e-5 in double); a / log1p(a) - 1 = s (T - s
        // T1) / ((1 - s) T)
        NodeId t1 = polynomial(make(Op::Mul, {sv, sv}), {coefficients.begin() + 1, coefficients.end()});
        NodeId rest = make(Op::Mul, {sv, make(Op::Sub, {t, make(Op::Mul, {sv, t1})})});
        less_limit_[oriented(series)] = {1.0, reciprocal ? make(Op::Div, {rest, series}) : neg(rest)};
        NodeId near = make(Op::And, {make(Op::Gt, {v, c(-0.75)}), make(Op::Lt, {v, c(3)})});
        return make(Op::Where, {near, oriented(series), naive});
      }
      case Op::Atan: {
        // atan(a)/a = 1 - a^2 (a - atan(a)) / a^3 below |a| = 1 (a^2 times
        // it is at most 0.22 there: no cancellation; up to 1.5 a / atan(a)'s
        // slope, 1 over it, measured 10.6 ULP in float near 1.2)
        NodeId series = make(Op::Sub, {c(1), make(Op::Mul, {make(Op::Mul, {v, v}), atan_remainder(v)})});
        return make(Op::Where, {make(Op::Lt, {av, c(1)}), oriented(series), naive});
      }
      case Op::Erf: {
        // erf(a)/a = 2/sqrt(pi) sum (-1)^k a^2k / (k! (2k + 1)), below |a| = 1 (19 terms)
        std::vector<double> coefficients;
        double f = 1;
        for (int j = 0; j < 19; ++j) {
          if (j > 0) f *= j;
          coefficients.push_back((j % 2 ? -1 : 1) * 2 / std::sqrt(std::numbers::pi) / (f * (2 * j + 1)));
        }
        // its leading term 2/sqrt(pi) with the rest of its exact value (Node::lo): erf(x)/x -
        // 2/sqrt(pi) is z S(z) plus the constants' exact difference (-2.2e-17 in double, whose
        // pi is the double's, LANGUAGE.md), where the coefficient's rounding was left over
        // (4e-7 relative at 1e-5 in double)
        NodeId z = make(Op::Mul, {v, v});
        NodeId series =
            make(Op::Add, {make(Op::Mul, {z, polynomial(z, {coefficients.begin() + 1, coefficients.end()})}),
                           ir::constant(g_, coefficients[0], 1.533545961316588e-17)});
        return make(Op::Where, {make(Op::Lt, {av, c(1)}), oriented(series), naive});
      }
      case Op::Tan: {
        // tan(a)/a = sum t_(2k+1) a^2k below |a| = 1 (42 terms: the terms
        // fall by (2/pi)^2 each; the quotient rule loses 1.8x at 1), t_n of
        // tan = sum t_n a^n from tan' = 1 + tan^2: (n + 1) t_(n+1) = sum t_i t_(n-i)
        std::vector<double> t = tan_taylor(85), coefficients;
        for (size_t m = 1; m < t.size(); m += 2) coefficients.push_back(t[m]);
        NodeId series = polynomial(make(Op::Mul, {v, v}), coefficients);
        return make(Op::Where, {make(Op::Lt, {av, c(1)}), oriented(series), naive});
      }
      case Op::Asinh: {
        // asinh(a)/a: Taylor's series at 0 below |a| = 1/2 (sum (-1)^k C(2k, k)
        // / (4^k (2k + 1)) a^2k, 28 terms), Taylor's series at 1 in |a| - 1 on
        // [0.5, 1.5] (40 terms, truncated at 3e-21 relative: the slope's
        // truncation error is ~N / 0.5 times the value's; its terms' magnitudes sum to
        // 1.2x the value, 1.6x the slope: tools/fit_series.py taylor
        // asinh_quotient 40 1; a Chebyshev sum there cost the slope 58 ULP);
        // the quotient rule's slope loses 14x at 1/2 and 3.3x at 1.5
        std::vector<double> taylor;
        double r = 1;
        for (int j = 0; j < 28; ++j) {
          if (j > 0) r *= double(2 * j - 1) / double(2 * j);
          taylor.push_back((j % 2 ? -r : r) / (2 * j + 1));
        }
        static const std::vector<double> kAtOne{0.88137358701954305, -0.1742668058329955, -0.0025098894636413805, 0.031972672013080863, -0.020924128557041056, 0.0065610220641893089, 0.0012650295505055532, -0.0031393360296551628, 0.0021466934535265868, -0.00068170646315325318, -0.00021059289604058657, 0.00044183349616144806, -0.00030617683975438383, 9.6493026347415947e-05, 3.7058294626889844e-05, -7.2881710966199402e-05, 5.0813225959190503e-05, -1.5875289856578243e-05, -6.9198898685380943e-06, 1.315366134977837e-05, -9.2019549292181352e-06, 2.8534757473553694e-06, 1.3514571610426255e-06, -2.5156737738321742e-06, 1.7636598848580379e-06, -5.4354133908429036e-07, -2.7298575208781599e-07, 5.0100628754765983e-07, -3.5175038318965234e-07, 1.0785810297933358e-07, 5.6588627003987733e-08, -1.0280223152742893e-07, 7.2251762358496531e-08, -2.2061885563233882e-08, -1.1972697902386256e-08, 2.1583624500975187e-08, -1.5181405949124153e-08, 4.6192979529519724e-09, 2.5752178558894634e-09, -4.6146389788443812e-09};
        NodeId series = make(Op::Where, {make(Op::Lt, {av, c(0.5)}), polynomial(make(Op::Mul, {v, v}), taylor),
                                         polynomial(make(Op::Add, {av, c(-1)}), kAtOne)});
        return make(Op::Where, {make(Op::Lt, {av, c(1.5)}), oriented(series), naive});
      }
      default:
        return ir::kNoNode;  // unreachable: vanishing_argument lists the functions above
    }
  }

  /// a - log1p(a) (a^2/2 near 0, where the difference cancels): on (-0.5,
  /// 1.5), with s = a / (2 + a), log1p(a) = 2 atanh(s) = 2 s + 2 s^3 U(s^2),
  /// U(z) = sum z^k / (2k + 3) (|s| < 0.43: 37 terms for double, which the
  /// lowering cuts for float), and a - 2 s = a s: s (a - 2 s^2 U(s^2)), s
  /// once (its rounding squared, in 2 s^2 (1 / (1 - s) - s U), cost float
  /// 5.6 ULP and a second division, and a Taylor series below 1/4 besides);
  /// the naive difference beyond (it loses up to 6x).
  NodeId minus_log1p(NodeId a) {
    NodeId sv = make(Op::Div, {a, make(Op::Add, {a, c(2)})});
    std::vector<double> coefficients;
    for (int j = 0; j < 37; ++j) coefficients.push_back(1.0 / (2 * j + 3));
    NodeId sq = make(Op::Mul, {sv, sv});
    NodeId tail = make(Op::Mul, {make(Op::Mul, {sq, c(2)}), polynomial(sq, coefficients)});
    NodeId mid = make(Op::Mul, {sv, make(Op::Sub, {a, tail})});
    NodeId naive = make(Op::Sub, {a, make(Op::Log1p, {a})});
    NodeId near = make(Op::And, {make(Op::Gt, {a, c(-0.5)}), make(Op::Lt, {a, c(1.5)})});
    return make(Op::Where, {near, mid, naive});
  }

  /// (a - atan(a)) / a^3 for |a| < 1.5 (even in a): below |a| = 1/2 its
  /// Taylor series W(a^2), W(z) = sum (-1)^k z^k / (2k + 3) (27 terms),
  /// above Taylor's series at 1 in |a| - 1 (34 terms, 1.6e-16 relative:
  /// tools/fit_series.py taylor atan_minus 34 1). (A series in the half
  /// angle b = a / (1 + sqrt(1 + a^2)) was tried: b's rounding, cubed, cost
  /// float 9.8 ULP; a Chebyshev sum in u = 2 (|a| - 1), 22 terms, cost the
  /// double slope of a - atan(a) 12 ULP near 1.5 and of atan(a)/a 7.8 at
  /// 1/2 (Taylor's series at 1: 5.2 and 3.4); up to 2, 26 terms, 10.5 ULP
  /// near 2.)
  NodeId atan_remainder(NodeId a) {
    std::vector<double> taylor;
    for (int j = 0; j < 27; ++j) taylor.push_back((j % 2 ? -1.0 : 1.0) / (2 * j + 3));
    static const std::vector<double> kAtOne{0.21460183660255169, -0.14380550980765508, 0.037611019615310146, 0.020648300641149763, -0.030972450961724643, 0.018361431346414502, -0.0036485751285526692, -0.004237546263289425, 0.0052969328291117817, -0.003001806791136622, 0.00047716814936394632, 0.00085652855075169984, -0.00099928330921031654, 0.00055205766447344209, -7.2887330826790911e-05, -0.0001778110250629703, 0.00020003740319584159, -0.00010868150945417589, 1.2250288282417662e-05, 3.7858234003643633e-05, -4.1644057404008003e-05, 2.2358670013913524e-05, -2.1966741060874807e-06, -8.2271205368614346e-06, 8.9127139149332199e-06, -4.7429185281278776e-06, 4.1274639567617596e-07, 1.8172411398292925e-06, -1.9470440783885278e-06, 1.0289927001739433e-06, -8.0339609352206227e-08, -4.0669619206055466e-07, 4.3211470406433934e-07, -2.2710970033339021e-07};
    NodeId aa = make(Op::Abs, {a});
    return make(Op::Where, {make(Op::Lt, {aa, c(0.5)}), polynomial(make(Op::Mul, {a, a}), taylor),
                            polynomial(make(Op::Add, {aa, c(-1)}), kAtOne)});
  }

  /// a - atan(a) (a^3/3 near 0): a^3 atan_remainder(a) below |a| = 1.5,
  /// the naive difference beyond (it loses at most 4.8x there).
  NodeId minus_atan(NodeId a) {
    NodeId cube = make(Op::Mul, {make(Op::Mul, {a, a}), a});
    NodeId naive = make(Op::Sub, {a, make(Op::Atan, {a})});
    return make(Op::Where, {make(Op::Lt, {make(Op::Abs, {a}), c(1.5)}), make(Op::Mul, {cube, atan_remainder(a)}), naive});
  }

  /// tan(a) - a (a^3/3 near 0): a^3 P(a^2) below |a| = 1, P of 20 terms
  /// near minimax on [0, 1] (1.8e-16 relative: tools/fit_series.py poly
  /// tan_minus_sq 20 0 1; Taylor's series needs 42 there, its terms falling
  /// by (2/pi)^2 a^2 each), the naive difference beyond (it loses at most
  /// tan(1) / (tan(1) - 1) = 2.8x there).
  NodeId tan_minus(NodeId a) {
    static const std::vector<double> kP{0.33333333333333331, 0.13333333333333422, 0.053968253968137044, 0.02186948854230043, 0.0088632353594418536, 0.0035921309191830194, 0.0014558020133349013, 0.00059028265632823213, 0.00023766278380125554, 0.00010321575384017754, 1.8680241595497979e-05, 6.770465520311747e-05, -9.4135271037318409e-05, 0.00015337569269853585, -0.00017192807213746179, 0.00014987942015830884, -9.418707659229224e-05, 4.1364143419696149e-05, -1.1262971989477578e-05, 1.4952305491647495e-06};
    NodeId z = make(Op::Mul, {a, a});
    NodeId series = make(Op::Mul, {make(Op::Mul, {z, a}), polynomial(z, kP)});
    NodeId naive = make(Op::Sub, {make(Op::Tan, {a}), a});
    return make(Op::Where, {make(Op::Lt, {make(Op::Abs, {a}), c(1)}), series, naive});
  }

  /// a - asinh(a) (a^3/6 near 0): a^3 R(a) below |a| = 1.5, R below |a| =
  /// 1/2 Taylor's series sum (-1)^k C(2k + 2, k + 1) / (4^(k+1) (2k + 3))
  /// a^2k (26 terms, 1.6e-16 relative in double), above Taylor's series at
  /// 1 in |a| - 1 (34 terms, 1.8e-16: tools/fit_series.py taylor
  /// asinh_minus 34 1; a Chebyshev sum there, as atan_remainder's, cost the
  /// double slope 9.5 ULP at 1.5, this 3.6); the naive difference beyond
  /// (it loses at most 4.9x there, 26x at 1/2).
  NodeId minus_asinh(NodeId a) {
    std::vector<double> taylor;
    double r = 1;  // C(2k, k) / 4^k
    for (int k = 1; k <= 26; ++k) {
      r *= double(2 * k - 1) / double(2 * k);
      taylor.push_back((k % 2 ? r : -r) / (2 * k + 1));
    }
    static const std::vector<double> kAtOne{0.11862641298045698, -0.062986020127918443, 0.0098555167390213024, 0.011302314636794982, -0.011536017455570213, 0.0052086982101561333, -0.00014640851524760787, -0.0017765451500057548, 0.0015528053617325311, -0.00064735911030605402, -4.7494245079836508e-05, 0.00030051410430427891, -0.00024735712377433748, 9.7707116896980111e-05, 1.4884595353487428e-05, -5.4594596637755558e-05, 4.3491371962833182e-05, -1.6512857431332573e-05, -3.5457672316299458e-06, 1.0450730544814094e-05, -8.1537389287801073e-06, 3.0032715653907526e-06, 7.9573863695597762e-07, -2.0790750654705338e-06, 1.5987516091270519e-06, -5.7488681369927971e-07, -1.7599222964067649e-07, 4.2586498543297286e-07, -3.2398735803561686e-07, 1.1425162765892729e-07, 3.8895475713774549e-08, -8.9240347559047461e-08, 6.7333457045823849e-08, -2.3364680969366344e-08};
    NodeId aa = make(Op::Abs, {a});
    NodeId z = make(Op::Mul, {a, a});
    NodeId remainder =
        make(Op::Where, {make(Op::Lt, {aa, c(0.5)}), polynomial(z, taylor), polynomial(make(Op::Add, {aa, c(-1)}), kAtOne)});
    NodeId naive = make(Op::Sub, {a, make(Op::Asinh, {a})});
    return make(Op::Where, {make(Op::Lt, {aa, c(1.5)}), make(Op::Mul, {make(Op::Mul, {z, a}), remainder}), naive});
  }

  /// cosh(a) - 1 = 2 sinh(a/2)^2, without the cancellation near 0.
  NodeId cosh_minus_one(NodeId a) {
    NodeId h = make(Op::Sinh, {make(Op::Mul, {a, c(0.5)})});
    return make(Op::Mul, {make(Op::Mul, {h, h}), c(2)});
  }

  /// a - b, as -b for a = 0 and a for b = 0 (a constant 0 stands for the
  /// exponent of 1 = exp(0)).
  NodeId difference(NodeId a, NodeId b) {
    if (is(b, 0.0)) return a;
    return is(a, 0.0) ? scaled(b, -1) : make(Op::Sub, {a, b});
  }

  static bool exact_product(double a, double b) { return std::isnormal(a * b) && std::fma(a, b, -(a * b)) == 0; }

  /// t f with the constant factors of t (t = u k, -u) folded into f where
  /// k f is exact: (x 2) / 2 is x, -(x -1.702) is x 1.702. The same value
  /// but where u k overflows (a tanh's or sech^2's argument: +-1 or 0 there
  /// either way; for f = -1 the same value always).
  NodeId scaled(NodeId t, double f) {
    for (;;) {
      if (op(t) == Op::Neg) {
        t = arg(t, 0);
        f = -f;
      } else if (op(t) == Op::Mul && g_.is_const(arg(t, 1)) && exact_product(g_.const_value(arg(t, 1)), f)) {
        f *= g_.const_value(arg(t, 1));
        t = arg(t, 0);
      } else {
        break;
      }
    }
    if (f == 1) return t;
    return f == -1 ? neg(t) : make(Op::Mul, {t, c(f)});
  }

  /// t as u k, k a constant factor on t's spine of products and quotients (u k,
  /// -u, p q, p / q: x 0.5, x (x 0.5) / R; a constant k is 1 k), with u rebuilt
  /// by the rules (x x / R as they write it); {t, 1} where the spine has none.
  std::pair<NodeId, double> constant_factor(NodeId t) {
    switch (op(t)) {
      case Op::Mul:
        if (g_.is_const(arg(t, 1))) return {arg(t, 0), g_.const_value(arg(t, 1))};
        for (int j = 0; j < 2; ++j)
          if (auto [u, k] = constant_factor(arg(t, j)); k != 1)
            return {stabilized(Op::Mul, j ? arg(t, 0) : u, j ? u : arg(t, 1)), k};
        break;
      case Op::Div:
        if (auto [u, k] = constant_factor(arg(t, 0)); k != 1) return {stabilized(Op::Div, u, arg(t, 1)), k};
        break;
      case Op::Neg:
        if (auto [u, k] = constant_factor(arg(t, 0)); k != 1) return {u, -k};
        break;
      case Op::Const:
        if (double k = g_.const_value(t); k != 0 && std::isfinite(k)) return {c(1), k};
        break;
      default:
        break;
    }
    return {t, 1};
  }

  /// m / v for v a factor on m's spine of products and quotients (v t, t v, (v t)
  /// k, -(v t), (v t) / d, v / d), the spine rebuilt by the rules; kNoNode where
  /// v is none.
  NodeId without_factor(NodeId m, NodeId v) {
    switch (op(m)) {
      case Op::Mul:
        for (int j = 0; j < 2; ++j) {
          if (arg(m, size_t(j)) == v) return arg(m, size_t(1 - j));
          if (NodeId t = without_factor(arg(m, size_t(j)), v); t != ir::kNoNode)
            return stabilized(Op::Mul, j ? arg(m, 0) : t, j ? t : arg(m, 1));
        }
        return ir::kNoNode;
      case Op::Div:
        if (arg(m, 0) == v) return stabilized(Op::Div, c(1), arg(m, 1));
        if (NodeId t = without_factor(arg(m, 0), v); t != ir::kNoNode) return stabilized(Op::Div, t, arg(m, 1));
        return ir::kNoNode;
      case Op::Neg:
        if (NodeId t = without_factor(arg(m, 0), v); t != ir::kNoNode) return neg(t);
        return ir::kNoNode;
      default:
        return ir::kNoNode;
    }
  }

  /// v + v t = v (1 + t), v - v t = v (1 - t) and v t - v = v (t - 1) (o: Add or
  /// Sub; v a factor on the other term's spine, without_factor), where the rules
  /// rewrite the sum with 1; else kNoNode. The gelu multiplied out, x + x erf(x
  /// / sqrt(2)), cancelled below 0 (0 below -5.6 in float) where x (1 + erf(x /
  /// sqrt(2))) is erfc's; 2 x sigmoid(x) - x near 0 (9% off at -1e-6 in float),
  /// where 2 sigmoid(x) - 1 is tanh(x / 2).
  NodeId distributed_sum(Op o, NodeId p, NodeId q) {
    for (int k = 0; k < 2; ++k) {
      NodeId v = k ? q : p, t = input_free(v) ? ir::kNoNode : without_factor(k ? p : q, v);
      if (t == ir::kNoNode) continue;
      // v + v t, v t + v: t + 1; v - v t: 1 - t; v t - v: t - 1
      Op so = o == Op::Sub && k == 0 ? Op::Sub : Op::Add;
      NodeId l = so == Op::Sub ? c(1) : t, r = so == Op::Sub ? t : c(o == Op::Add ? 1 : -1);
      if (NodeId sum = rewritten(so, l, r); sum != ir::kNoNode) return stabilized(Op::Mul, v, sum);
    }
    return ir::kNoNode;
  }

  /// k u + k w as k (u + w) and k u - k w as k (u - w) (o: Add or Sub; k a
  /// constant other than 0 and +-1 on both terms' spines, constant_factor),
  /// where the rules rewrite the sum without k; else kNoNode. The rules
  /// match sums of the terms themselves: PFLU with its half distributed,
  /// 0.5 x + 0.5 x^2 / sqrt(1 + x^2), was 2.5% off at -700 in float and 0
  /// at -1e10, where x + x^2 / sqrt(1 + x^2) is held; 0.5 + 0.5 x / sqrt(1 +
  /// x^2) 5% off at -700 in float.
  NodeId common_factor_sum(Op o, NodeId p, NodeId q) {
    auto [u, k] = constant_factor(p);
    if (k == 1 || k == -1 || k == 0 || !std::isfinite(k)) return ir::kNoNode;
    auto [w, kw] = constant_factor(q);
    if (kw != k && kw != -k) return ir::kNoNode;
    Op sum = (kw == k) == (o == Op::Add) ? Op::Add : Op::Sub;
    if (sum == Op::Sub && g_.is_const(w)) {  // u - 1 as the rules see it: u + -1 (2 exp(x) - 2)
      sum = Op::Add;
      w = c(-g_.const_value(w));
    }
    NodeId r = rewritten(sum, u, w);
    return r == ir::kNoNode ? ir::kNoNode : stabilized(Op::Mul, r, c(k));
  }

  /// a when `t` is -expm1(a) or 0 - expm1(a) (1 - exp(a) rewritten), else kNoNode.
  NodeId minus_expm1(NodeId t) const {
    bool minus = op(t) == Op::Neg || (op(t) == Op::Sub && is(arg(t, 0), 0.0));
    NodeId e = minus ? arg(t, op(t) == Op::Neg ? 0 : 1) : ir::kNoNode;
    return e != ir::kNoNode && op(e) == Op::Expm1 ? arg(e, 0) : ir::kNoNode;
  }

  /// The exponent t of e = exp(t), or of the constant 1 = exp(0) (t is then
  /// the constant 0); kNoNode otherwise.
  NodeId exponent_of(NodeId e) {
    if (op(e) == Op::Exp) return arg(e, 0);
    // exp(a) exp(a), which merged_exps keeps a product: 2a (exp(x) / (exp(x) exp(x) +
    // 1) was NaN past 355 in double, inf / inf: random_forms seed 5111)
    if (op(e) == Op::Mul && arg(e, 0) == arg(e, 1) && op(arg(e, 0)) == Op::Exp) return scaled(arg(arg(e, 0), 0), 2);
    return is(e, 1.0) ? c(0) : ir::kNoNode;
  }

  /// p and q when `s` is exp(p) + exp(q), one of them possibly the constant
  /// 1 (q = 0 then); kNoNode twice otherwise.
  std::pair<NodeId, NodeId> exp_sum(NodeId s) {
    if (op(s) != Op::Add || (is(arg(s, 0), 1.0) && is(arg(s, 1), 1.0))) return {ir::kNoNode, ir::kNoNode};
    NodeId p = exponent_of(arg(s, 0)), q = exponent_of(arg(s, 1));
    if (p == ir::kNoNode || q == ir::kNoNode) return {ir::kNoNode, ir::kNoNode};
    return {p, q};
  }

  /// u / (k + exp(p1) + exp(p2) + ...), three terms or more, at least two
  /// exps, k free of the input: past m = max(p1, p2, ...) = 80, (u exp(-m)) /
  /// (k exp(-m) + exp(p1 - m) + ...), whose terms are at most 1 (exp(x) / (1
  /// + exp(x) + exp(2x)) was 0 past 44.4 in float, where exp(2x) overflows
  /// and the quotient is 1.9e-22 at 50; NaN past 709.8 in double). A rare
  /// branch. kNoNode where den is not such a sum.
  NodeId over_exps(NodeId num, NodeId den) {
    std::vector<NodeId> exps, constants, todo{den};
    while (!todo.empty() && exps.size() + constants.size() <= 8) {
      NodeId t = todo.back();
      todo.pop_back();
      if (op(t) == Op::Add) {
        todo.push_back(arg(t, 0));
        todo.push_back(arg(t, 1));
      } else if (op(t) == Op::Exp && !input_free(t)) {
        exps.push_back(arg(t, 0));
      } else if (input_free(t)) {
        constants.push_back(t);
      } else {
        return ir::kNoNode;
      }
    }
    if (!todo.empty() || exps.size() < 2 || exps.size() + constants.size() < 3) return ir::kNoNode;
    NodeId m = exps[0];
    for (size_t i = 1; i < exps.size(); ++i) m = make(Op::Max, {m, exps[i]});
    NodeId scaled_den = ir::kNoNode;
    auto add = [&](NodeId t) { scaled_den = scaled_den == ir::kNoNode ? t : make(Op::Add, {scaled_den, t}); };
    for (NodeId p : exps) add(make(Op::Exp, {make(Op::Sub, {p, m})}));
    for (NodeId k : constants) add(make(Op::Mul, {k, make(Op::Exp, {neg(m)})}));
    // (make, not stabilized: the scaled sum is one of these again)
    NodeId far = make(Op::Div, {stabilized(Op::Mul, num, make(Op::Exp, {neg(m)})), scaled_den});
    return rare_where(make(Op::Gt, {m, c(ir::kExpDivSplit)}), far, make(Op::Div, {num, den}));
  }

  /// For s = exp(p) + exp(q), neither the constant 1: the larger exponent
  /// max(p, q) and -|p - q|, each written with where() on p - q > 0 (their
  /// slopes then meet where p = q, as log_of_exp_sum's do); kNoNode twice
  /// otherwise.
  std::pair<NodeId, NodeId> larger_exponent(NodeId s) {
    auto [p, q] = exp_sum(s);
    if (p == ir::kNoNode || is(p, 0.0) || is(q, 0.0)) return {ir::kNoNode, ir::kNoNode};
    NodeId d = make(Op::Sub, {p, q});
    NodeId pos = make(Op::Gt, {d, c(0)});
    return {make(Op::Where, {pos, p, q}), make(Op::Where, {pos, neg(d), d})};
  }

  /// num / den with den = exp(p) + exp(q), each of which overflows (the
  /// naive quotient is inf / inf = NaN past x = 89 in float, or 0 as an
  /// ExpDiv) and whose difference cancels:
  ///   exp(p) / den = sigmoid(p - q), u exp(p) / den = u sigmoid(p - q),
  ///   (exp(p) - exp(q)) / den = tanh((p - q) / 2) (also expm1(p) / (exp(p) + 1)
  ///   and (1 - exp(q)) / (1 + exp(q)), 1 - exp(q) as minus_expm1 reads it),
  ///   u / (exp(p) + 1) = u sigmoid(-p);
  /// exp(p) / (exp(p) + 1)^2 = sech(p/2)^2 / 4; and exp(p) / (exp(p) + w) for
  /// any other w as 1 / (1 + w exp(-p)) where p > 0 (u exp(p) likewise, u times
  /// a difference of exps too). kNoNode where none applies.
  NodeId over_exp_sum(NodeId num, NodeId den) {
    auto [p, q] = exp_sum(den);
    // t - other for the exponent t of one of den's terms
    auto rest = [&](NodeId t) -> NodeId {
      if (t == ir::kNoNode || p == ir::kNoNode) return ir::kNoNode;
      if (t == p) return difference(p, q);
      if (t == q) return difference(q, p);
      return ir::kNoNode;
    };
    // u exp(t) as {u, t} (u = kNoNode for exp(t) alone, and 1 = exp(0))
    std::pair<NodeId, NodeId> factor{ir::kNoNode, exponent_of(num)};
    if (factor.second == ir::kNoNode && op(num) == Op::Mul)
      for (int k = 0; k < 2 && factor.second == ir::kNoNode; ++k)
        if (op(arg(num, k)) == Op::Exp) factor = {arg(num, 1 - k), arg(arg(num, k), 0)};
    auto times = [&](NodeId v) { return factor.first == ir::kNoNode ? v : make(Op::Mul, {factor.first, v}); };
    if (NodeId d = rest(factor.second); d != ir::kNoNode) return times(sigmoid(d));
    // u exp(t) / (exp(p) + exp(q)) for another t: u exp(t - m) / (1 + exp(-|p - q|)), m =
    // max(p, q), one exp of the merged exponent and a factor in [1/2, 1] (exp(x) / (exp(2x)
    // + 1) as exp(x) sigmoid(-2x) had its slope 0 past 52 in float, a large exp times an
    // underflowed one, where it is -exp(-x); its sign wrong past 355 in double)
    if (factor.second != ir::kNoNode && p != ir::kNoNode && !is(factor.second, 0.0)) {
      NodeId t = factor.second, d = make(Op::Sub, {p, q}), pos = make(Op::Gt, {d, c(0)});
      NodeId e = make(Op::Exp, {make(Op::Where, {pos, make(Op::Sub, {t, p}), make(Op::Sub, {t, q})})});
      NodeId rest_exp = make(Op::Exp, {make(Op::Where, {pos, neg(d), d})});
      return times(make(Op::Div, {e, make(Op::Add, {c(1), rest_exp})}));
    }
    if (p != ir::kNoNode) {
      // exp(s) - exp(r), expm1(s) (r = 0), -expm1(r) (s = 0), or u times one of them
      NodeId s = ir::kNoNode, r = ir::kNoNode;
      factor.first = ir::kNoNode;
      if (op(num) == Op::Mul)
        for (int k = 0; k < 2 && factor.first == ir::kNoNode; ++k) {
          NodeId d = arg(num, k);
          bool difference = (op(d) == Op::Sub && op(arg(d, 0)) == Op::Exp && op(arg(d, 1)) == Op::Exp) ||
                            op(d) == Op::Expm1 || minus_expm1(d) != ir::kNoNode || exp_difference_.count(d);
          if (!difference) continue;
          factor.first = arg(num, 1 - k);
          num = d;
        }
      if (op(num) == Op::Sub && op(arg(num, 0)) == Op::Exp && op(arg(num, 1)) == Op::Exp) {
        s = arg(arg(num, 0), 0);
        r = arg(arg(num, 1), 0);
      } else if (auto it = exp_difference_.find(num); it != exp_difference_.end()) {  // 2 sinh(a) as rewritten above
        s = it->second.first;
        r = it->second.second;
      } else if (op(num) == Op::Expm1) {
        s = arg(num, 0);
        r = c(0);
      } else if (minus_expm1(num) != ir::kNoNode) {
        s = c(0);
        r = minus_expm1(num);
      }
      if (s != ir::kNoNode && ((s == p && r == q) || (s == q && r == p)))
        return times(make(Op::Tanh, {scaled(difference(s, r), 0.5)}));
      // u / (exp(p) + 1) = u sigmoid(-p) (x / (1 + exp(-x)) is swish: NaN past
      // x = -89 in the backward, inf / inf), where u is not itself of the exp
      // (the stable sigmoid where(c, 1, e) / (e + 1) is as it should be)
      NodeId e = arg(den, 0);
      if (is(q, 0.0) && !is(p, 0.0) && !depends_on(num, e)) return make(Op::Mul, {num, sigmoid(scaled(p, -1))});
      return ir::kNoNode;
    }
    // exp(t) / (exp(t) + 1)^2 = sigmoid(t) sigmoid(-t), which is even in t:
    // (1/4) sech(t/2)^2 as tanh's derivative has it (e = exp(-|t|)).
    if (factor.second != ir::kNoNode && op(den) == Op::Mul && arg(den, 0) == arg(den, 1)) {
      auto [t, zero] = exp_sum(arg(den, 0));
      if (t != ir::kNoNode && is(zero, 0.0) && t == factor.second) {
        NodeId near = times(make(Op::Mul, {ir::sech2(g_, scaled(t, 0.5)), c(0.25)}));
        if (factor.first == ir::kNoNode) return near;
        // u sech(t/2)^2 / 4 is (u h) h, h = exp(-|t|/2), past |t| = 80: exp(-|t|) in
        // sech^2 is subnormal where u times it is not (x exp(x) / (exp(x) + 1)^2 was 0
        // past 708 in double, 4.3e-307 at 712: hunt_forms)
        NodeId h = make(Op::Exp, {make(Op::Mul, {make(Op::Abs, {t}), c(-0.5)})});
        NodeId far = make(Op::Mul, {make(Op::Mul, {factor.first, h}), h});
        return rare_where(make(Op::Gt, {make(Op::Abs, {t}), c(ir::kExpDivSplit)}), far, near);
      }
    }
    // u / (exp(p) + 1)^2 = u sigmoid(-p)^2, u not of the exp (x / (1 + exp(-x))^2
    // was 0 below -44 in float: the square overflowed)
    if (op(den) == Op::Mul && arg(den, 0) == arg(den, 1)) {
      auto [t, zero] = exp_sum(arg(den, 0));
      if (t != ir::kNoNode && is(zero, 0.0) && !is(t, 0.0) && !depends_on(num, arg(arg(den, 0), 0))) {
        NodeId sg = sigmoid(scaled(t, -1));
        return make(Op::Mul, {num, make(Op::Mul, {sg, sg})});
      }
    }
    // exp(t) / (exp(t) + w), w anything else
    if (factor.second == ir::kNoNode || op(den) != Op::Add) return ir::kNoNode;
    for (int k = 0; k < 2; ++k) {
      NodeId e = arg(den, k), w = arg(den, 1 - k);
      if (op(e) != Op::Exp || arg(e, 0) != factor.second) continue;
      NodeId t = factor.second;
      NodeId big = make(Op::Div, {c(1), make(Op::Add, {make(Op::Mul, {w, make(Op::Exp, {scaled(t, -1)})}), c(1)})});
      NodeId plain = make(Op::Div, {e, den});
      return times(make(Op::Where, {make(Op::Gt, {t, c(0)}), big, plain}));
    }
    return ir::kNoNode;
  }

  /// 2 sigmoid(a) - 1 = tanh(a/2) and sigmoid(a) - 1/2 = tanh(a/2) / 2, which
  /// cancel near a = 0 (`minus`: k - s, the negation; else s + (-k)).
  /// kNoNode where `s` and `k` are not these.
  NodeId sigmoid_shift(NodeId s, NodeId k, bool minus) {
    if (!g_.is_const(k)) return ir::kNoNode;
    double kv = minus ? g_.const_value(k) : -g_.const_value(k);
    NodeId sig = s;
    double scale = 1;
    if (op(s) == Op::Mul && g_.is_const(arg(s, 1))) {
      sig = arg(s, 0);
      scale = g_.const_value(arg(s, 1));
    }
    auto form = ir::sigmoid_form(g_, sig);
    if (!form || !(scale != 0) || scale / 2 != kv) return ir::kNoNode;
    NodeId t = make(Op::Mul, {make(Op::Tanh, {scaled(form->a, 0.5)}), c(scale / 2)});
    return minus ? neg(t) : t;
  }

  /// x and b when `s` is sqrt(x*x + b) as the Sqrt rule leaves it
  /// (ir::root_of_square_sum); kNoNode twice otherwise.
  std::pair<NodeId, NodeId> root_of_square_sum(NodeId s) const {
    auto form = ir::root_of_square_sum(g_, s);
    return form ? std::pair{form->v, form->b} : std::pair{ir::kNoNode, ir::kNoNode};
  }

  /// x + r, r - x and x - r for r = sqrt(x^2 + b) (`minus`: p - q, else
  /// p + q): where they cancel (x + r for x < 0, r - x for x > 0, where
  /// |x| ~ r), b / (r - x) and b / (r + x), which do not (r^2 - x^2 = b).
  /// kNoNode where p and q are not such a pair.
  NodeId root_sum(NodeId p, NodeId q, bool minus) {
    for (int k = 0; k < 2; ++k) {
      NodeId r = k == 0 ? p : q, x = k == 0 ? q : p;
      auto [v, b] = root_of_square_sum(r);
      if (v == ir::kNoNode || v != x) continue;
      if (!minus) {  // x + r
        NodeId quotient = make(Op::Div, {b, make(Op::Sub, {r, x})});
        return make(Op::Where, {make(Op::Lt, {x, c(0)}), quotient, make(Op::Add, {x, r})});
      }
      NodeId quotient = make(Op::Div, {b, make(Op::Add, {r, x})});
      if (k == 0)  // r - x
        return make(Op::Where, {make(Op::Gt, {x, c(0)}), quotient, make(Op::Sub, {r, x})});
      return make(Op::Where, {make(Op::Gt, {x, c(0)}), neg(quotient), make(Op::Sub, {x, r})});  // x - r
    }
    return ir::kNoNode;
  }

  /// log(s) for s = exp(a) + exp(b) (log-add-exp: max(a, b) + log1p(exp(-|a - b|)),
  /// written with where() for the derivative, no overflow) and s = k (1 + exp(a))
  /// or k exp(a) + k for a constant k > 0 (softplus(a) + log k; the shifted
  /// softplus for k = 1/2). kNoNode otherwise.
  NodeId log_of_exp_sum(NodeId s) {
    if (auto [p, q] = exp_sum(s); p != ir::kNoNode && !is(p, 0.0) && !is(q, 0.0)) {
      // exp(a) + exp(-a) = 2 cosh(a): log(cosh(a)) + log 2, whose derivative is
      // tanh(a) (the general form's would cancel near a = 0)
      if (negations(p, q)) return log_cosh(p, true);
      auto [top, m] = larger_exponent(s);
      return make(Op::Add, {top, make(Op::Log1p, {make(Op::Exp, {m})})});
    }
    // k (exp(a) + 1), or exp(a) k + k
    NodeId a = ir::kNoNode, k = ir::kNoNode;
    if (op(s) == Op::Mul && g_.is_const(arg(s, 1))) {
      auto [e, one] = exp_sum(arg(s, 0));
      if (e != ir::kNoNode && is(one, 0.0)) {
        a = e;
        k = arg(s, 1);
      }
    } else if (op(s) == Op::Add && g_.is_const(arg(s, 1)) && op(arg(s, 0)) == Op::Mul) {
      NodeId t = arg(s, 0);
      if (op(arg(t, 0)) == Op::Exp && arg(t, 1) == arg(s, 1)) {
        a = arg(arg(t, 0), 0);
        k = arg(s, 1);
      }
    }
    if (a == ir::kNoNode || !(g_.const_value(k) > 0)) return ir::kNoNode;
    if (is(k, 0.5)) return shifted_softplus(softplus(a));
    return make(Op::Add, {softplus(a), c(std::log(g_.const_value(k)))});
  }

  /// log(x + sqrt(x^2 + b)) for a constant b > 0 (the sum as root_sum
  /// rewrites it): asinh(x / sqrt(b)) + log(sqrt(b)), which neither cancels
  /// for x < 0 nor loses x near 0 (log of 1 + x). kNoNode otherwise.
  NodeId log_of_root_sum(NodeId s) {
    if (op(s) != Op::Where || op(arg(s, 0)) != Op::Lt || !is(arg(arg(s, 0), 1), 0.0)) return ir::kNoNode;
    NodeId x = arg(arg(s, 0), 0), quotient = arg(s, 1), sum = arg(s, 2);
    if (op(sum) != Op::Add) return ir::kNoNode;
    NodeId r = arg(sum, 0) == x ? arg(sum, 1) : arg(sum, 1) == x ? arg(sum, 0) : ir::kNoNode;
    if (r == ir::kNoNode) return ir::kNoNode;
    auto [v, b] = root_of_square_sum(r);
    if (v != x || !g_.is_const(b) || !(g_.const_value(b) > 0)) return ir::kNoNode;
    bool as_built = op(quotient) == Op::Div && arg(quotient, 0) == b && op(arg(quotient, 1)) == Op::Sub &&
                    arg(arg(quotient, 1), 0) == r && arg(arg(quotient, 1), 1) == x;  // root_sum's b / (r - x)
    if (!as_built) return ir::kNoNode;
    double root = std::sqrt(g_.const_value(b));
    if (root == 1) return make(Op::Asinh, {x});
    return make(Op::Add, {make(Op::Asinh, {make(Op::Mul, {x, c(1 / root)})}), c(std::log(root))});
  }

  /// sqrt(x^2 + b) - c for constants b > 0 and c = sqrt(b) (as doubles):
  /// x^2 / (sqrt(x^2 + b) + c), which does not cancel for small x (and
  /// sqrt(u + b) - c for other u alike, up to u = kSumGuard). `root`
  /// is the sqrt as rewritten above (the where() with |x| past a guard, or
  /// the bare sqrt), `minus` the constant -c; the guard's branch, where the
  /// sqrt is |x| (or |x| sqrt(1 + b/x^2)), keeps the plain difference.
  /// kNoNode when the pattern is not there.
  NodeId sqrt_minus_root(NodeId root, NodeId minus) {
    if (!g_.is_const(minus)) return ir::kNoNode;
    double k = -g_.const_value(minus);
    NodeId guard = ir::kNoNode, big = ir::kNoNode, sq = root;
    auto noted = root_of_.find(root);  // a rewritten root: its sum, and the quotient for any u below
    if (noted != root_of_.end() && !noted->second.any_u) noted = root_of_.end();
    if (noted == root_of_.end() && op(root) == Op::Where && op(arg(root, 2)) == Op::Sqrt) {
      guard = arg(root, 0);
      big = arg(root, 1);
      sq = arg(root, 2);
    }
    NodeId s = noted != root_of_.end() ? noted->second.sum : op(sq) == Op::Sqrt ? arg(sq, 0) : ir::kNoNode;
    if (s == ir::kNoNode || op(s) != Op::Add) return ir::kNoNode;
    int at = g_.is_const(arg(s, 1)) ? 0 : g_.is_const(arg(s, 0)) ? 1 : -1;  // the square's side
    if (at < 0) return ir::kNoNode;
    NodeId square = arg(s, at);
    double b = g_.const_value(arg(s, 1 - at));
    if (!(b > 0) || !(k > 0) || std::sqrt(b) != k) return ir::kNoNode;
    if (noted != root_of_.end() || op(square) != Op::Mul || arg(square, 0) != arg(square, 1)) {
      // sqrt(u + b) - sqrt(b) for any u (sqrt(1 + x) - 1 was 0 below
      // x = 6e-8 in float): the same quotient over the root as rewritten
      // (sqrt(exp(x) + 4)'s guard keeps it finite past exp's overflow), and
      // the difference where u is so large that nothing cancels (the
      // quotient is inf / inf at u = inf). A where() of the user's around
      // the sqrt is not the root on both sides: left as it is.
      if (guard != ir::kNoNode) return ir::kNoNode;
      NodeId quotient = make(Op::Div, {square, make(Op::Add, {root, c(k)})});
      return make(Op::Where, {make(Op::Gt, {square, c(kSumGuard)}), make(Op::Add, {root, minus}), quotient});
    }
    NodeId quotient = make(Op::Div, {square, make(Op::Add, {sq, c(k)})});
    if (guard == ir::kNoNode) return quotient;
    return make(Op::Where, {guard, make(Op::Add, {big, minus}), quotient});
  }

  /// sqrt(v^2 + b) - sqrt(b) for a b that is not a constant (a parameter;
  /// sqrt_minus_root takes constants): v*v / (sqrt(v^2 + b) + sqrt(b)) up to
  /// the root's guard, the difference past it, where v*v may overflow and
  /// nothing cancels. `root` is the guarded root the Sqrt rule wrote. (It was
  /// 0 at v = 1e-9 for b = 2 in double, where it is 3.5e-19.)
  NodeId root_minus_root(NodeId root, NodeId minus) {
    if (op(minus) != Op::Sqrt || g_.is_const(arg(minus, 0))) return ir::kNoNode;
    auto r = ir::root_of_square_sum(g_, root);
    if (!r || r->b != arg(minus, 0)) return ir::kNoNode;
    NodeId big = make(Op::Gt, {make(Op::Abs, {r->v}), c(kSquareGuard)});
    NodeId quotient = make(Op::Div, {make(Op::Mul, {r->v, r->v}), make(Op::Add, {root, minus})});
    return make(Op::Where, {big, make(Op::Sub, {root, minus}), quotient});
  }

  /// softplus(a) - log 2 (the shifted softplus), which cancels near a = 0
  /// (it is a/2 there): max(a, 0) + log1p(expm1(-|a|) / 2), as softplus is
  /// max(a, 0) + log1p(exp(-|a|)) and log((1 + e) / 2) = log1p((e - 1) / 2).
  /// log1p's argument is in [-1/2, 0]; for a > 0 the sum loses at most a bit
  /// (a - a/2 near 0). `sp` is the stable softplus, or the catalogue's
  /// where()s around one (their other branches get the - log 2 too);
  /// kNoNode otherwise.
  NodeId shifted_softplus(NodeId sp) {
    if (op(sp) == Op::Where) {
      NodeId inner = shifted_softplus(arg(sp, 2));
      if (inner == ir::kNoNode) return ir::kNoNode;
      return make(Op::Where, {arg(sp, 0), make(Op::Add, {arg(sp, 1), c(-std::numbers::ln2)}), inner});
    }
    NodeId a = softplus_argument(sp);
    if (a == ir::kNoNode) return ir::kNoNode;
    NodeId pos = make(Op::Gt, {a, c(0)});
    NodeId m = make(Op::Expm1, {make(Op::Where, {pos, neg(a), a})});
    return make(Op::Add, {make(Op::Where, {pos, a, c(0)}), make(Op::Log1p, {make(Op::Mul, {m, c(0.5)})})});
  }

  /// a when `sp` is the stable softplus max(a, 0) + log1p(exp(-|a|)) (as
  /// softplus() builds it, or written so by hand), else kNoNode.
  NodeId softplus_argument(NodeId sp) const {
    auto form = ir::softplus_form(g_, sp);
    return form && !form->log_sigmoid ? form->a : ir::kNoNode;
  }

  /// p - q where p and q differ by a constant, or a common factor times
  /// that (x and x - 1, a x and a (x - 1)), as that constant: p - q as
  /// rounded loses it where p does (0 past 2^53 for x - (x - 1) in
  /// double); else p - q.
  NodeId exact_difference(NodeId p, NodeId q, int depth = 4) {
    if (p == q) return c(0);
    auto offset = [&](NodeId t) -> std::pair<NodeId, NodeId> {  // t = u + k
      if (op(t) == Op::Add && g_.is_const(arg(t, 1))) return {arg(t, 0), arg(t, 1)};
      return {t, c(0)};
    };
    auto [u, k1] = offset(p);
    auto [v, k2] = offset(q);
    if (u == v) return make(Op::Sub, {k1, k2});
    if (depth > 0 && op(p) == Op::Mul && op(q) == Op::Mul)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j)
          if (arg(p, i) == arg(q, j) && input_free(arg(p, i))) {
            NodeId d = exact_difference(arg(p, 1 - i), arg(q, 1 - j), depth - 1);
            if (input_free(d)) return make(Op::Mul, {arg(p, i), d});
          }
    return make(Op::Sub, {p, q});
  }

  /// softplus(p) - softplus(q) = log((1 + exp(p)) / (1 + exp(q))): p where q
  /// = -p; for |d| < 40, d = p - q (exact_difference), log1p(expm1(d)
  /// sigmoid(q)) for d >= 0, -log1p(expm1(-d) sigmoid(p)) below (nothing
  /// cancels, the slope neither: sigmoid(p) - sigmoid(q) did at x = 30; the
  /// first alone cancelled for d < 0, where its product nears -1); beyond,
  /// `far` (softplus(p) - softplus(q), whose terms differ by far more than
  /// they round).
  NodeId softplus_difference(NodeId p, NodeId q, NodeId far) {
    if (negations(p, q)) return p;
    NodeId d = exact_difference(p, q);
    NodeId up = make(Op::Ge, {d, c(0)});
    NodeId near =
        make(Op::Log1p, {make(Op::Mul, {make(Op::Expm1, {make(Op::Abs, {d})}), sigmoid(make(Op::Where, {up, q, p}))})});
    return make(Op::Where, {make(Op::Lt, {make(Op::Abs, {d}), c(40)}), make(Op::Where, {up, near, neg(near)}), far});
  }

  /// softplus_argument, also through the catalogue's guards where(a > T, a, where(a < -L, 0,
  /// softplus(a))) with T, L >= 15 (past them softplus(a) is a or 0 to the rounding)
  NodeId guarded_softplus_argument(NodeId sp) const {
    if (NodeId a = softplus_argument(sp); a != ir::kNoNode) return a;
    if (op(sp) != Op::Where) return ir::kNoNode;
    NodeId cond = arg(sp, 0), taken = arg(sp, 1);
    NodeId a = guarded_softplus_argument(arg(sp, 2));
    if (a == ir::kNoNode || g_[cond].arity != 2 || arg(cond, 0) != a || !g_.is_const(arg(cond, 1))) return ir::kNoNode;
    double bound = g_.const_value(arg(cond, 1));
    bool above = (op(cond) == Op::Gt || op(cond) == Op::Ge) && bound >= 15 && taken == a;
    bool below = (op(cond) == Op::Lt || op(cond) == Op::Le) && bound <= -15 && is(taken, 0.0);
    return above || below ? a : ir::kNoNode;
  }

  /// -|a| with the derivative -sign(a) that is also right at 0.
  NodeId neg_abs(NodeId a) { return make(Op::Where, {make(Op::Ge, {a, c(0)}), neg(a), a}); }

  /// max(a, 0) + log1p(exp(-|a|))
  NodeId softplus(NodeId a) {
    NodeId pos = make(Op::Gt, {a, c(0)});
    NodeId m = make(Op::Where, {pos, neg(a), a});
    return make(Op::Add, {make(Op::Where, {pos, a, c(0)}), make(Op::Log1p, {make(Op::Exp, {m})})});
  }

  /// where(a >= 0, 1, e) / (1 + e) with e = exp(-|a|)
  NodeId sigmoid(NodeId a) {
    NodeId e = make(Op::Exp, {neg_abs(a)});
    return make(Op::Div, {make(Op::Where, {make(Op::Ge, {a, c(0)}), c(1), e}), make(Op::Add, {e, c(1)})});
  }

  Graph& g_;
  bool in_removable_ = false;
  std::unordered_map<NodeId, NodeId> log_cosh_of_;   // log_cosh(a) -> a
  std::unordered_map<NodeId, int> degree_of_;        // polynomial_degree
  // over_polynomial's where() -> {the numerator, the denominator}
  std::unordered_map<NodeId, std::pair<NodeId, NodeId>> quotient_of_polynomials_;
  // sinh(a) / a, sin(a) / a (and a over them) rewritten -> sinh(a) or sin(a), whether a over it
  std::unordered_map<NodeId, std::pair<NodeId, bool>> sinc_of_;
  std::unordered_map<NodeId, NodeId> log_2cosh_of_;  // log_cosh(a, true) -> a
  std::unordered_map<NodeId, NodeId> log1p_square_of_;  // log1p_of(v v) -> v
  std::unordered_map<NodeId, NodeId> tanh_rewritten_of_;  // tanh_of(a), not a tanh -> a
  // removable_pair's series of tanh(a)/a and log1p(a)/a (and a over them) -> {their limit at
  // 0, the series less it}
  std::unordered_map<NodeId, std::pair<double, NodeId>> less_limit_;
  // power_of_sum's and sigmoid_power's where()s -> {the base, the exponent}
  std::unordered_map<NodeId, std::pair<NodeId, NodeId>> pow_of_;
  struct ShiftedRatio {  // shifted_ratio's where: 1 + q or q - 1, q = v / D, N = D + v or D - v
    NodeId v, q, n;
    bool plus;
  };
  std::unordered_map<NodeId, ShiftedRatio> shifted_of_;
  struct RewrittenRoot {
    NodeId sum;
    bool any_u;
  };
  std::unordered_map<NodeId, RewrittenRoot> root_of_;  // sqrt(s) rewritten -> s (rewritten_root)
  std::unordered_map<NodeId, std::pair<NodeId, NodeId>> exp_difference_;  // 2 sinh(a) -> {a, -a} of exp(a) - exp(-a)  // removable_quotient is building the quotient's other rewrites
};

}  // namespace

std::vector<NodeId> stabilize(Graph& g, std::span<const NodeId> roots) {
  Stabilizer s(g);
  std::vector<NodeId> out =
      ir::transform(g, roots, [&](const ir::Node& n, const std::array<NodeId, 3>& args) { return s.rebuild(n, args); });
  return ir::transform(g, out,
                       [&](const ir::Node& n, const std::array<NodeId, 3>& args) { return s.after_rules(n, args); });
}

std::optional<DifferenceSlope> difference_slope(Graph& g, NodeId n) { return Stabilizer(g).difference_slope(n); }

std::optional<TangentIntercept> tangent_intercept(Graph& g, NodeId n) { return Stabilizer(g).tangent_intercept(n); }

std::vector<NodeId> bounded_factors_first(Graph& g, std::span<const NodeId> roots) {
  if (ir::is_rowwise(g, roots)) return {roots.begin(), roots.end()};
  std::vector<NodeId> order = g.reachable(roots);
  std::vector<NodeId> map(order.empty() ? 0 : order.back() + 1, ir::kNoNode);
  std::vector<char> varies(map.size(), 0);  // computed from the input
  for (NodeId id : order) {
    const ir::Node& n = g[id];
    varies[id] = n.op == Op::Input;
    for (unsigned i = 0; i < n.arity; ++i) varies[id] |= varies[n.args[i]];
  }
  // A constant factor below 1 in magnitude is bounded too: x x 0.1 overflowed
  // float past 1.8e19 where it is finite up to 5.8e19 (random_forms seed 5222).
  auto small_constant = [&](NodeId f) { return g.is_const(f) && std::fabs(g.const_value(f)) < 1; };
  const double kFloatMax = std::numeric_limits<float>::max();
  // The factors of a product (at most 8; false if there are more): through
  // products, and a^3, a^4 as three, four factors a.
  auto factors_of = [&](NodeId id, std::vector<NodeId>& factors) {
    factors.clear();
    std::vector<NodeId> stack{id};
    while (!stack.empty() && factors.size() + stack.size() <= 8) {
      NodeId f = stack.back();
      stack.pop_back();
      const ir::Node& n = g[f];
      if (n.op == Op::Mul) {
        stack.push_back(n.args[1]);
        stack.push_back(n.args[0]);
      } else if (int power = small_power(g, f)) {
        for (int k = 0; k < power; ++k) factors.push_back(n.args[0]);
      } else {
        factors.push_back(f);
      }
    }
    return stack.empty();
  };
  // Only products of two factors x and another factor of the input can
  // need it (the ranges cost 1-2% of a compile).
  std::vector<NodeId> factors;
  bool any = false;
  for (NodeId id : order)
    if (g[id].op == Op::Mul && factors_of(id, factors))
      any = any || (std::ranges::count_if(factors, [&](NodeId f) { return g[f].op == Op::Input; }) >= 2 &&
                    std::ranges::count_if(factors, [&](NodeId f) { return varies[f] || small_constant(f); }) >= 3);
  if (!any) return {roots.begin(), roots.end()};
  // Float's ranges: a product reaches inf there first. (The ranges of the
  // math functions' results are widened by 1e-5.)
  const ir::Ranges ranges(g, roots, ir::Precision::F32);
  auto within_one = [&](NodeId id) {
    ir::Interval r = ranges[id];
    return r.lo >= -1.001 && r.hi <= 1.001;
  };
  // A factor is bounded (by 1, of the input), large (x itself: other
  // factors that grow, sinh or a polynomial, are left as they are, as are
  // their products inside guarded branches - the ranges here are global -
  // where an order changed for nothing costs accuracy), or neither.
  enum Kind { kBounded, kLarge, kRest };
  bool consts = false;  // small constants are bounded factors in this product
  auto kind = [&](NodeId f) {
    if (small_constant(f)) return consts ? kBounded : kRest;
    if (!varies[f]) return kRest;
    if (within_one(f)) return kBounded;
    return g[f].op == Op::Input ? kLarge : kRest;
  };
  auto times = [&](NodeId a, NodeId b) { return rewrite(g, Op::Mul, std::array{a, b}); };
  for (NodeId id : order) {
    const ir::Node n = g[id];  // a copy: the graph grows while rebuilding
    std::array<NodeId, 3> args{ir::kNoNode, ir::kNoNode, ir::kNoNode};
    for (unsigned i = 0; i < n.arity; ++i) args[i] = map[n.args[i]];
    NodeId out = ir::kNoNode;
    if (n.op == Op::Mul && factors_of(id, factors)) {
      // Small constants only where the product's first operand may overflow
      // float where the product is used: not gelu_tanh's x x k inside its
      // guards (|x| <= 30), whose exact square the lowering reads.
      ir::Interval used = ranges.operand_where_used(id);
      consts = !(std::fabs(used.lo) <= kFloatMax && std::fabs(used.hi) <= kFloatMax);
      std::vector<NodeId> bounded, large, rest;
      for (NodeId f : factors) (kind(f) == kBounded ? bounded : kind(f) == kLarge ? large : rest).push_back(f);
      // Only where the product as written multiplies two large factors
      // before any bounded one: (a b) q, a^3 q; (a q) b is fine as it is.
      std::function<std::pair<int, int>(NodeId, bool&)> count = [&](NodeId f, bool& unsafe) -> std::pair<int, int> {
        const ir::Node& m = g[f];
        int power = small_power(g, f);
        if (m.op != Op::Mul && !power) return {kind(f) == kLarge, kind(f) == kBounded};
        std::pair<int, int> a = count(m.args[0], unsafe);
        if (power) a.first *= power;
        std::pair<int, int> b = power ? std::pair<int, int>{0, 0} : count(m.args[1], unsafe);
        std::pair<int, int> both{a.first + b.first, a.second + b.second};
        unsafe = unsafe || (both.first >= 2 && both.second == 0);
        return both;
      };
      bool unsafe = false;
      count(id, unsafe);
      if (unsafe && !bounded.empty() && large.size() >= 2) {
        // q1 (and the rest) first, then large and bounded factors in turn:
        // a2 (q2 (a1 q1)), so that neither a run of large factors overflows
        // nor a run of bounded ones underflows ((x e) e of x / sinh(x)).
        NodeId inner = map[bounded.front()];
        for (NodeId f : rest) inner = times(inner, map[f]);
        for (size_t i = 0, j = 1; i < large.size() || j < bounded.size();) {
          if (i < large.size()) inner = times(map[large[i++]], inner);
          if (j < bounded.size()) inner = times(map[bounded[j++]], inner);
        }
        out = inner;
      }
    }
    if (out == ir::kNoNode) out = rewrite(g, n.op, std::span<const NodeId>(args.data(), n.arity), n.value, n.lo);
    map[id] = out;
  }
  std::vector<NodeId> out;
  for (NodeId r : roots) out.push_back(map[r]);
  return out;
}

}  // namespace actjit::simplify
