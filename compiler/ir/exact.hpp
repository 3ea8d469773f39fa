// Error-free sums of doubles (hi + lo), shared by constant folding
// (simplify.cpp's double-doubles) and the scalar evaluator (exp's argument).
#pragma once

namespace actjit::ir {

/// A value as hi + lo, |lo| <= half an ULP of hi.
struct Exact {
  double hi, lo;
};

/// a + b exactly, for |a| >= |b| or a = 0.
inline Exact quick_two_sum(double a, double b) {
  double s = a + b;
  return {s, b - (s - a)};
}

/// a + b exactly, with no condition on the magnitudes (six additions).
inline Exact two_sum(double a, double b) {
  double s = a + b, v = s - a;
  return {s, (a - (s - v)) + (b - v)};
}

}  // namespace actjit::ir
