// erfc as vector IR, float only (double keeps SLEEF's erfc, u15).
//
// Method: for a = |x|, erfc(a) = exp(-a^2) 4 h(a) / (a + 2), where
// h(a) = (a + 2) exp(a^2) erfc(a) / 4 is smooth and bounded on [0, inf)
// (h(0) = 1/2, h(inf) = 1/(4 sqrt(pi))). h is a degree-12 polynomial in
// q = (a - 2) / (a + 2), which maps [0, inf) onto [-1, 1) and on which h is
// analytic (coefficients and the fit: tools/fit_erfc.py; relative error of
// the fit 1.3e-9, 0.02 ULP); t = 1/(a + 2) serves q and the result, so
// there is one division. a^2 = s + e exactly (Dekker's product), and
// exp(-a^2) = exp(-s) (1 - e) to float precision, so the large argument of
// exp costs no accuracy. erfc(y / sqrt 2) (the normal distribution, as in
// gelu) takes the square from y itself, y^2 / 2, exactly: from the rounded
// argument it would be wrong by up to x^2 half-ULPs (150 ULP at gelu's
// x = -13). For x < 0, erfc(x) = 2 - erfc(|x|). Inputs past 12
// give 0 (erfc(10.06) is below the smallest subnormal); NaN passes through.
// Measured (tests/test_vmath.cpp): see ACCURACY.md.
#include <utility>

#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

namespace {

/// The rounding error of p = fl(a * b): a * b = p + e exactly. One FMA
/// where the target has it, else Veltkamp/Dekker splitting (plain
/// multiplies and adds are never fused).
llvm::Value* product_error(const Ctx& k, llvm::Value* a, llvm::Value* b, llvm::Value* p) {
  if (k.has_fma) return k.b.CreateIntrinsic(llvm::Intrinsic::fma, {k.vt}, {a, b, k.b.CreateFNeg(p)});
  llvm::Value* splitter = k.c(k.f64 ? 134217729.0 : 4097.0);  // 2^27 + 1 splits a double's 53 bits, 2^12 + 1 a float's 24
  auto split = [&](llvm::Value* v) {
    llvm::Value* big = k.mul(v, splitter);
    llvm::Value* hi = k.sub(big, k.sub(big, v));
    return std::make_pair(hi, k.sub(v, hi));
  };
  auto [ah, al] = split(a);
  auto [bh, bl] = split(b);
  return k.add(k.add(k.add(k.sub(k.mul(ah, bh), p), k.mul(ah, bl)), k.mul(al, bh)), k.mul(al, bl));
}

/// a * a = s + e exactly.
std::pair<llvm::Value*, llvm::Value*> exact_square(const Ctx& k, llvm::Value* a) {
  llvm::Value* s = k.mul(a, a);
  return {s, product_error(k, a, a, s)};
}

/// exp(-(s + e)) for s + e >= 0 exact and finite: exp(-s) (1 - e), to float
/// precision (e is at most half an ULP of s).
llvm::Value* exp_neg_exact(const Ctx& k, llvm::Value* s, llvm::Value* e) {
  llvm::Value* g = exp(k, k.b.CreateFNeg(s));
  return k.fma(k.b.CreateFNeg(g), e, g);
}

/// |a| capped at `cap`, where exp(-a^2) or exp(-a^2/2) is 0 in float: keeps
/// the square finite (inf - inf would make its error term NaN). NaN stays NaN.
llvm::Value* capped_abs(const Ctx& k, llvm::Value* a, double cap) {
  llvm::Value* m = k.abs(a);
  return k.select(k.b.CreateFCmpOGT(m, k.c(cap)), k.c(cap), m);
}

/// erfc(x) given x (rounded) and g = exp(-x^2) computed from the exact
/// square (the error of the square would be amplified x^2 times).
llvm::Value* erfc_core(const Ctx& k, llvm::Value* x, llvm::Value* g) {
  llvm::Value* a = k.abs(x);
  a = k.select(k.b.CreateFCmpOGT(a, k.c(12)), k.c(12), a);  // keeps inf out of q (g is 0 there)
  llvm::Value* t = k.div(k.c(1), k.add(a, k.c(2)));  // the one division
  llvm::Value* q = k.mul(k.sub(a, k.c(2)), t);
  llvm::Value* h = k.horner(q, {0.2553956762036335, -0.1717901671659514, 0.06986802934987088, -0.009110678503160725,
                                -0.005377712197900078, 0.0016208512832848465, 0.0007726883428219311,
                                -0.000213336387334076, -0.00016534161249922436, 1.6302587809657876e-05,
                                3.499876107406624e-05, 7.264627561454073e-07, -4.641163179129604e-06});
  llvm::Value* r = k.mul(g, k.mul(k.mul(t, k.c(4)), h));  // erfc(a); 4t is exact
  // NaN has come through g (exp passes it on) and through t.
  return k.select(k.b.CreateFCmpOLT(x, k.c(0)), k.sub(k.c(2), r), r);
}

}  // namespace

llvm::Value* erfc(const Ctx& k, llvm::Value* x) {
  auto [s, e] = exact_square(k, capped_abs(k, x, 12));  // exp(-144) is 0 in float
  return erfc_core(k, x, exp_neg_exact(k, s, e));
}

llvm::Value* exp_neg_half_square(const Ctx& k, llvm::Value* y) {
  // exp(-144.5) is 0 in float, exp(-800) in double
  auto [s, e] = exact_square(k, capped_abs(k, y, k.f64 ? 40 : 17));  // y^2 / 2 = s/2 + e/2: halving is exact
  return exp_neg_exact(k, k.mul(s, k.c(0.5)), k.mul(e, k.c(0.5)));
}

llvm::Value* erfc_scaled_sqrt1_2(const Ctx& k, llvm::Value* y, bool negate) {
  llvm::Value* x = k.mul(y, k.c(negate ? -0.70710678118654752440 : 0.70710678118654752440));
  // The same instructions as exp(-y^2/2) alone, so that a kernel needing
  // both (gelu's backward) computes the exp once (EarlyCSE merges them).
  return erfc_core(k, x, exp_neg_half_square(k, y));
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
