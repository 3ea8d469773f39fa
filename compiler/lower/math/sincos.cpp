// sin and cos, in float and double, and tan in float, on targets with FMA
// (the reduction's first step must be one rounding). Double tan, and every
// kernel on targets without FMA, keep SLEEF's u10 functions (1.0 ULP).
//
// Method: a = |x|; q = round(a 2/pi) by one FMA onto 1.5 * 2^23 (2^52 in
// double), whose low bits then hold q as an integer (the quadrant: no
// float-to-int conversion, which LLVM makes poison for NaN); r = a - q pi/2
// with pi/2 = P1 + P2 + P3 (three floats or doubles): a - q P1 is exact by
// one FMA (q < 2^24, 2^53, and |a - q P1| < 2, so it fits the significand),
// q P2 is taken off in one more FMA (one rounding), and q P3 stays apart as
// r's low part lo, which the odd polynomials add in.
//   sin r = r + (r S(r^2) + lo), S of degree 3 (double: 6)
//   cos r = 1 + z C(z), z = r^2, C of degree 3 (double: 6; C(0) = -1/2)
//   tan r = r + (r T(r^2) + lo), T of degree 7 (float only)
// (tools/fit_vmath.py odd sin 3 0.7915, cos 3 0.7915, odd tan 7 0.7915;
// odd_f64 sin 6 0.7854, cos_f64 6 0.7854).
// The quadrant n picks sin r or cos r (n odd: cos r for sin; cos takes
// n + 1) and the sign (n & 2); tan is -1 / tan r in odd quadrants. sin and
// tan take x's sign last (-0 stays -0). 2/pi as a float is 2.6e-8 off, so q
// may miss a 2/pi's nearest integer by a 2.6e-8: below |x| = 2^17 that keeps
// |r| <= pi/4 + 0.0053, inside the fitted 0.7915 (double: 2/pi 3.9e-17 off,
// 2^30 and pi/4 + 7e-8 inside 0.7854). Past those and for +-inf (NaN passes
// the fast path), SLEEF's function for the whole value, in a branch taken
// about never. Measured: tests/test_vmath.cpp, ACCURACY.md.
#include <cstdint>
#include <limits>
#include <vector>

#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

namespace {

enum class Trig { Sin, Cos, Tan };

/// One element type's constants (see the top of this file).
struct TrigConstants {
  double fast_limit;             // where the fast path ends
  double two_over_pi;            // rounded to the type
  double magic;                  // 1.5 * 2^(significand bits)
  double p1, p2, p3;             // pi/2 = p1 + p2 + p3, each rounded to the type
  std::vector<double> sin, cos;  // S and C, lowest degree first
};

const TrigConstants& trig_constants(bool f64) {
  static const TrigConstants f{
      131072,
      0x1.45f306p-1,
      0x1.8p23,
      0x1.921fb6p+0,
      -0x1.777a5cp-25,
      -0x1.ee59dap-50,
      {-2.5213526821943333e-09, -0.16666650772094727, 0.008332012221217155, -0.0001949916040757671},
      {-0.5, 0.04166664183139801, -0.0013887148816138506, 2.441559081489686e-05}};
  static const TrigConstants d{
      0x1p30,
      0x1.45f306dc9c883p-1,
      0x1.8p52,
      0x1.921fb54442d18p+0,
      0x1.1a62633145c07p-54,
      -0x1.f1976b7ed8fbcp-110,
      {-2.3255102483184625e-18, -0.16666666666666619, 0.008333333333320403, -0.00019841269828572538,
       2.7557313331083073e-06, -2.5050708205490653e-08, 1.58941648549248e-10},
      {-0.5, 0.04166666666666659, -0.0013888888888872305, 2.4801587288422966e-05, -2.7557314063648457e-07,
       2.087568594405298e-09, -1.1357797482914673e-11}};
  return f64 ? d : f;
}

llvm::Value* fused(const Ctx& k, llvm::Value* x, llvm::Value* y, llvm::Value* z) {
  return k.b.CreateIntrinsic(llvm::Intrinsic::fma, {k.vt}, {x, y, z});
}

llvm::Value* fast_path(const Ctx& k, llvm::Value* x, Trig fn) {
  const TrigConstants& t = trig_constants(k.f64);
  const unsigned sign_bit = k.f64 ? 63 : 31;
  llvm::Value* a = k.abs(x);
  llvm::Value* qb = fused(k, a, k.c(t.two_over_pi), k.c(t.magic));
  llvm::Value* q = k.sub(qb, k.c(t.magic));
  llvm::Value* r = fused(k, k.b.CreateFNeg(q), k.c(t.p2), fused(k, k.b.CreateFNeg(q), k.c(t.p1), a));
  llvm::Value* lo = k.mul(q, k.c(-t.p3));
  llvm::Value* z = k.mul(r, r);
  llvm::Value* n = k.b.CreateBitCast(qb, k.int_vec());
  if (fn == Trig::Cos) n = k.b.CreateAdd(n, k.ci(1));
  llvm::Value* odd = k.b.CreateICmpNE(k.b.CreateAnd(n, k.ci(1)), k.ci(0));
  llvm::Value* v;
  if (fn == Trig::Tan) {
    llvm::Value* tr =
        k.horner(z, {-8.719318600469705e-10, 0.3333335816860199, 0.1333247274160385, 0.054077789187431335,
                     0.021198974922299385, 0.011038708500564098, -0.0001582230324856937, 0.004495698492974043});
    tr = k.add(k.fma(r, tr, lo), r);
    v = k.select(odd, k.div(k.c(-1), tr), tr);
  } else {
    llvm::Value* s = k.add(k.fma(r, k.horner(z, t.sin), lo), r);
    llvm::Value* c = k.fma(z, k.horner(z, t.cos), k.c(1));
    v = k.select(odd, c, s);
  }
  // the sign: bit 1 of n for sin and cos (moved to the sign bit), x's for sin and tan
  llvm::Value* sign = nullptr;
  if (fn != Trig::Tan) sign = k.b.CreateShl(k.b.CreateAnd(n, k.ci(2)), k.ci(sign_bit - 1));
  if (fn != Trig::Cos) {
    llvm::Value* xs =
        k.b.CreateAnd(k.b.CreateBitCast(x, k.int_vec()), k.ci(std::numeric_limits<int64_t>::min() >> (63 - sign_bit)));
    sign = sign ? k.b.CreateXor(sign, xs) : xs;
  }
  return k.b.CreateBitCast(k.b.CreateXor(k.b.CreateBitCast(v, k.int_vec()), sign), k.vt);
}

llvm::Value* trig(const Ctx& k, llvm::Value* x, Trig fn, Fallback slow) {
  if ((k.f64 && fn == Trig::Tan) || !k.has_fma) return slow(k.b, x);
  llvm::Value* near = fast_path(k, x, fn);
  llvm::Value* far = k.b.CreateFCmpOGT(k.abs(x), k.c(trig_constants(k.f64).fast_limit));
  return unless_rare(k, far, near, "trig", [&] { return slow(k.b, x); });
}

}  // namespace

llvm::Value* sin(const Ctx& k, llvm::Value* x, Fallback slow) { return trig(k, x, Trig::Sin, slow); }
llvm::Value* cos(const Ctx& k, llvm::Value* x, Fallback slow) { return trig(k, x, Trig::Cos, slow); }
llvm::Value* tan(const Ctx& k, llvm::Value* x, Fallback slow) { return trig(k, x, Trig::Tan, slow); }

}  // namespace actjit::lower::vmath
