// exp and expm1 as vector IR, for float and double at any width.
//
// Method: Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, with ln2
// split in a high part whose products with n are exact and a low part; the
// polynomial of exp(r) (for float a near-minimax one of degree 6 by Horner's
// rule, tools/fit_vmath.py exp; for double one of degree 11, 1 + (r + r^2
// T(r)), tools/fit_vmath.py exp_f64: expm1(r) within 1.9e-17 relative, two
// FMAs fewer than Taylor's degree 13 to the same accuracy); scaling by 2^n
// as two exponent-field factors, so subnormal results and overflow to inf
// come out right. Out-of-range inputs are
// clamped first (results inf / 0), NaN is passed through. Float exp on
// 512-bit AVX-512 vectors takes a table form instead (table_form below:
// x = (k/16) ln2 + r, 2^(j/16) from a register, degree 3); expm1 and the
// shifted and paired forms keep the Horner form. Double exp and its parts
// (exp_parts, exp_parts_guarded) take it too (table_reduction; 2^(j/16)
// from two registers, degree 6 where the Horner form has 11: 0.68 ULP
// against 0.93, and +12-24% for the double forwards of sigmoid, swish,
// mish and softplus on Zen 5); double's log-sum and exp(-2|a|) forms keep
// theirs.
// Measured (tests/test_vmath.cpp): exp within 1 ULP of the correctly rounded
// value for float over all inputs tested, expm1 within 2 ULP.
#include "compiler/lower/math/common.hpp"

#include <array>
#include <cmath>
#include <numbers>

namespace actjit::lower::vmath {

namespace {

constexpr double kLog2e = 1.4426950408889634;
constexpr double kExpTail32[] = {0.4999999403953552, 0.1666652113199234, 0.04166838899254799, 0.008368710987269878,
                                 0.0013814615085721016};

struct Reduction {
  llvm::Value* n;  // integral, as T (table form: a multiple of 1/16, which vscalef floors)
  llvm::Value* r;  // x - n ln2
  // Table form: t = 2^(n - floor n) rounded to T, and its relative
  // rounding error c (2^(n - floor n) = t (1 + c)).
  llvm::Value* t = nullptr;
  llvm::Value* c = nullptr;
};

/// The table form of exp (float on 512-bit AVX-512 vectors): x = (k/16) ln2
/// + r with k = round(16 x / ln2), |r| <= ln2/32, and exp(x) = 2^floor(k/16)
/// t_j (1 + c_j) exp(r), j = k mod 16, t_j = 2^(j/16) rounded to float and
/// c_j its relative rounding error, each from a 16-entry table in one
/// register (vpermps): exp(r) (1 + c_j) = 1 + (r + c_j) + r^2 Q(r), Q of
/// degree 1 (the Horner form's degree 6 took six FMAs, this one a product
/// and two), scaled by vscalef, which floors its exponent k/16. k/16 is
/// x / ln2 rounded in the float x / ln2 + 1.5 2^19 (whose last place is
/// 1/16): its last four bits are j, the shift's subtraction gives k/16
/// exactly. No rounding instruction, no product for n. Without c_j (t_j's
/// rounding, up to 0.45 ULP) the forwards ran 15-25% faster, but that half
/// ULP more put mish's forward at 4.13 ULP and softplus's at 0.3 times its
/// parameters at 4.46; with it the exhaustive sweeps are as before.
/// Measured (Zen 5, 16Ki floats, one process alternating the two builds):
/// forwards of sigmoid +7%, swish +10%, softplus +13%, mish +16%.
constexpr double kTableShift = 0x1.8p19;
/// The largest exp argument tail reduce() takes as it is (see there).
constexpr double kTailBound = 0x1p-12;
constexpr double kExpTableQ[] = {0.5000162124633789, 0.16666719317436218};  // tools/fit_vmath.py exp_table
/// Double's Q, of degree 4 (tools/fit_vmath.py exp_table_f64: exp(r) within
/// 0.12 ULP for |r| <= ln2/32; the Horner form's T has degree 9), and its
/// shift: 1.5 2^48, whose last place is 1/16.
constexpr double kExpTableQ64[] = {0.4999999999999925, 0.16666666664295968, 0.041666666713862766, 0.008333475332338653,
                                   0.001388831723345265};
constexpr double kTableShift64 = 0x1.8p48;

/// The float table form everywhere (exp, its parts, the log-sum and
/// exp(-2|a|) forms); double's plain exp and its parts only
/// (table_reduction).
bool table_form(const Ctx& k) { return k.avx512 && !k.f64; }
bool table_reduction(const Ctx& k) { return k.avx512; }

/// The table form's k/16 = round16(x * scale / ln2) (the shifted float's
/// last place is 1/16 for |x scale / ln2| < 2^18) and, indexed by its last
/// four bits, t_j and c_j: the part reduce() and exp_neg2abs share.
struct TableStep {
  llvm::Value *n, *t, *c;
};
TableStep table_step(const Ctx& k, llvm::Value* x, double scale);

/// t_j = 2^(j/16) rounded to float, or (`error`) c_j = 2^(j/16) / t_j - 1.
std::array<float, 16> exp2_sixteenths(bool error) {
  std::array<float, 16> t{};
  for (int j = 0; j < 16; ++j) {
    double v = std::exp2(j / 16.0), rounded = double(float(v));
    t[size_t(j)] = float(error ? (v - rounded) / rounded : v);
  }
  return t;
}

/// The same in double: t_j rounded to double, c_j from long double's 2^(j/16).
std::array<double, 16> exp2_sixteenths_f64(bool error) {
  std::array<double, 16> t{};
  for (int j = 0; j < 16; ++j) {
    long double v = std::exp2((long double)j / 16), rounded = (long double)double(v);
    t[size_t(j)] = double(error ? (v - rounded) / rounded : v);
  }
  return t;
}

TableStep table_step(const Ctx& k, llvm::Value* x, double scale) {
  const double shift = k.f64 ? kTableShift64 : kTableShift;
  llvm::Value* shifted = k.fma(x, k.c(scale * kLog2e), k.c(shift));
  llvm::Value* n = k.sub(shifted, k.c(shift));
  llvm::Value* index = k.b.CreateBitCast(shifted, k.int_vec());
  if (k.f64) return {n, k.lookup16(index, exp2_sixteenths_f64(false)), k.lookup16(index, exp2_sixteenths_f64(true))};
  return {n, k.lookup16(index, exp2_sixteenths(false)), k.lookup16(index, exp2_sixteenths(true))};
}

/// Clamps x into [lo, hi] (NaN becomes 0; callers restore it) and reduces.
/// With vscalef (no float-to-int conversion, whose NaN is poison in LLVM IR)
/// NaN passes through instead.
/// Without a clamp, x must already be NaN or within exp_bounded's range on that side.
/// A `tail` t (exp_tail) is added to r: x + t = n ln2 + r.
Reduction reduce(const Ctx& k, llvm::Value* x, double lo, double hi, bool clamp_low = true, bool clamp_high = true,
                 llvm::Value* tail = nullptr, bool guard_tail = true, bool table = false) {
  llvm::Value* xs = k.avx512 ? x : k.select(k.is_nan(x), k.c(0), x);
  if (clamp_high) xs = k.select(k.b.CreateFCmpOGT(xs, k.c(hi)), k.c(hi), xs);
  if (clamp_low) xs = k.select(k.b.CreateFCmpOLT(xs, k.c(lo)), k.c(lo), xs);
  llvm::Value *t = nullptr, *c = nullptr;
  llvm::Value* n = nullptr;
  if (table) {
    // |x / ln2| < 2^18 (the clamps and exp_bounds' -2e4 keep it there; NaN
    // stays NaN): the shifted float is in [2^19, 2^20), its last place 1/16.
    TableStep step = table_step(k, xs, 1);
    n = step.n, t = step.t, c = step.c;
  } else {
    n = k.round(k.mul(xs, k.c(kLog2e)));
  }
  // ln2 = hi + lo, hi with trailing zero bits so that n * hi is exact.
  double ln2_hi = (k.f64 ? kLn2Double : kLn2Float).hi;
  double ln2_lo = (k.f64 ? kLn2Double : kLn2Float).lo;
  llvm::Value* r = k.fma(n, k.c(-ln2_hi), xs);
  // A tail t is a fraction of an ULP of x, so r stays within the
  // polynomial's range; it joins n's low product off r's critical path.
  // Where x was clamped it changes nothing visible (the result is 0 or inf
  // either way) - if t is small: a t that is NaN (an intermediate
  // overflowed: exp(1 / (x x)) at x = 1e30 has x 0 and t NaN) or past
  // kTailBound (x so large that its rounding error is) counts as 0. Any
  // tail of an x within the clamps is below it (a few ULPs of |x| <= 760:
  // under 2^-14). (The bound was 1 until the thirty-first sitting: a t of
  // 0.125 at x = -2e6, where the clamp makes x 88.8, took exp(88.8 + t)
  // below overflow, and x sigmoid(1.702 x) gave -3.7e-33 for -0 from x =
  // -1.2e6 to -4.3e9. A vfpclass mask and a zero-masked vrange in place of
  // the compare, select and |t| measured level.)
  if (tail && guard_tail) tail = k.select(k.b.CreateFCmpOLT(k.abs(tail), k.c(kTailBound)), tail, k.c(0));
  r = tail ? k.add(r, k.fma(n, k.c(-ln2_lo), tail)) : k.fma(n, k.c(-ln2_lo), r);
  return {n, r, t, c};
}

/// (exp(r) - 1 - r) / r^2 = 1/2! + r/3! + r^2/4! + ..., to the needed degree:
/// for double a near-minimax fit of degree 9 (tools/fit_vmath.py exp_f64:
/// expm1(r) within 1.9e-17 relative, exp(r) 7.4e-18; Taylor's needed degree
/// 11); for float of degree 4 (tools/fit_vmath.py exp: exp(r) within
/// 3.8e-9 relative, 0.06 ULP).
llvm::Value* expm1_tail(const Ctx& k, llvm::Value* r) {
  if (k.f64)
    return k.horner(r, {0.5000000000000006, 0.16666666666666596, 0.041666666666572975, 0.008333333333385309,
                        0.001388888893272266, 0.00019841269728190187, 2.48015039144712e-05, 2.755739893646159e-06,
                        2.7626575886991e-07, 2.5056722930504575e-08});
  return k.horner(r, {kExpTail32[0], kExpTail32[1], kExpTail32[2], kExpTail32[3], kExpTail32[4]});
}

/// exp(r) for the reduced argument r.
llvm::Value* exp_poly(const Ctx& k, llvm::Value* r) {
  // float: one Horner chain, 1 + r (1 + r (q0 + r (q1 + ...))), 6 FMAs.
  // double: 1 + (r + r^2 T(r)), the one rounding at full weight the last
  // (test_vmath's doubles: 0.93 ULP; (1 + r) + r^2 T(r) rounded twice: 1.16).
  return k.f64 ? k.add(k.fma(k.mul(r, r), expm1_tail(k, r), r), k.c(1))
               : k.horner(r, {1, 1, kExpTail32[0], kExpTail32[1], kExpTail32[2], kExpTail32[3], kExpTail32[4]});
}

/// exp(r) 2^(n - floor n) for either form of the reduction: in the table
/// form t + t ((r + c) + r^2 Q(r)), one rounding at full weight (c's sum
/// with r is off the longest path: it waits for the lookup only).
llvm::Value* exp_poly(const Ctx& k, const Reduction& red) {
  if (!red.t) return exp_poly(k, red.r);
  llvm::Value* rc = k.add(red.r, red.c);
  llvm::Value* tail = k.f64 ? k.horner(red.r, kExpTableQ64) : k.horner(red.r, {kExpTableQ[0], kExpTableQ[1]});
  llvm::Value* q = k.fma(k.mul(red.r, red.r), tail, rc);
  return k.fma(red.t, q, red.t);
}

llvm::Value* exp_impl(const Ctx& k, llvm::Value* x, bool clamp_low, bool clamp_high, llvm::Value* tail = nullptr) {
  // Above hi the result overflows to inf; below lo it is 0 (after rounding).
  // Unclamped (exp_bounded), n goes below lo's: ldexp's two factors reach
  // 2^(2 emin) (float x >= -174, double x >= -1416), vscalef any n.
  Reduction red = reduce(k, x, k.f64 ? -760.0 : -110.0, k.f64 ? 709.79 : 88.8, clamp_low, clamp_high, tail, true,
                         table_reduction(k));
  llvm::Value* y = k.ldexp(exp_poly(k, red), red.n);
  return k.avx512 ? y : k.select(k.is_nan(x), x, y);
}

}  // namespace

llvm::Value* exp(const Ctx& k, llvm::Value* x) { return exp_impl(k, x, true, true); }
llvm::Value* exp_bounded(const Ctx& k, llvm::Value* x) { return exp_impl(k, x, false, false); }
llvm::Value* exp_below_bound(const Ctx& k, llvm::Value* x) { return exp_impl(k, x, true, false); }
llvm::Value* exp_above_bound(const Ctx& k, llvm::Value* x) { return exp_impl(k, x, false, true); }
llvm::Value* exp_tail(const Ctx& k, llvm::Value* x, llvm::Value* t, bool clamp_low, bool clamp_high) {
  return exp_impl(k, x, clamp_low, clamp_high, t);
}

llvm::Value* exp_tail_unclamped(const Ctx& k, llvm::Value* x, llvm::Value* t) {
  // |x| <= 1e5: the table form's shifted float stays in [2^19, 2^20) (|x /
  // ln2| < 2^18), the Horner form's n below 2^18; past 1419 (table) n ln2_hi
  // is no longer exact, but r stays within 2e-3 of its range (exp_bounds),
  // where the result is 0 or inf anyway.
  Reduction red = reduce(k, x, 0, 0, false, false, t, false, table_reduction(k));
  return k.ldexp(exp_poly(k, red), red.n);
}

ExpShift exp_shift(const Ctx& k, llvm::Value* m) {
  // The reduction's origin M: 0, or m itself where |m| is so large that
  // n = round(v / ln2) below would lose its exactness (2^16 in float, 2^40
  // in double); the shift's multiple j of ln2 (c = M + j ln2 is within
  // ln2/2 of m); and the least v, (m - M) - 110 (float; 760 in double),
  // below which exp(u - m) is 0.
  const double big = k.f64 ? 0x1p40 : 0x1p16, floor = k.f64 ? 760.0 : 110.0;
  llvm::Value* origin = k.select(k.b.CreateFCmpOGE(k.abs(m), k.c(big)), m, k.c(0));
  llvm::Value* d = k.sub(m, origin);
  return {origin, k.round(k.mul(d, k.c(kLog2e))), k.sub(d, k.c(floor))};
}

llvm::Value* exp_shifted(const Ctx& k, llvm::Value* u, const ExpShift& s) {
  // v = u - M is exact where it matters: trivially for M = 0, and for
  // M = m by Sterbenz's lemma wherever u >= m - 110 (|m| >= 2^16: u is
  // within a factor 2 of m); below, v <= -110 anyway (rounding is
  // monotonic; -inf too) and is raised to the least v (NaN stays: the
  // compare is false). Then exp(v - j ln2) = p(r) 2^(n - j) with v = n ln2
  // + r reduced exactly: ln2's high part is T(ln2) itself, n an integer
  // below 2^17 (float) or 2^41 (double), so n hi is exact in the fused
  // multiply-add and v - n hi, a multiple of v's or n hi's last place
  // below 1/2 in magnitude, is representable.
  llvm::Value* v = k.sub(u, s.origin);
  v = k.select(k.b.CreateFCmpOLT(v, s.least), s.least, v);
  llvm::Value* n = k.round(k.mul(v, k.c(kLog2e)));
  const double ln2_hi = k.f64 ? 0.6931471805599453 : 0.6931471824645996;
  const double ln2_lo = k.f64 ? 2.3190468138462996e-17 : -1.904654299957768e-09;
  llvm::Value* r = k.b.CreateIntrinsic(llvm::Intrinsic::fma, {k.vt}, {n, k.c(-ln2_hi), v});
  r = k.fma(n, k.c(-ln2_lo), r);
  return k.scalef(exp_poly(k, r), k.sub(n, s.j));
}

/// p for reduce's r, and NaN where x is (without vscalef, reduce takes
/// NaN as 0, for ldexp's integer n).
static llvm::Value* parts_p(const Ctx& k, llvm::Value* x, const Reduction& red) {
  llvm::Value* p = exp_poly(k, red);
  return k.avx512 ? p : k.select(k.is_nan(x), x, p);
}

ExpParts exp_parts(const Ctx& k, llvm::Value* x, llvm::Value* t) {
  Reduction red = reduce(k, x, 0, 0, false, false, t, false, table_reduction(k));
  return {parts_p(k, x, red), red.n};
}

ExpParts exp_parts_log_sum(const Ctx& k, llvm::Value* s, llvm::Value* e, llvm::Value* hi, llvm::Value* lt) {
  // n from the rounded sum (within the reduction's slack of the exact
  // one); r from the exact parts. n ln2_hi is exact (ln2_hi has 9 bits, n
  // is a multiple of 1/16 or an integer) and within |l| + 0.03 of -s, so
  // -s - n ln2_hi needs no more bits than lie between |l|'s leading bit and
  // s's last one: exact where s is large (s grows as m^2, |l| as log m),
  // and where both are below 1/2 its rounding is below 2^-26. Then + hi
  // (the sum within |lt| + 0.03 of 0: rounded to 2^-26 at most), + lt, and
  // the small terms.
  llvm::Value* approx = k.sub(k.add(hi, lt), s);
  Reduction red;
  if (table_form(k)) {
    TableStep step = table_step(k, approx, 1);
    red.n = step.n, red.t = step.t, red.c = step.c;
  } else {
    red.n = k.round(k.mul(approx, k.c(kLog2e)));
  }
  llvm::Value* r = k.fma(red.n, k.c(-kLn2Float.hi), k.b.CreateFNeg(s));
  r = k.add(k.add(r, hi), lt);
  red.r = k.add(r, k.fma(red.n, k.c(-kLn2Float.lo), k.b.CreateFNeg(e)));
  return {parts_p(k, approx, red), red.n};
}

ExpParts exp_parts_guarded(const Ctx& k, llvm::Value* x, llvm::Value* t, bool clamp_low, bool clamp_high) {
  ExpBounds bounds = exp_bounds(k.f64, k.avx512);
  // Above, exp_impl's clamp: p 2^n overflows to inf there, as exp does.
  Reduction red = reduce(k, x, bounds.lo, k.f64 ? 709.79 : 88.8, clamp_low, clamp_high, t, true, table_reduction(k));
  llvm::Value* p = parts_p(k, x, red);
  // Below the bound exp(x) is 0: so is p, and with it every product of p.
  if (clamp_low) p = k.select(k.b.CreateFCmpOLT(x, k.c(bounds.lo)), k.c(0), p);
  return {p, red.n};
}

ExpBounds exp_bounds(bool f64, bool scalef) {
  // Below, vscalef takes any n (the result is 0 well before these), and the
  // reduction stays sound: n * ln2_hi is exact while |n| < 2^15 (float:
  // ln2_hi has 9 bits) or 2^21 (double: 32 bits), and r's error from ln2_lo's
  // rounding, |n| * 1.3e-11 in float, matters only where the result is not 0
  // (|n| <= 150). Two exponent-field factors reach 2^(2 emin) only. In the
  // table form n is k/16 (k's bits and ln2_hi's 9 bits: exact while |x| <
  // 1419, far past where the result is 0 or inf; beyond, r's rounding keeps
  // it within 2e-3 of its range: p stays finite, the result 0 or inf; in
  // double, with ln2_hi's 32 bits, exact while |x| < 9e4, and r within
  // 1e-10 of its range at -1e6).
  if (scalef) return f64 ? ExpBounds{-1e6, 709} : ExpBounds{-2e4, 88};
  return f64 ? ExpBounds{-1400, 709} : ExpBounds{-170, 88};
}

namespace {

/// expm1: `small_only` where the caller knows 2^n stays finite and takes
/// the small form below for every n (for n <= 0 it is the form; above the
/// exponent's 24 / 53 bits, 2^n - 1 rounds: a relative error of at most
/// 2^-25 / 2^-54 more); `clamp_low` unless x >= lo is known.
/// expm1's reduction and expm1(r). Below lo expm1 is -1 to rounding (lo:
/// -20 in float, -40 in double); above hi it overflows. `wide_low` lowers
/// lo to where exp is 0 (with vscalef): the reduction exp_paired_expm1
/// shares, which gives expm1 the same values (-1 below -20 / -40 either way).
std::pair<Reduction, llvm::Value*> expm1_reduction(const Ctx& k, llvm::Value* x, bool small_only, bool clamp_low,
                                                   bool wide_low) {
  double lo = wide_low ? exp_bounds(k.f64, true).lo : k.f64 ? -40.0 : -20.0;
  Reduction red = reduce(k, x, lo, k.f64 ? 709.79 : 88.8, clamp_low, !small_only);
  llvm::Value* em1 = k.fma(k.mul(red.r, red.r), expm1_tail(k, red.r), red.r);  // expm1(r), accurate near 0
  return {red, em1};
}

/// expm1(x) has x's sign, -0 at -0 (IEEE's, and the reference's: 1 / expm1(x)
/// is -inf there); 1 * -0 + (1 - 1) is +0. One bitwise select a register.
llvm::Value* expm1_impl(const Ctx& k, llvm::Value* x, bool small_only, bool clamp_low = true, bool wide_low = false) {
  auto [red, em1] = expm1_reduction(k, x, small_only, clamp_low, wide_low);
  if (small_only) {
    llvm::Value* s = k.pow2(red.n);
    llvm::Value* y = k.copysign(k.fma(s, em1, k.sub(s, k.c(1))), x);
    return k.avx512 ? y : k.select(k.is_nan(x), x, y);
  }
  // Small n: 2^n expm1(r) + (2^n - 1), where 2^n - 1 is exact. Large n:
  // 2^n (expm1(r) + 1) - 1, whose -1 no longer matters (and never gives inf - inf).
  double limit = k.f64 ? 54 : 25;
  llvm::Value* large = k.b.CreateFCmpOGT(red.n, k.c(limit));
  llvm::Value* n_small = k.select(large, k.c(0), red.n);
  llvm::Value* s = k.pow2(n_small);
  llvm::Value* small_result = k.fma(s, em1, k.sub(s, k.c(1)));
  llvm::Value* large_result = k.sub(k.ldexp(k.add(em1, k.c(1)), red.n), k.c(1));
  llvm::Value* y = k.copysign(k.select(large, large_result, small_result), x);
  return k.avx512 ? y : k.select(k.is_nan(x), x, y);
}

}  // namespace

namespace {

/// -2|a| raised to where exp is still a normal number (-87.3 in float,
/// -708 in double), and with vscalef its reduction and expm1(r): the part
/// tanh_paired and exp_neg2abs_paired share. Subnormal results cost a
/// microcode assist per instruction on x86 (telu's backward ran 2.5x slower
/// on inputs in [3.8, 3.9]); below the bound exp_neg2abs_paired gives 0
/// (the true value is below 1.3e-38 / 3.3e-308) and tanh_paired 1.
struct Paired {
  llvm::Value* m;     // -2|a|
  llvm::Value* low;   // m below the bound
  llvm::Value* mc;    // m raised to the bound (NaN stays NaN)
  Reduction red;      // of mc, with vscalef
  llvm::Value* em1;   // expm1(r), with vscalef
};
/// Where -2|a| is raised to (exp's result still normal).
constexpr double kNeg2AbsBound64 = -708.0, kNeg2AbsBound32 = -87.3;

Paired paired(const Ctx& k, llvm::Value* a) {
  Paired p{};
  p.m = k.mul(k.abs(a), k.c(-2));
  double bound = k.f64 ? kNeg2AbsBound64 : kNeg2AbsBound32;
  p.low = k.b.CreateFCmpOLT(p.m, k.c(bound));
  p.mc = k.select(p.low, k.c(bound), p.m);
  if (!k.avx512) return p;
  p.red = reduce(k, p.mc, bound, 0, false, false);
  p.em1 = k.fma(k.mul(p.red.r, p.red.r), expm1_tail(k, p.red.r), p.red.r);
  return p;
}

/// v = expm1(-2|a|) and r = 1 / (2 + v) = 1 / (1 + e): tanh_paired and
/// sech2_paired each build them from the same instructions (CSE merges).
struct VR {
  llvm::Value *v, *r;
};
VR expm1_and_reciprocal(const Ctx& k, const Paired& p) {
  llvm::Value* v;  // in [-1, 0]; -1 to rounding at the bound
  if (k.avx512) {
    llvm::Value* s = k.pow2(p.red.n);
    v = k.fma(s, p.em1, k.sub(s, k.c(1)));
  } else {
    v = expm1_impl(k, p.mc, true);
  }
  return {v, k.div(k.c(1), k.add(v, k.c(2)))};
}

}  // namespace

llvm::Value* tanh_paired(const Ctx& k, llvm::Value* a) {
  VR vr = expm1_and_reciprocal(k, paired(k, a));
  return k.copysign(k.mul(k.b.CreateFNeg(vr.v), vr.r), a);
}

llvm::Value* sech2_paired(const Ctx& k, llvm::Value* a) {
  VR vr = expm1_and_reciprocal(k, paired(k, a));
  llvm::Value* e = exp_neg2abs_paired(k, a);
  return k.mul(k.mul(k.mul(e, k.c(4)), vr.r), vr.r);
}

llvm::Value* tanh_plus_sech2_times(const Ctx& k, llvm::Value* a, llvm::Value* z, llvm::Value* m) {
  VR vr = expm1_and_reciprocal(k, paired(k, a));
  llvm::Value* w = k.mul(k.mul(exp_neg2abs_paired(k, a), k.c(4)), vr.r);  // 4e r, as sech2_paired's
  if (m) w = k.mul(w, m);
  llvm::Value* t = k.copysign(k.b.CreateFNeg(vr.v), a);
  return k.mul(vr.r, k.fma(z, w, t));
}

llvm::Value* exp_neg2abs(const Ctx& k, llvm::Value* a) {
  if (k.f64) {
    Paired p = paired(k, a);  // only m, low and mc are used: the optimizer drops the rest
    return k.select(p.low, k.c(0), exp_impl(k, p.mc, false, false));
  }
  // Float: exp(-2 h), h = |a| capped, without forming -2 h: the factor goes
  // into log2(e) (n = round(h * -2 log2 e)), into ln2's parts (r' = h + n
  // ln2/2 = r / -2, exact as r is) and into the polynomial's coefficients
  // (c_j (-2)^j, so that each Horner step is (-2)^j times exp_poly's: every
  // rounding commutes with a power of two). The same bits as exp_impl on
  // -2 h, one multiplication fewer (tanh's backward).
  const double half_bound = -kNeg2AbsBound32 / 2;  // h's, as paired's -2|a|'s
  llvm::Value* h = k.abs(a);
  llvm::Value* low = k.b.CreateFCmpOGT(h, k.c(half_bound));
  llvm::Value* hc = k.select(low, k.c(half_bound), h);
  llvm::Value* hs = k.avx512 ? hc : k.select(k.is_nan(hc), k.c(0), hc);
  llvm::Value *n, *p;
  if (table_form(k)) {
    // The table form the same way: k/16 = round16(h * -2 / ln2), the
    // factor in the shift's product; q = (r + c) + r^2 Q(r) with r = -2 r'
    // as c - (r' + r') + r'^2 4 Q(-2 r') (two additions: no multiply unit).
    TableStep step = table_step(k, hs, -2);
    n = step.n;
    llvm::Value *t = step.t, *c = step.c;
    llvm::Value* r = k.fma(n, k.c(kLn2Float.hi / 2), hs);
    r = k.fma(n, k.c(kLn2Float.lo / 2), r);
    llvm::Value* q = k.fma(k.mul(r, r), k.horner(r, {4 * kExpTableQ[0], -8 * kExpTableQ[1]}), k.sub(c, k.add(r, r)));
    p = k.fma(t, q, t);
  } else {
    n = k.round(k.mul(hs, k.c(-2 * kLog2e)));
    llvm::Value* r = k.fma(n, k.c(kLn2Float.hi / 2), hs);
    r = k.fma(n, k.c(kLn2Float.lo / 2), r);
    p = k.horner(r, {1, -2, 4 * kExpTail32[0], -8 * kExpTail32[1], 16 * kExpTail32[2], -32 * kExpTail32[3],
                     64 * kExpTail32[4]});
  }
  llvm::Value* y = k.ldexp(p, n);
  if (!k.avx512) y = k.select(k.is_nan(hc), hc, y);
  return k.select(low, k.c(0), y);
}

llvm::Value* exp_neg2abs_paired(const Ctx& k, llvm::Value* a) {
  Paired p = paired(k, a);
  llvm::Value* e = k.avx512 ? k.scalef(k.add(p.em1, k.c(1)), p.red.n) : exp(k, p.mc);
  return k.select(p.low, k.c(0), e);
}

llvm::Value* exp_neg2abs_square(const Ctx& k, llvm::Value* e) {
  // e below exp(bound / 2) makes e^2 below exp(bound): exp_neg2abs's flush,
  // at the same a up to e's rounding, so no product is subnormal.
  const double half = std::exp((k.f64 ? kNeg2AbsBound64 : kNeg2AbsBound32) / 2);
  return k.select(k.b.CreateFCmpOLT(e, k.c(half)), k.c(0), k.mul(e, e));
}

llvm::Value* expm1(const Ctx& k, llvm::Value* x) { return expm1_impl(k, x, false); }
llvm::Value* expm1_paired(const Ctx& k, llvm::Value* x, bool small_only) {
  return expm1_impl(k, x, small_only, true, k.avx512);
}
llvm::Value* exp_paired_expm1(const Ctx& k, llvm::Value* x, bool small_only) {
  if (!k.avx512) return exp(k, x);
  auto [red, em1] = expm1_reduction(k, x, small_only, true, true);
  return k.scalef(k.add(em1, k.c(1)), red.n);
}
llvm::Value* expm1_nonpositive(const Ctx& k, llvm::Value* x) { return expm1_impl(k, x, true); }
llvm::Value* expm1_of_tanh(const Ctx& k, llvm::Value* x) { return expm1_impl(k, x, true, false); }

namespace {
/// g = exp(|x|) / 2 as exp(|x| - log 2), the difference's rounding error
/// and log 2's low part in exp's tail: finite to |x| = 89.4 in float, where
/// sinh and cosh are, though exp(|x|) overflows past 88.7 (and (h / 2) h,
/// h = exp(|x| / 2), doubles exp's error: 135 million floats over 1 ULP).
llvm::Value* half_exp_abs(const Ctx& k, llvm::Value* x) {
  const double ln2_hi = float(std::numbers::ln2), ln2_lo = std::numbers::ln2 - ln2_hi;
  llvm::Value* a = k.abs(x);
  llvm::Value* s = k.sub(a, k.c(ln2_hi));
  llvm::Value* t = k.sub(sum_error(k, a, k.b.CreateFNeg(k.c(ln2_hi)), s), k.c(ln2_lo));
  return exp_tail(k, s, t, false, true);
}
}  // namespace

llvm::Value* sinh(const Ctx& k, llvm::Value* x) {
  // Below |x| = 1: x + x Q(x^2), Q of degree 4 (tools/fit_vmath.py odd sinh 4
  // 1: 3.9e-10 relative with these float coefficients). Beyond: g - 1/(4g),
  // g = exp(|x|) / 2 (1/(4g) at most 0.18 of g: nothing cancels), x's sign.
  llvm::Value* q = k.horner(k.mul(x, x), {3.2612856859515205e-11, 0.1666666716337204, 0.008333315141499043,
                                          0.00019841609173454344, 2.7905846309295157e-06});
  llvm::Value* near = k.copysign(k.fma(x, q, x), x);
  llvm::Value* g = half_exp_abs(k, x);
  llvm::Value* far = k.copysign(k.sub(g, k.div(k.c(0.25), g)), x);
  return k.select(k.b.CreateFCmpOLT(k.abs(x), k.c(1)), near, far);  // (NaN: far's exp passes it on)
}

llvm::Value* cosh(const Ctx& k, llvm::Value* x) {
  llvm::Value* g = half_exp_abs(k, x);  // g + 1/(4g): a sum of positives
  return k.add(g, k.div(k.c(0.25), g));
}

}  // namespace actjit::lower::vmath
