// Stability rewriting: replaces naive forms that overflow or cancel by
// stable equivalents, so the true value comes out wherever it is finite:
//   log(1 + exp(a))      -> max(a, 0) + log1p(exp(-|a|))        (softplus)
//   log1p(exp(a))        -> the same, unless a <= 0 is evident
//   exp(a) / (1 + exp(a)), 1 / (1 + exp(-a)) -> stable sigmoid(a)
//   exp(p) / (exp(p) + exp(q)) -> sigmoid(p - q); u exp(p) / (...) -> u sigmoid(p - q)
//   (exp(p) - exp(q)) / (exp(p) + exp(q)) -> tanh((p - q) / 2) (also expm1(p) / (exp(p) + 1),
//                           (1 - exp(q)) / (1 + exp(q))); u / (exp(p) + 1) -> u sigmoid(-p)
//                           (x / (1 + exp(-x)) is swish; not where u is of the exp itself)
//   exp(p) / (exp(p) + w) -> 1 / (1 + w exp(-p)) for p > 0 (any other w)
//   exp(p) / (exp(p) + 1)^2 -> sech(p/2)^2 / 4 in tanh's derivative's form (u times these alike)
//   sqrt(exp(a)), exp(a)^c -> exp(a/2), exp(a c)
//   sinh(a) / cosh(a), cosh(a) / sinh(a) -> tanh(a), 1 / tanh(a)
//   u exp(a) / expm1(a)  -> -u / expm1(-a) for a > 0
//   log(expm1(a))        -> a + log1p(-exp(-a)) for a > 1 (softplus's inverse)
//   2 sigmoid(a) - 1, sigmoid(a) - 1/2 -> tanh(a/2), tanh(a/2) / 2 (and their negations)
//   log(exp(a) + exp(b)) -> where(a > b, a, b) + log1p(exp(-|a - b|)) (b = -a: log(2 cosh(a)),
//                           as log(cosh(a)) below)
//   log(k (1 + exp(a))), log(k exp(a) + k) -> softplus(a) + log k (the shifted softplus for k = 1/2)
//   softplus(a) - a, softplus(-a) + a -> softplus(-a), softplus(a) (a - softplus(a) -> -softplus(-a))
//   log(k cosh(a))       -> log(cosh(a)) + log k, as below
//   x + sqrt(x*x + b)    -> b / (sqrt(x*x + b) - x) for x < 0 (sqrt(...) - x, x - sqrt(...) alike
//                           for x > 0), where the sum cancels
//   log(x + sqrt(x*x + b)) -> asinh(x / sqrt(b)) + log(sqrt(b)) for a constant b > 0
//   1 - exp(a)           -> 0 - expm1(a)
//   a - sin(a), sinh(a) - a -> a^3 P(a^2) below |a| = 2 (Taylor to double's precision), the
//                           naive difference beyond (and the negations)
//   expm1(a) - a (exp(a) - 1 - a) -> a^2 P(a) on (-1, 1.25), the naive difference beyond
//   a - log1p(a)         -> s (a - 2 s^2 U(s^2)) with s = a / (2 + a) on (-0.5, 1.5), the naive
//                           difference beyond
//   a - atan(a), a - asinh(a) -> a^3 R(a): Taylor below |a| = 1/2, R's Taylor series at 1
//                           below 1.5, the naive difference beyond (and the negations)
//   tan(a) - a           -> a^3 P(a^2) below |a| = 1 (P a 20-term fit), the naive difference
//                           beyond (and the negation)
//   cosh(a) - 1          -> 2 sinh(a/2)^2 (1 - cosh(a) -> its negation)
//   1 + erf(a), 1 - erf(a), erf(a) - 1 -> erfc(-a), erfc(a), -erfc(a) (the textbook gelu
//                           0.5 x (1 + erf(x / sqrt(2))) is then the catalogue's form);
//                           1 - erfc(a), erfc(a) - 1 -> erf(a), -erf(a)
//   log(sigmoid(a))      -> -softplus(-a)
//   exp(a) - 1           -> expm1(a)
//   a - tanh(a)          -> tanhshrink(a) (Op::TanhShrink; tanh(a) - a -> -tanhshrink(a))
//   sqrt(a*a + b) - c    -> a*a / (sqrt(a*a + b) + c) for constants c = sqrt(b) > 0 (inside the
//                           sqrt rule's guard; derivative a / sqrt(a*a + b), forms.hpp)
//   log(cosh(a))         -> log1p(2 sinh(a/2)^2) for |a| < 2, |a| + log1p(exp(-2|a|)) - log 2 beyond
//   1 - cos(a)           -> 2 sin(a/2)^2 (cos(a) - 1 -> its negation)
//   1 + tanh(a), 1 - tanh(a) -> 2 sigmoid(2a), 2 sigmoid(-2a) (and their negations)
//   1 - sigmoid(a)       -> sigmoid(-a) (sigmoid(a) - 1 -> -sigmoid(-a))
//   1 - tanh(a)^2        -> 4e / (1 + e)^2, e = exp(-2|a|)
//   softplus(a) - log 2  -> max(a, 0) + log1p(expm1(-|a|) / 2) (the shifted softplus; also the
//                           catalogue's softplus with its guards)
//   log(1 - exp(a)), log1p(-exp(a)) -> log(-expm1(a)) for a > -log 2, log1p(-exp(a)) below
//                           (a = -k t^e, e even: e log|t| + log k + log(expm1(a) / a) for the first)
//   log(cosh(a)) / a     -> (a/2) (sinh(h)/h)^2 (log1p(s)/s), s = 2 sinh(h)^2, h = a/2, below
//                           |a| = 2; sign(a) + (log1p(exp(-2|a|)) - log 2) / a beyond (also over k a,
//                           and a over log(cosh(a)))
//   log(1 + a)           -> log1p(a); log1p(a*a) -> 2 log|a| past |a| = 2^27 (a*a overflows)
//   log(exp(a))          -> a
//   log(u), log|u|, asinh(u) for u that exps take past the range -> in the log domain past
//                           |w| = 80 (log_far: log|exp(w)| = w, log|cosh(w)| = |w| - log 2, ... through
//                           products, quotients, powers, roots, where()s, and sums g + a with a large g;
//                           polynomials past their range as log|r^d P| + d log|x|, quotients of them
//                           as log|r^p P / (r^q Q)| + (p - q) log|x|); log1p(u) for u free of exps
//                           likewise
//   P(x) in a comparison's operand (P with a difference of two terms in x) -> polynomial_far's
//                           (r^d P) x^d past its range (inf - inf = NaN made the condition false);
//                           a second pass, after the rules have read the sign tests as written
//   sqrt(a*a + b)        -> |a| for |a| > 2^27 sqrt|b| when b is a constant (it rounds to that),
//                           else |a| sqrt(1 + (b r) r), r = 1/a, for |a| > 1e15 (no overflow
//                           of a*a; one sqrt for both sides; |a| itself at +-inf)
//   tanh(softplus(a))    -> n / (n + 2), n = e (e + 2), e = exp(a): fewer transcendentals
//   exp(a) / b           -> ExpDiv(a, b): exp(a/2) * (exp(a/2) / b) for a > 80 (exp(a)
//                           overflows float at 88.7, the ratio much later; NaN there where b
//                           overflowed too, as the naive inf / inf: float kernels then
//                           recompute the lane in double)
//   expm1(a) / b         -> where(a > 80, ExpDiv(a, b), expm1(a) / b)
//   u(a) / a, a / u(a), k u(a) / a (u(0) = 0: removable singularities at a = 0, where
//                           0 / 0 was NaN) -> the quotient's series near 0 (sin, sinh: below
//                           |a| = 1.5, 2; expm1 on (-1, 2); tanh(a)/a as (sinh(a)/a) / cosh(a)
//                           below 1.2; log1p(a)/a as (1 - s) T(s^2), s = a / (2 + a), on
//                           (-0.75, 3); atan(a)/a as 1 - a^2 (a - atan(a))/a^3 below 1; erf and
//                           tan below 1; asinh below 1.5, its series at 1 above 1/2), 1 over it
//                           for a / u(a); also u(c a) / a, u(a) / w(a), and such pairs in products
//                           ((1 - cos(a)) / a^2 = 2 sin(a/2)^2 / a^2 -> (sin(h)/h)^2 / 2)
//   u / sinh(a), u / cosh(a), u over their squares -> u 2 e^-|a| (sign(a) for sinh),
//                           u 4 e^-2|a| past |a| = 20 (the naive quotient 0 where sinh overflows)
//   sinh(a) / b, cosh(a) / b -> (sign(a)) exp(|a|) / (2 b) as ExpDiv past |a| = 20; for b = g + k
//                           (g the sinh or cosh, k a constant) 1 / (1 + 2k exp(-|a|) (sign(a)))
//   k + k erf(a), k - k erf(a) -> k erfc(-a), k erfc(a) (0.5 + 0.5 erf(x / sqrt(2)), the normal CDF)
//   log(2 sigmoid(b))    -> log1p(tanh(b/2)) for b >= -2, b/2 - log(cosh(b/2)) below
//                           (log(1 + tanh(x)), as 1 + tanh(x) is rewritten)
//   (u 2^j) k            -> u (2^j k) for j >= 0 ((1 + tanh(x)) / 2 is sigmoid(2x) again,
//                           (exp(x) - exp(-x)) / 2 is sinh(x))
//   exp(a) - exp(-a)     -> 2 sinh(a) (over_exp_sum still reads it as the difference)
//   a a 4^j              -> (a 2^j) (a 2^j) (the square rules see 4x^2)
//   log(2 cosh(a)) - log 2 -> log(cosh(a)) as above (log(exp(x) + exp(-x)) - log(2))
//   (a*a + b)^0.5, ^-0.5 -> sqrt, 1 / sqrt for a constant b > 0 (then the sqrt rule)
//   sqrt(exp(a) + b)     -> exp(a/2) sqrt(1 + b exp(-a)) for a > 0 (b >= 0 constant)
//   log(1 - a)           -> log1p(-a)
//   log1p(a) - log1p(-a) -> log1p(2a / (1 - a)) for a >= 0, its negation of -a below (2 atanh(a))
//   a - a / (b + 1)      -> a (b / (b + 1)) (x - x / (1 + abs(x)))
//   (exp(p) + 1)^c       -> exp(c max(p, 0)) (1 + exp(-|p|))^c (sigmoid(x)^0.5 as (1 + exp(-x))^-0.5)
//   u / (exp(p) + 1)^2   -> u sigmoid(-p)^2 (u not of the exp)
//   u exp(t) / (exp(p) + exp(q)) -> u exp(t - max(p, q)) / (1 + exp(-|p - q|)) for t other than p, q
//                           (exp(a) exp(a) in the divisor as exp(2a))
//   k exp(a), u exp(a) k, u exp(a) / k -> u exp(a + log|k|), log|k| as hi + lo (second pass;
//                           not k = 2^j)
//   u / D, D growing as log_far takes it (k sinh(w) + c, |k cosh(w)| + ...) -> (u h) h sign(D) / |1 + r|
//                           past it, h = exp(-(|w| + c) / 2) (u not growing so; not over exp, expm1 alone)
//   p (P / Q), (P / Q) (R / S) for polynomials (not a square) -> one quotient (its far form)
//   u exp(t) / (exp(t) + 1)^2 -> u sech(t/2)^2 / 4, (u h) h past |t| = 80, h = exp(-|t|/2)
//   expm1(a) / exp(b)    -> exp(a - b) past a = 80 (a rare branch)
//   (polynomials: a / k for a constant k is one, as a product is)
//   p / where(c, d, e)   -> where(c, p / d, p / e) where a branch has a removable quotient
//                           (exp(x/2) / sqrt(1 + exp(x)) with the sqrt rewritten); a^3, a^4
//                           are 3, 4 factors a there (x^3 / (1 + x^2) past overflow)
//   p / d with common factors -> cancelled (a / a = 1, the limit at 0); where(c, p, q) / d ->
//                           where(c, p / d, q / d) where a branch has a removable quotient
//   softplus(a) - softplus(-a) -> a (logit(sigmoid(a)); also the catalogue's softplus through its
//                           guards); sigmoid(a) - sigmoid(-a) -> tanh(a/2)
//   exp(p) sigmoid(a)    -> exp(p) / (exp(-a) + 1) as above (exp(x) sigmoid(-x) = sigmoid(x))
//   log(sqrt(u))         -> log(u) / 2
//   log(tanh(a))         -> log1p(-2 sigmoid(-2a)) above a = 1/2
//   log(sinh(a))         -> a - log 2 + log1p(-exp(-2a)) above 1
//   log(sinh(a) / a), log(sin(a) / a) (k times them, a over them) -> log1p(+-a^2 P(a^2)) below
//                           |a| = 2 (1.5 for sin), |a| - log 2 - log|a| past 20 for sinh
//   log(k erfc(a))       -> log(2k) + log1p(-erfc(-a)/2) below -1/2, log(k) + log1p(-erf(a)) below
//                           1/2, log(k) - a^2 - log(a sqrt(pi)) + log(Laplace's series) above 9
//                           (log(Phi(x)) for k = 1/2, a = -x/sqrt(2))
//   erfc(a) exp(a*a)     -> Laplace's series / (a sqrt(pi)) above 9 (erfcx; 0 * inf past 9.4)
//   log(cosh(a)) - a, a - log(cosh(a)) -> +-(softplus(-2a) - log 2) (the shifted softplus)
//   1 - sigmoid(a)^2     -> sigmoid(-a) (1 + sigmoid(a)) for a >= 0
//   u / (a*a + b)        -> u / a / a (u's factors a cancelled) past |a| = 2^27 sqrt|b|, for a
//                           constant b and a non-constant u (a*a overflows float at 1.8e19);
//                           a polynomial a with a sum in its far form there (polynomial_far)
//   u / (a + k), u / (|a| + k) -> (u / a) (a / (|a| + k)) for a constant k != 0 and u a product
//                           with the factor a and more (x*x / (1 + |x|) overflowed past 1.8e19)
//   sqrt(k a*a + b)      -> sqrt(k) sqrt(a*a + b/k) for a constant k > 0, k != 1, then the sqrt
//                           rule (ISRU x / sqrt(1 + 0.5 x^2)); u / (R c) -> (u / R) / c for such
//                           a root R and a constant c
//   sqrt(K a*a + b)      -> where(|a| > 2^27 sqrt|b / K|, |a| sqrt(K), sqrt(K a*a + b)) for K a
//                           parameter's expression (ISRU with a learned a); log(sqrt(s)) and
//                           sqrt(s) - sqrt(b) of the rewritten roots as of a bare sqrt(s)
//   u p - u q            -> u (p - q) where p - q has a rewrite of its own (x sigmoid(x) - x/2)
//   log((1 + a) / (1 - a)) -> log1p(a) - log1p(-a), as above (2 atanh(a))
//   sqrt(k a*a)          -> |a| sqrt(k) for a constant k > 0 (sqrt(x*x) overflowed past 1.8e19)
//   k / exp(a)           -> k exp(-a) for k free of the input
//   k / sigmoid(a)       -> k (exp(-a) + 1) for k free of the input (1 / sigmoid(x) - 1 as exp(-x) + 0)
//   (u + c1) + c2        -> u + (c1 + c2), the constants folded
//   v v / R              -> |v| (|v| / R) for R a root of v*v + b (x^2 / sqrt(x^2 + 1))
//   k tanh(a) + k, k tanh(a) - k -> +-k (1 + tanh(+-a)), as 1 + tanh(a) above (0.5 + 0.5 tanh(x/2))
//   log(k sinh(a))       -> a + log(k/2) + log1p(-exp(-2a)) above 1, k > 0 (log(exp(x) - exp(-x)))
//   log(softplus(a))     -> a + log(log1p(e) / e), e = exp(a), below -1 (also the catalogue's)
//   k q + k, k q - k     -> k N / D, -k N' / D where the sum cancels, for q = v / D, D a root of
//                           v*v + b (N = b / (D -+ v)) or |v| + k0 (N = k0): PFLU x (1 + x /
//                           sqrt(1 + x^2)) / 2, the Elliott sigmoid 1/2 + x / (2 (1 + |x|));
//                           v times such a sum (k = 1) -> +-q N there
//   cosh(a) +- sinh(a)   -> exp(+-a); exp(a) + exp(-a) - 2, (exp(a) + exp(-a)) / 2 - 1 -> as cosh(a) - 1
//   2 atan(exp(a)) - pi/2 -> atan(sinh(a)) (the Gudermannian)
//   sqrt(v v + b) - |v|  -> b / (sqrt(v v + b) + |v|); sqrt(u + b) - sqrt(u) -> b / (sqrt(u + b) + sqrt(u))
//   exp(-a) expm1(a)     -> -expm1(-a)
//   exp(a) exp(b) u / (exp(c) v) -> exp(a + b - c) u / v, like terms of the exponents collected
//                           (exp(x) exp(-1.5 x) = exp(-0.5 x)), where two exps have different
//                           arguments (exp(a) exp(a) stays: one exp)
//   asinh(exp(a))        -> a + log 2 past a = 20 (exp(a) overflowed)
//   sinh(a) exp(b) ..., cosh(a) exp(b) ... -> (sign(a)) exp(|a| + b) (1 -+ exp(-2|a|)) / 2 ...
//                           past |a| = 20 (with the exps merged as above)
//   k / (k + t) - 1, k / (k - t) - 1 -> -t / (k + t), t / (k - t); (c - t) + k -> (c + k) - t;
//                           where(c, p, q) + k -> where(c, p + k, q + k) where a branch has a
//                           rewrite of its own (x / sinh(x) - 1 near 0: its removable series)
//   tanh(a)/a - 1, a/tanh(a) - 1, log1p(a)/a - 1, a/log1p(a) - 1 -> their series less the limit
//                           (removable_pair's less_limit_)
//   k / tanh(u) - k / u, k / expm1(u) - k / u -> k L(u), k (L(u/2) - 1) / 2 near 0, L the
//                           Langevin function coth(u) - 1/u as a series
//   sigmoid(a)^k, sqrt(sigmoid(a)) -> exp(k a) past a = -80 (rare)
//   (a*a + b)^k          -> |a|^(2k) (1 + b/a/a)^k past 2^27 sqrt|b| (constant b), past 1e15 (a
//                           parameter b); rare; k no integer. (|a|^p + b)^k -> |a|^(pk) (1 + b/|a|^p)^k
//                           past (2^54 |b|)^(1/p)
//   (1 + t)^k - 1        -> expm1(k log1p(t)) for |t| < 1
//   log(u^k)             -> k log(u) for a constant k that is no integer (also rewritten powers)
//   tanh(P), erf(P), erfc(P), atan(P) for a polynomial P of degree d >= 2 with a sum -> P as
//                           (r^d P) x^d (r = 1/x) past |x| = 2^min(32, 96/d) (rare)
//   u / (k + exp(p) + exp(q) + ...) -> (u exp(-m)) / (k exp(-m) + exp(p - m) + ...), m = max(p, q, ...),
//                           past m = 80, for three terms or more (two-term sums: over_exp_sum)
//   a - k tanh(a/k)      -> k tanhshrink(a/k) for a constant k (and its negation; not for a
//                           parameter's k, whose gradient would cancel far out)
//   K tanh(a) + K        -> K (1 + tanh(a)) as above, also for a parameter's K
//   log(p q)             -> log(p) + log(q) for sigmoids p, q; log(sigmoid(a) sigmoid(-a)) ->
//                           -2 log(cosh(a/2)) - 2 log 2; log(sigmoid(a) / sigmoid(-a)) -> a
//   log((1 + exp(p)) / (1 + exp(q))) -> log1p(expm1(p - q) sigmoid(q)) for |p - q| < 40,
//                           softplus(p) - softplus(q) beyond (soft clipping)
//   softplus(a) - a sigmoid(a) -> softplus(-a) + a sigmoid(-a) for a > 0 (the binary entropy of
//                           sigmoid(a)), with the slope -a sigmoid(a) sigmoid(-a) (difference_slope)
//   P(x) / Q(x)          -> r^q P / (r^q Q), r = 1/x, past |x| = 2^min(32, 96/D) for polynomials
//                           in the input (|.| of polynomials allowed: a Pade unit), P not constant,
//                           Q of degree q >= 1, D >= 2 the larger degree (x / (x*x + 1)^2)
//   log(P(x)), log1p(P(x)) -> log(|r|^d P) + d log|x| past |x| = 2^min(32, 96/d), d >= 2 (log(1 +
//                           x^4); P with a sum)
//   log(v v), log(v^k)   -> 2 log|v|, k log|v| (k even) or k log(v) (k odd), integers k >= 3
//                           (these two far forms are rare branches: ir::where, Emitter::emit; so are
//                           those past 80 for exps, 9 for erfc's series, 2^27 for log1p(a*a) and 20 for
//                           u / sinh(a), u / cosh(a), log(sinh(a) / a): Stabilizer::rare_where)
//   log|v v|, log1p|v v| -> log(v v), log1p(v v), as above (log1p(a*a)'s far form 2 log|a| for
//                           a = x*x; log1p(abs((x exp(x))^2)))
//   log1p(expm1(a))      -> a; log1p(|expm1(a)|) -> a for a >= 0 (log(1 + (exp(x) - 1)))
//   a - t                -> tanhshrink(a) also where t is tanh(a) as rewritten above
//                           (tanh(softplus(t)): tanhshrink(softplus(x)))
// (u / (a*a + b) leaves u with factors of degree 2 or more in the input to
// P(x) / Q(x): (x*x + 2x + 1) / (x*x + 1).)
// Unlike simplify, these rewrites change results (for the better) where the
// naive form loses accuracy; they run before differentiation, so the
// derivatives are taken of the stable forms (the differences near 0 above,
// a - sin(a) to tan(a) - a, have closed-form slopes instead: difference_slope).
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "compiler/ir/graph.hpp"

namespace actjit::simplify {

/// Rewrites the nodes reachable from `roots`; returns the new roots.
std::vector<ir::NodeId> stabilize(ir::Graph& g, std::span<const ir::NodeId> roots);

/// For `n` the form stabilize builds for a difference that cancels near 0
/// (a - sin(a), sinh(a) - a, expm1(a) - a, a - log1p(a), a - atan(a), a -
/// asinh(a), tan(a) - a, or the negation of one): a, and the derivative of
/// the form by a, written without the cancellation (2 sin(a/2)^2, expm1(a),
/// a / (1 + a), tan(a)^2, ...): the derivative of the series itself costs a
/// second series (the differentiator's form_derivative). Else nothing.
struct DifferenceSlope {
  ir::NodeId a, slope;
};
std::optional<DifferenceSlope> difference_slope(ir::Graph& g, ir::NodeId n);

/// For `n` = u(a), u one of tanh, sin, sinh, tan, atan, asinh, expm1,
/// log1p (u(0) = 0, u'(0) = 1): a, u'(a), and u(a) - a u'(a), where u's
/// tangent at a meets 0, written without the cancellation near a = 0 (a^3 /
/// 3 - a^3 for tanh: tanhshrink(a) and a tanh(a)^2). The slope of u(a) / (a
/// + k) is a' (k u'(a) - intercept) / (a + k)^2; the quotient rule's u'(a)
/// - y cancels near a = 0 (tanh(x) / (x + 1e-7): 6.6e-4 relative off in
/// float at 0.01). Else nothing.
struct TangentIntercept {
  ir::NodeId a, slope, intercept;
};
std::optional<TangentIntercept> tangent_intercept(ir::Graph& g, ir::NodeId n);

/// Products with factors x (the input itself; x^3 and x^4 count as three,
/// four) and one or more factors of the input bounded by 1 in magnitude (q:
/// sigmoid, its derivative, exp(-x*x)), written so that two x multiply
/// before any q ((x x) q, x^3 q): reassociated as x (q2 (x q1)), x's and
/// q's in turn, so that no run of x's overflows and no run of q's
/// underflows; x x q was inf * 0 = NaN where x*x overflows and q underflows
/// (x*x*sigmoid(x) at x = -1e200 in double, its slope at +-1e200: 0, was
/// NaN). The same number of roundings; the bound is float's range
/// (ir::Ranges). A constant below 1 in magnitude counts as such a q where
/// the product's first operand may overflow float where it is used: x x
/// 0.1 as x (x 0.1), finite up to 5.8e19 (not inside guards that bound x,
/// as gelu_tanh's). Other growing factors (sinh, polynomials) are left as
/// written: the ranges are global, and inside a guarded branch the new
/// order would cost accuracy for nothing.
std::vector<ir::NodeId> bounded_factors_first(ir::Graph& g, std::span<const ir::NodeId> roots);

}  // namespace actjit::simplify
