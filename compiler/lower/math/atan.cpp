// atan in float (the double kernels keep SLEEF's atan, 1.0 ULP).
//
// Method: a = |x| is reduced to t in [-tan(pi/8), tan(pi/8)] and an offset
// y0 (0, pi/4 or pi/2): t = a below tan(pi/8), (a - 1) / (a + 1) up to
// tan(3pi/8), -1 / a beyond. atan(t) = t + t Q(t^2), Q of degree 5
// (tools/fit_vmath.py odd atan 5 0.41421357: 7.4e-10 relative with these
// float coefficients). y0 is a float pair, its low part added first. The
// sign comes back last (-0 stays -0, NaN passes through, +-inf gives
// +-pi/2). Measured: tests/test_vmath.cpp, ACCURACY.md.
#include <numbers>

#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

llvm::Value* atan(const Ctx& k, llvm::Value* x) {
  const double tan_pi8 = 0.41421356237309503, tan_3pi8 = 2.414213562373095;
  const double quarter = std::numbers::pi / 4, quarter_hi = float(quarter), quarter_lo = quarter - quarter_hi;
  llvm::Value* a = k.abs(x);
  llvm::Value* mid = k.b.CreateFCmpOGT(a, k.c(tan_pi8));
  llvm::Value* far = k.b.CreateFCmpOGT(a, k.c(tan_3pi8));
  llvm::Value* t = k.select(far, k.div(k.c(-1), a), k.select(mid, k.div(k.sub(a, k.c(1)), k.add(a, k.c(1))), a));
  llvm::Value* steps = k.select(far, k.c(2), k.select(mid, k.c(1), k.c(0)));  // y0 = steps pi/4
  llvm::Value* z = k.mul(t, t);
  llvm::Value* q = k.horner(z, {-4.4036835289418264e-10, -0.3333330750465393, 0.19998174905776978, -0.14239151775836945,
                                0.10566281527280807, -0.06016262248158455});
  // y0_hi + (t + (t q + y0_lo)): the small parts first, y0_hi's addition last
  llvm::Value* r = k.fma(steps, k.c(quarter_hi), k.add(t, k.fma(t, q, k.mul(steps, k.c(quarter_lo)))));
  return k.copysign(r, x);
}

}  // namespace actjit::lower::vmath
