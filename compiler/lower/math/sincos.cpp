// sin, cos and tan in float on targets with FMA. Double kernels, and float
// kernels on targets without FMA (the reduction's first step must be one
// rounding), keep SLEEF's u10 functions (1.0 ULP).
//
// Method: a = |x|; q = round(a 2/pi) by one FMA onto 1.5 * 2^23, whose low
// bits then hold q as an integer (the quadrant: no float-to-int conversion,
// which LLVM makes poison for NaN); r = a - q pi/2 with pi/2 = P1 + P2 + P3
// (floats): a - q P1 is exact by one FMA (q < 2^24 and |a - q P1| < 2, so
// it fits 24 bits), q P2 is taken off in one more FMA (one rounding), and
// q P3 stays apart as r's low part lo, which the odd polynomials add in.
//   sin r = r + (r S(r^2) + lo), S of degree 3
//   cos r = 1 + z C(z), z = r^2, C of degree 3 (C(0) = -1/2)
//   tan r = r + (r T(r^2) + lo), T of degree 7
// (tools/fit_vmath.py odd sin 3 0.7915, cos 3 0.7915, odd tan 7 0.7915).
// The quadrant n picks sin r or cos r (n odd: cos r for sin; cos takes
// n + 1) and the sign (n & 2); tan is -1 / tan r in odd quadrants. sin and
// tan take x's sign last (-0 stays -0). 2/pi as a float is 2.6e-8 off, so q
// may miss a·2/pi's nearest integer by a·2.6e-8: below |x| = 2^17 that keeps
// |r| <= pi/4 + 0.0053, inside the fitted 0.7915. Past 2^17 and for +-inf
// (NaN passes the fast path), SLEEF's function for the whole value, in a
// branch taken about never. Measured: tests/test_vmath.cpp, ACCURACY.md.
#include <llvm/IR/MDBuilder.h>

#include <cstdint>
#include <limits>
#include <numbers>

#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

namespace {

enum class Trig { Sin, Cos, Tan };

/// Where the fast path ends (see the top of this file).
constexpr double kTrigFastLimit = 131072;

llvm::Value* fused(const Ctx& k, llvm::Value* x, llvm::Value* y, llvm::Value* z) {
  return k.b.CreateIntrinsic(llvm::Intrinsic::fma, {k.vt}, {x, y, z});
}

llvm::Value* fast_path(const Ctx& k, llvm::Value* x, Trig fn) {
  const long double half_pi = std::numbers::pi_v<long double> / 2;
  const float p1 = float(half_pi), p2 = float(half_pi - p1), p3 = float(half_pi - p1 - p2);
  const double magic = 0x1.8p23;
  llvm::Value* a = k.abs(x);
  llvm::Value* qb = fused(k, a, k.c(float(2 / std::numbers::pi)), k.c(magic));
  llvm::Value* q = k.sub(qb, k.c(magic));
  llvm::Value* r = fused(k, k.b.CreateFNeg(q), k.c(p2), fused(k, k.b.CreateFNeg(q), k.c(p1), a));
  llvm::Value* lo = k.mul(q, k.c(-p3));
  llvm::Value* z = k.mul(r, r);
  llvm::Value* n = k.b.CreateBitCast(qb, k.int_vec());
  if (fn == Trig::Cos) n = k.b.CreateAdd(n, k.ci(1));
  llvm::Value* odd = k.b.CreateICmpNE(k.b.CreateAnd(n, k.ci(1)), k.ci(0));
  llvm::Value* v;
  if (fn == Trig::Tan) {
    llvm::Value* t =
        k.horner(z, {-8.719318600469705e-10, 0.3333335816860199, 0.1333247274160385, 0.054077789187431335,
                     0.021198974922299385, 0.011038708500564098, -0.0001582230324856937, 0.004495698492974043});
    t = k.add(k.fma(r, t, lo), r);
    v = k.select(odd, k.div(k.c(-1), t), t);
  } else {
    llvm::Value* s =
        k.horner(z, {-2.5213526821943333e-09, -0.16666650772094727, 0.008332012221217155, -0.0001949916040757671});
    s = k.add(k.fma(r, s, lo), r);
    llvm::Value* c = k.horner(z, {-0.5, 0.04166664183139801, -0.0013887148816138506, 2.441559081489686e-05});
    c = k.fma(z, c, k.c(1));
    v = k.select(odd, c, s);
  }
  // the sign: bit 1 of n for sin and cos (moved to the sign bit), x's for sin and tan
  llvm::Value* sign = nullptr;
  if (fn != Trig::Tan) sign = k.b.CreateShl(k.b.CreateAnd(n, k.ci(2)), k.ci(30));
  if (fn != Trig::Cos) {
    llvm::Value* xs = k.b.CreateAnd(k.b.CreateBitCast(x, k.int_vec()), k.ci(std::numeric_limits<int32_t>::min()));
    sign = sign ? k.b.CreateXor(sign, xs) : xs;
  }
  return k.b.CreateBitCast(k.b.CreateXor(k.b.CreateBitCast(v, k.int_vec()), sign), k.vt);
}

llvm::Value* trig(const Ctx& k, llvm::Value* x, Trig fn, Fallback slow) {
  if (k.f64 || !k.has_fma) return slow(k.b, x);
  llvm::Value* near = fast_path(k, x, fn);
  llvm::Value* far = k.b.CreateFCmpOGT(k.abs(x), k.c(kTrigFastLimit));
  llvm::BasicBlock* entry = k.b.GetInsertBlock();
  llvm::Function* f = entry->getParent();
  auto* far_bb = llvm::BasicBlock::Create(f->getContext(), "trig.far", f);
  auto* join = llvm::BasicBlock::Create(f->getContext(), "trig.join", f);
  k.b.CreateCondBr(k.b.CreateOrReduce(far), far_bb, join,
                   llvm::MDBuilder(f->getContext()).createBranchWeights(1, 1 << 20));
  k.b.SetInsertPoint(far_bb);
  llvm::Value* whole = slow(k.b, x);
  llvm::BasicBlock* far_end = k.b.GetInsertBlock();
  k.b.CreateBr(join);
  k.b.SetInsertPoint(join);
  llvm::PHINode* y = k.b.CreatePHI(k.vt, 2);
  y->addIncoming(near, entry);
  y->addIncoming(whole, far_end);
  return y;
}

}  // namespace

llvm::Value* sin(const Ctx& k, llvm::Value* x, Fallback slow) { return trig(k, x, Trig::Sin, slow); }
llvm::Value* cos(const Ctx& k, llvm::Value* x, Fallback slow) { return trig(k, x, Trig::Cos, slow); }
llvm::Value* tan(const Ctx& k, llvm::Value* x, Fallback slow) { return trig(k, x, Trig::Tan, slow); }

}  // namespace actjit::lower::vmath
