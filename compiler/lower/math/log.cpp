// log and log1p as vector IR, for float and double at any width.
//
// Method (as fdlibm): x = 2^e m with m in [sqrt(1/2), sqrt(2)) read from the
// exponent field (subnormals scaled first); f = m - 1 exactly; with
// s = f / (2 + f), log(1 + f) = f - s (f - R(s^2)) where R is the Taylor
// series of 2 atanh(s) / s - 2 in s^2 (4 terms for float, 10 for double:
// truncation below 0.01 ULP); log x = e ln2_hi + (e ln2_lo + log m).
// log1p(x) = log(u) + (x - (u - 1)) / u with u = 1 + x, which corrects the
// rounding of u. Special values (0, negatives, inf, NaN) are selected last.
// log1p_unit(t) for t in [-1/2, 1] (softplus's log1p(exp(-|x|)),
// the shifted softplus's log1p(expm1(-|x|) / 2)):
// 2 atanh(s), s = t / (2 + t) in [-1/3, 1/3], with the rounding of 2 + t
// corrected, as 2s + s z P(z), z = s^2, P a degree-3 fit in float
// (tools/fit_vmath.py log1p_unit: 0.09 ULP), degree 9 in double
// (log1p_unit_f64: 0.01 ULP): one division, no exponent split, no
// correction quotient (the general log1p has two divisions).
#include <cmath>
#include <limits>

#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

llvm::Value* log(const Ctx& k, llvm::Value* x) {
  llvm::IRBuilderBase& b = k.b;
  const unsigned mb = k.mantissa_bits();
  // Subnormal inputs: scale into the normal range, remember the exponent.
  double min_normal = k.f64 ? std::numeric_limits<double>::min() : std::numeric_limits<float>::min();
  double scale_bits = k.f64 ? 54 : 24;
  llvm::Value* tiny = b.CreateFCmpOLT(x, k.c(min_normal));
  llvm::Value* xs = k.select(tiny, k.mul(x, k.c(std::ldexp(1.0, int(scale_bits)))), x);
  llvm::Value* bits = b.CreateBitCast(xs, k.int_vec());
  llvm::Value* e_int = b.CreateSub(b.CreateLShr(bits, k.ci(mb)), k.ci(k.exponent_bias()));
  llvm::Value* mant_mask = k.ci((1ll << mb) - 1);
  llvm::Value* m = b.CreateBitCast(b.CreateOr(b.CreateAnd(bits, mant_mask), k.ci((long long)k.exponent_bias() << mb)),
                                   k.vt);  // in [1, 2)
  llvm::Value* e = b.CreateSIToFP(e_int, k.vt);
  llvm::Value* big = b.CreateFCmpOGT(m, k.c(1.4142135623730951));
  m = k.select(big, k.mul(m, k.c(0.5)), m);
  e = k.add(e, k.select(big, k.c(1), k.c(0)));
  e = k.sub(e, k.select(tiny, k.c(scale_bits), k.c(0)));

  llvm::Value* f = k.sub(m, k.c(1));
  llvm::Value* s = k.div(f, k.add(f, k.c(2)));
  llvm::Value* z = k.mul(s, s);
  llvm::Value* R =
      k.f64 ? k.horner(z, {2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9, 2.0 / 11, 2.0 / 13, 2.0 / 15, 2.0 / 17, 2.0 / 19, 2.0 / 21})
            : k.horner(z, {2.0 / 3, 2.0 / 5, 2.0 / 7, 2.0 / 9});
  R = k.mul(z, R);
  llvm::Value* logm = k.sub(f, k.mul(s, k.sub(f, R)));
  double ln2_hi = (k.f64 ? kLn2Double : kLn2Float).hi;
  double ln2_lo = (k.f64 ? kLn2Double : kLn2Float).lo;
  llvm::Value* y = k.fma(e, k.c(ln2_hi), k.fma(e, k.c(ln2_lo), logm));

  double inf = std::numeric_limits<double>::infinity();
  y = k.select(b.CreateFCmpOEQ(x, k.c(inf)), k.c(inf), y);
  y = k.select(b.CreateFCmpOEQ(x, k.c(0)), k.c(-inf), y);
  y = k.select(b.CreateFCmpOLT(x, k.c(0)), k.c(std::numeric_limits<double>::quiet_NaN()), y);
  return k.select(k.is_nan(x), x, y);
}

llvm::Value* log1p(const Ctx& k, llvm::Value* x) {
  llvm::IRBuilderBase& b = k.b;
  llvm::Value* u = k.add(x, k.c(1));
  llvm::Value* correction = k.div(k.sub(x, k.sub(u, k.c(1))), u);
  llvm::Value* y = k.add(log(k, u), correction);
  double inf = std::numeric_limits<double>::infinity();
  y = k.select(b.CreateFCmpOEQ(x, k.c(inf)), k.c(inf), y);
  y = k.select(b.CreateFCmpOEQ(u, k.c(0)), k.c(-inf), y);
  return k.copysign(y, x);  // x's sign: -0 at -0 (log(1) is +0), as IEEE's log1p
}

llvm::Value* log1p_unit(const Ctx& k, llvm::Value* t) {
  llvm::Value* d = k.add(t, k.c(2));
  llvm::Value* err = k.sub(t, k.sub(d, k.c(2)));  // d + err = 2 + t exactly (d - 2 is exact)
  llvm::Value* s0 = k.div(t, d);
  // t / (d + err) = s0 (1 - err / d) to first order, and 1 / d = (1 - s0) / 2.
  llvm::Value* s = k.fma(k.b.CreateFNeg(k.mul(s0, err)), k.mul(k.sub(k.c(1), s0), k.c(0.5)), s0);
  llvm::Value* z = k.mul(s, s);
  llvm::Value* P =
      k.f64 ? k.horner(z, {0.666666666666663, 0.40000000000158886, 0.28571428547702765, 0.22222223977503422,
                           0.18181743673307, 0.1538656523519035, 0.13300901095668527, 0.12106698132044535,
                           0.08337213439776045, 0.1702438103803798})
            : k.horner(z, {0.666664183139801, 0.4002152681350708, 0.2800179421901703, 0.28012046217918396});
  return k.fma(k.mul(s, z), P, k.add(s, s));
}

}  // namespace actjit::lower::vmath
