// tanh as vector IR: tanh|x| = u / (u + 2) with u = expm1(2|x|), accurate
// near 0 (expm1 is) and saturating to 1 without overflow (|x| is capped at 20,
// where tanh is 1 in double); the sign comes back with copysign, so
// tanh(-0) = -0. NaN passes through.
#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

llvm::Value* tanh(const Ctx& k, llvm::Value* x) {
  llvm::Value* ax = k.abs(x);
  ax = k.select(k.b.CreateFCmpOGT(ax, k.c(20)), k.c(20), ax);
  llvm::Value* u = expm1(k, k.add(ax, ax));
  return k.copysign(k.div(u, k.add(u, k.c(2))), x);
}

}  // namespace actjit::lower::vmath
