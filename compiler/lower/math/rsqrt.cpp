// 1 / sqrt(x) in float and double from AVX-512's estimate (see common.hpp).
#include "compiler/lower/math/common.hpp"

namespace actjit::lower::vmath {

llvm::Value* rsqrt(const Ctx& k, llvm::Value* x) {
  if (k.f64) {
    // vrsqrt14pd: relative error below 2^-14, so |e| < 2^-13 for e = 1 -
    // x r0^2, and 1 / sqrt(x) = r0 (1 - e)^(-1/2) = r0 (1 + e/2 + 3e^2/8 +
    // 5e^3/16 + ...): the series to e^3 leaves 35e^4/128 < 2^-53.8 times
    // 2^-4, below 0.02 ULP. x r0's rounding would reach e as 2^-53, the
    // result as half an ULP: a second FMA takes it into e (x / sqrt(x^2 +
    // 1) 2.04 -> 1.71 ULP measured); the last fused step rounds once: about
    // 1 ULP in all (one step of a higher order instead of two of Newton's).
    llvm::Value* r0 = per_register(k.b, {x}, 8, [&](const std::vector<llvm::Value*>& part) -> llvm::Value* {
      return k.b.CreateIntrinsic(llvm::Intrinsic::x86_avx512_rsqrt14_pd_512, {},
                                 {part[0], llvm::Constant::getNullValue(part[0]->getType()), k.b.getInt8(-1)});
    });
    llvm::Value* h = k.mul(x, r0);
    llvm::Value* e = k.fma(k.b.CreateFNeg(h), r0, k.c(1));
    e = k.fma(k.b.CreateFNeg(k.fma(x, r0, k.b.CreateFNeg(h))), r0, e);  // h's rounding error too
    return k.fma(k.mul(r0, e), k.horner(e, {0.5, 0.375, 0.3125}), r0);
  }
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
