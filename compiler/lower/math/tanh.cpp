// tanh as vector IR: tanh|x| = u / (u + 2) with u = expm1(2|x|), accurate
// near 0 (expm1 is) and for large |x| (u's own error divides away). |x| is
// capped where tanh rounds to 1 (past 9.01 in float, 19.06 in double), so
// that expm1 needs neither clamps nor its form for large results: 2|x| is
// in [0, 39]. The sign comes back with copysign, so tanh(-0) = -0. NaN
// passes through.
#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

llvm::Value* tanh(const Ctx& k, llvm::Value* x) {
  llvm::Value* ax = k.capped_abs(x, k.f64 ? 19.5 : 9.25);
  llvm::Value* u = expm1_of_tanh(k, k.add(ax, ax));
  return k.copysign(k.div(u, k.add(u, k.c(2))), x);
}

}  // namespace actjit::lower::vmath
