// erfc as vector IR, float only (double keeps SLEEF's erfc, u15).
//
// Method: for a = |x|, erfc(a) = exp(-a^2) erfcx(a), where the scaled
// function erfcx(a) = exp(a^2) erfc(a) is smooth and bounded on [0, inf)
// (erfcx(0) = 1, erfcx(a) ~ 1/(a sqrt(pi))): a degree-10 polynomial in
// q = (a - 3) / (a + 3), which maps [0, 12.03] onto [-1, 0.60] and on which
// erfcx is analytic (coefficients and the fit: tools/fit_erfc.py; relative
// error 7.7e-9 with the float coefficients). One division (q, correctly
// rounded) and one product after the polynomial. a^2 = s + e exactly
// (Dekker's product), and exp(-a^2) = exp(-s) (1 - e) to float precision, so the large argument of
// exp costs no accuracy. erfc(y / sqrt 2) (the normal distribution, as in
// gelu) takes the square from y itself, y^2 / 2, exactly: from the rounded
// argument it would be wrong by up to x^2 half-ULPs (150 ULP at gelu's
// x = -13), and the polynomial's variable from m = |y| itself (its own fit,
// erfcx_over_sqrt2). For x < 0, erfc(x) = 2 - erfc(|x|). Inputs past 12
// give 0 (erfc(10.06) is below the smallest subnormal); NaN passes through.
// Measured (tests/test_vmath.cpp): see ACCURACY.md.
#include <utility>

#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

namespace {

/// a * a = s + e exactly.
std::pair<llvm::Value*, llvm::Value*> exact_square(const Ctx& k, llvm::Value* a) {
  llvm::Value* s = k.mul(a, a);
  return {s, product_error(k, a, a, s)};
}

/// exp(-(s + e)) for s + e in [0, 170] exact: exp(-s) (1 - e), to float
/// precision (e is at most half an ULP of s). No clamping inside exp.
llvm::Value* exp_neg_exact(const Ctx& k, llvm::Value* s, llvm::Value* e) {
  llvm::Value* g = exp_bounded(k, k.b.CreateFNeg(s));
  return k.fma(k.b.CreateFNeg(g), e, g);
}


/// erfc(x) = g h for x >= 0, 2 - g h for x < 0 (`negative`), given
/// g = exp(-x^2) and h = erfcx(|x|). NaN comes through g (exp passes it on)
/// and through h.
llvm::Value* erfc_from(const Ctx& k, llvm::Value* g, llvm::Value* h, llvm::Value* negative) {
  llvm::Value* r = k.mul(g, h);  // erfc(|x|): one rounding after the polynomial
  return k.select(negative, k.sub(k.c(2), r), r);
}

/// erfcx(a) = exp(a^2) erfc(a) for a >= 0 (rounded; at most 12.03).
llvm::Value* erfcx(const Ctx& k, llvm::Value* a) {
  // q = (a - 3) / (a + 3) in [-1, 0.60], correctly rounded: erfcx(q) has slopes
  // up to 1.7 in q, and a q from a rounded reciprocal costs 2 ULP more near a = 0.
  llvm::Value* q = k.div(k.sub(a, k.c(3)), k.add(a, k.c(3)));
  // A polynomial in q, degree 10 (tools/fit_erfc.py: 7.7e-9 relative with
  // these float coefficients)
  return k.horner(q, {0.17900115251541138, -0.32623356580734253, 0.2456037551164627, -0.1501157432794571,
                      0.07166624814271927, -0.024394342675805092, 0.004267512354999781, 0.0007153617916628718,
                      -0.0005928863538429141, 3.013218338310253e-05, 5.606123886536807e-05});
}

/// erfcx(m / sqrt 2) for m = |y| (at most 17) itself: no multiplication by
/// 1/sqrt 2 (7% faster gelu than erfcx(a) of the rounded a = m / sqrt 2). A
/// polynomial in q = (m - c) / (m + c) in [-1, 0.61] with c = 4.125, a
/// centre with few bits: above c/2 both m - c and m + c are mostly exact
/// and q has one rounding. Below c/2 they round: gelu's maximum error near
/// x = 0 is 6.4 ULP (5.6 with the rounded a; a q taken as 2m / (m + c) - 1
/// there gets it back but costs the speed). tools/fit_erfc.py --normal 10
/// 4.125: 7.2e-9 relative with these float coefficients; centres 3-5 tried
/// (the others fit worse after the coefficients' rounding, or cost more
/// in gelu).
llvm::Value* erfcx_over_sqrt2(const Ctx& k, llvm::Value* m) {
  llvm::Value* c = k.c(4.125);
  llvm::Value* q = k.div(k.sub(m, c), k.add(m, c));
  return k.horner(q, {0.1836366355419159, -0.33316341042518616, 0.24723729491233826, -0.14708521962165833,
                      0.0669848844408989, -0.020783400163054466, 0.002587744500488043, 0.0010662468848749995,
                      -0.0004921052604913712, -3.639122951426543e-05, 4.3375042878324166e-05});
}

/// y^2 / 2 = s + e exactly, from m = |y| (finite): (m / 2) m, halving exact.
std::pair<llvm::Value*, llvm::Value*> exact_half_square(const Ctx& k, llvm::Value* m) {
  llvm::Value* hm = k.mul(m, k.c(0.5));
  llvm::Value* s = k.mul(hm, m);
  return {s, product_error(k, hm, m, s)};
}

/// |y| capped where exp(-y^2/2) is 0: exp(-144.5) in float, exp(-800) in double.
/// (The caps keep the squares finite: inf - inf would make their error terms NaN.)
llvm::Value* half_square_abs(const Ctx& k, llvm::Value* y) { return k.capped_abs(y, k.f64 ? 40 : 17); }

/// exp(-m^2/2) for m = half_square_abs(y).
llvm::Value* exp_neg_half_square_of(const Ctx& k, llvm::Value* m) {
  auto [s, e] = exact_half_square(k, m);
  return exp_neg_exact(k, s, e);
}

}  // namespace

llvm::Value* erfc(const Ctx& k, llvm::Value* x) {
  llvm::Value* a = k.capped_abs(x, 12);  // erfc(12) = 1.4e-64; exp(-144) is 0 in float
  auto [s, e] = exact_square(k, a);
  return erfc_from(k, exp_neg_exact(k, s, e), erfcx(k, a), k.b.CreateFCmpOLT(x, k.c(0)));
}

llvm::Value* exp_neg_half_square(const Ctx& k, llvm::Value* y) { return exp_neg_half_square_of(k, half_square_abs(k, y)); }

llvm::Value* erfc_scaled_sqrt1_2(const Ctx& k, llvm::Value* y, bool negate) {
  // One capped |y| serves the exp and the polynomial; the exp is the same
  // instructions as exp(-y^2/2) alone, so that a kernel needing both
  // (gelu's backward) computes it once (EarlyCSE).
  llvm::Value* m = half_square_abs(k, y);
  llvm::Value* negative = negate ? k.b.CreateFCmpOGT(y, k.c(0)) : k.b.CreateFCmpOLT(y, k.c(0));
  return erfc_from(k, exp_neg_half_square_of(k, m), erfcx_over_sqrt2(k, m), negative);
}

llvm::Value* erfc_sqrt1_2_f64(const Ctx& k, llvm::Value* y, bool negate,
                             llvm::Value* (*erfc_of)(llvm::IRBuilderBase&, llvm::Value*)) {
  // a = fl(+-y / sqrt 2) is off by delta (up to half an ULP), and erfc's
  // slope -2/sqrt(pi) exp(-a^2) makes that a relative error of ~2 a^2 ULP
  // (1400 ULP at gelu's x = -37): add the first-order term back,
  // erfc(a + delta) = erfc(a) - delta 2/sqrt(pi) exp(-y^2 / 2).
  const double c_hi = 0.70710678118654757, c_lo = -4.8336466567264567e-17;  // 1/sqrt(2) = c_hi + c_lo
  double sign = negate ? -1 : 1;
  llvm::Value* a = k.mul(y, k.c(sign * c_hi));
  llvm::Value* r = erfc_of(k.b, a);
  llvm::Value* delta = k.fma(y, k.c(sign * c_lo), product_error(k, y, k.c(sign * c_hi), a));
  llvm::Value* slope = k.mul(exp_neg_half_square(k, y), k.c(1.1283791670955126));  // 2/sqrt(pi) exp(-a^2)
  return k.b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {k.vt}, {k.b.CreateFNeg(delta), slope, r});
}

}  // namespace actjit::lower::vmath
