// 1 / sqrt(x) in float from AVX-512's estimate (see common.hpp).
#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

llvm::Value* rsqrt(const Ctx& k, llvm::Value* x) {
  // vrsqrt14: relative error below 2^-14. One Newton step r0 + r0 e / 2,
  // e = 1 - x r0^2: the step's own error is 1.5 (2^-14)^2, below 0.1 ULP;
  // what is left is the rounding of x r0 (e to 2^-24, half an ULP of the
  // result) and of the last step: about 1 ULP in all.
  llvm::Value* r0 = per_register(k.b, {x}, 16, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
    return k.b.CreateIntrinsic(llvm::Intrinsic::x86_avx512_rsqrt14_ps_512, {},
                               {part[0], llvm::Constant::getNullValue(part[0]->getType()), k.b.getInt16(-1)});
  });
  llvm::Value* e = k.fma(k.b.CreateFNeg(k.mul(x, r0)), r0, k.c(1));
  return k.fma(e, k.mul(r0, k.c(0.5)), r0);
}

}  // namespace actjit::lower::vmath
