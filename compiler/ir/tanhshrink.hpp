// x - tanh(x) in double without the cancellation of the difference: the
// scalar form of Op::TanhShrink (the evaluator, range analysis) and the
// coefficients its float64 kernels share (compiler/lower/math/tanh.cpp).
//
// For |x| < 1, where the difference cancels (its value is x^3/3 near 0):
// t/3 - (t z) S(z)/Q(z), t = x^3, z = x^2, from Lambert's continued
// fraction tanh x = x / (1 + z / (3 + z / (5 + ...))) cut at depth 8: all
// coefficients positive, the correction at most 0.4 of t/3, within 8e-17
// relative (tools/gen_tanhshrink.py prints them). For |x| >= 1,
// (|x| - 1) + 2e/(1 + e), e = exp(-2|x|): |x| - 1 is exact and the other
// term is 1 - tanh|x|, so nothing cancels. The sign comes back last.
#pragma once

#include <cmath>

namespace actjit::ir::tanhshrink_form {

/// S(z), lowest degree first.
inline constexpr double kS[] = {0.13333333333333333, 0.008776844070961718, 0.00013279385828405437,
                                4.3529455294161177e-07};
/// Q(z), lowest degree first (Q(0) = 1).
inline constexpr double kQ[] = {1.0, 0.47058823529411764, 0.027450980392156862, 0.00040221216691804925,
                                1.3058836588248353e-06};
/// The rational's range: |x| below it.
inline constexpr double kSmall = 1.0;

template <class T, size_t N>
T horner(const double (&c)[N], T z) {
  T r = c[N - 1];
  for (size_t i = N - 1; i-- > 0;) r = r * z + T(c[i]);
  return r;
}

/// x - tanh(x), within a few ULP of T everywhere (the rational's own
/// error, 8e-17 relative, bounds long double); NaN passes through.
template <class T>
T value(T x) {
  T ax = std::fabs(x);
  T r;
  if (ax < T(kSmall)) {
    T z = ax * ax, t = ax * z;
    r = t / 3 - (t * z) * horner(kS, z) / horner(kQ, z);
  } else {
    T e = std::exp(-2 * ax);
    r = (ax - 1) + 2 * e / (1 + e);
  }
  return std::copysign(r, x);
}

}  // namespace actjit::ir::tanhshrink_form
