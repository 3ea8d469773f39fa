// tanh as vector IR.
//
// float: from the half angle, tanh x = 2t / (1 + t^2), t = tanh(x/2). With
// s = 2t = x + x z R(z), z = x^2, R a (2, 2) rational fit (tools/fit_vmath.py
// tanh_half; its error weighted by how much reaches tanh x), the result is
// s (1 - w), w = s^2 / (4 + s^2). Near 0 the leading x is exact and the
// corrections are small, so s carries one rounding; for large |x| the half
// angle damps every error of s by (1 - t^2) / (1 + t^2) (2.5e-4 at x = 9):
// 2.0 ULP over all floats, in 10 multiplications or FMAs and two divisions (a
// single rational x P(z) / Q(z) over [0, 9] is off by 5 ULP near 8, where
// the roundings of P and Q reach the result undamped). |x| is capped at
// 9.02, where tanh rounds to 1 (and the form gives exactly 1).
//
// double: tanh|x| = u / (u + 2) with u = expm1(2|x|), accurate near 0
// (expm1 is) and for large |x| (u's own error divides away); |x| capped at
// 19.5, where tanh rounds to 1, so expm1 needs neither clamps nor its form
// for large results.
//
// The sign comes back with copysign, so tanh(-0) = -0; NaN passes through.
#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

llvm::Value* tanh(const Ctx& k, llvm::Value* x) {
  if (k.f64) {
    llvm::Value* ax = k.capped_abs(x, 19.5);
    llvm::Value* u = expm1_of_tanh(k, k.add(ax, ax));
    return k.copysign(k.div(u, k.add(u, k.c(2))), x);
  }
  llvm::Value* ax = k.capped_abs(x, 9.02);
  llvm::Value* z = k.mul(ax, ax);
  // 2 R(z) = 2 (tanh(x/2)/x - 1/2) / z, numerator doubled (exactly).
  llvm::Value* p = k.horner(z, {2 * -0.04166663438081741, 2 * -0.0004873162251897156, 2 * -3.479224375269041e-08});
  llvm::Value* q = k.horner(z, {1.0, 0.1116948127746582, 0.0010515101021155715});
  llvm::Value* s = k.fma(k.mul(ax, z), k.div(p, q), ax);
  llvm::Value* w = k.div(k.mul(s, s), k.fma(s, s, k.c(4)));
  return k.copysign(k.fma(k.b.CreateFNeg(s), w, s), x);
}

}  // namespace actjit::lower::vmath
