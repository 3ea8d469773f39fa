// tanh as vector IR.
//
// float: from the half angle, tanh x = 2t / (1 + t^2), t = tanh(x/2). With
// s = 2t = x + x z R(z), z = x^2, R a (2, 2) rational fit (tools/fit_vmath.py
// tanh_half; its error weighted by how much reaches tanh x), the result is
// s / (1 + (s/4) s). Near 0 the leading x is exact and the corrections are
// small, so s carries one rounding; for large |x| the half angle damps
// every error of s by (1 - t^2) / (1 + t^2) (2.5e-4 at x = 9): 2.45 ULP
// over all floats, in 9 multiplications or FMAs and two divisions (a single
// rational x P(z) / Q(z) over [0, 9] is off by 5 ULP near 8, where the
// roundings of P and Q reach the result undamped). Written s (1 - w), w =
// s^2 / (4 + s^2), it was 2.0 ULP (the denominator's rounding near 0 is
// what the quotient adds), but 8% slower in tanh's kernel (16Ki floats,
// alternating builds), 10% in x tanh(exp(x))'s. Past |x| = 9.02, where tanh
// rounds to 1, a select gives exactly 1 (the quotient gives 1 - 2^-24
// there: 1 + s^2/4 and s round on different grids); larger |x| make z, P
// and Q infinite and s NaN, which the select discards.
//
// double: tanh|x| = u / (u + 2) with u = expm1(2|x|), accurate near 0
// (expm1 is) and for large |x| (u's own error divides away); |x| capped at
// 19.5, where tanh rounds to 1, so expm1 needs neither clamps nor its form
// for large results.
//
// The sign comes back with copysign, so tanh(-0) = -0; NaN passes through.
//
// tanhshrink, x - tanh x, whose difference cancels near 0 (x^3/3 there):
//
// float: from the same half angle, s = 2 tanh(x/2) = x (1 + u), u = z R(z)
// (its own (2, 2) fit, weighted by how much of R's error reaches x - tanh x:
// tools/fit_vmath.py tanhshrink_half), and tanh x = s - s^3 / (4 + s^2), so
// x - tanh x = c (k / (4 + s^2) - R) with c = x^3, k = (1 + u)^3: both terms
// positive (nothing cancels), no exp. c carries one rounding (x^2's error
// is added back), 1 + u is kept as w + wl (Fast2Sum) so that k and s^2 do
// not triple and double its rounding: 3.3 ULP over all floats (the
// catalogue's former where() of a rational and an exp: 3.3 ULP too, at
// 2.5x the time). |x| past 9.02 gives |x| - 1 (tanh rounds to 1 there).
//
// double, and float without FMA: compiler/ir/tanhshrink.hpp's form, the
// rational for |x| < 1 and (|x| - 1) + 2e / (1 + e), e = exp(-2|x|), past
// it, with one division for both (numerator and denominator selected first).
#include "compiler/ir/tanhshrink.hpp"
#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

llvm::Value* tanh(const Ctx& k, llvm::Value* x) {
  if (k.f64) {
    llvm::Value* ax = k.capped_abs(x, 19.5);
    llvm::Value* u = expm1_of_tanh(k, k.add(ax, ax));
    return k.copysign(k.div(u, k.add(u, k.c(2))), x);
  }
  llvm::Value* ax = k.abs(x);
  llvm::Value* z = k.mul(ax, ax);
  // 2 R(z) = 2 (tanh(x/2)/x - 1/2) / z, numerator doubled (exactly).
  llvm::Value* p = k.horner(z, {2 * -0.04166663438081741, 2 * -0.0004873162251897156, 2 * -3.479224375269041e-08});
  llvm::Value* q = k.horner(z, {1.0, 0.1116948127746582, 0.0010515101021155715});
  // p / q only corrects the leading x (div_damped: on Intel 1.6x faster
  // without the second division, the same 2.45 ULP over all floats).
  llvm::Value* s = k.fma(k.mul(ax, z), k.div_damped(p, q), ax);
  llvm::Value* r = k.div(s, k.fma(k.mul(s, k.c(0.25)), s, k.c(1)));
  return k.copysign(k.select(k.b.CreateFCmpOGE(ax, k.c(9.02)), k.c(1), r), x);
}

llvm::Value* tanhshrink(const Ctx& k, llvm::Value* x) {
  llvm::Value* ax = k.abs(x);
  // The half-angle form needs fused multiply-adds (without them 4.3 ULP):
  // targets without FMA (x86-64-v2) take float64's form in float (3.3).
  if (k.f64 || !k.has_fma) {
    namespace form = ir::tanhshrink_form;
    llvm::Value* small = k.b.CreateFCmpOLT(ax, k.c(form::kSmall));
    llvm::Value* z = k.mul(ax, ax);
    llvm::Value* t = k.mul(ax, z);
    llvm::Value* e = exp_neg2abs(k, x);
    llvm::Value* num = k.select(small, k.mul(k.mul(t, z), k.horner(z, form::kS)), k.add(e, e));
    llvm::Value* den = k.select(small, k.horner(z, form::kQ), k.add(e, k.c(1)));
    llvm::Value* q = k.div(num, den);
    llvm::Value* r = k.select(small, k.sub(k.mul(t, k.c(1.0 / 3)), q), k.add(k.sub(ax, k.c(1)), q));
    return k.copysign(r, x);
  }
  constexpr double kCap = 9.02;
  llvm::Value* big = k.b.CreateFCmpOGT(ax, k.c(kCap));
  llvm::Value* a = k.select(big, k.c(kCap), ax);
  llvm::Value* z = k.mul(a, a);
  llvm::Value* c = k.fma(a, z, k.mul(a, product_error(k, a, a, z)));  // a^3, one rounding
  // R(z) = 2 (tanh(a/2)/a - 1/2) / z (numerator doubled, exactly)
  llvm::Value* p = k.horner(z, {2 * -0.0416666641831398, 2 * -0.0004924837849102914, 2 * -3.8083271647337824e-08});
  llvm::Value* q = k.horner(z, {1.0, 0.11181952059268951, 0.0010638763196766376});
  llvm::Value* r = k.div(p, q);
  llvm::Value* u = k.mul(z, r);  // s = a (1 + u), u in (-1, 0]
  llvm::Value* w = k.add(k.c(1), u);
  llvm::Value* wl = k.sub(u, k.sub(w, k.c(1)));  // 1 + u = w + wl exactly (Fast2Sum: |u| <= 1)
  llvm::Value* w2 = k.mul(w, w);
  llvm::Value* cube = k.fma(w2, w, k.mul(k.mul(k.c(3), w2), wl));  // (1 + u)^3
  llvm::Value* square = k.fma(k.add(w, w), wl, w2);                // (1 + u)^2
  llvm::Value* h = k.div(cube, k.fma(z, square, k.c(4)));           // s^3 / (4 + s^2) / a^3
  llvm::Value* res = k.fma(c, h, k.b.CreateFNeg(k.mul(c, r)));
  return k.copysign(k.select(big, k.sub(ax, k.c(1)), res), x);
}


}  // namespace actjit::lower::vmath
