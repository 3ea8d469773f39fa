#!/usr/bin/python3
"""Prints the coefficients of x - tanh(x) for |x| < 1 (compiler/ir/tanhshrink.hpp).

x - tanh(x) cancels for small |x| (its value is x^3/3 + ...). Lambert's
continued fraction tanh x = x / (1 + z / (3 + z / (5 + ...))), z = x^2, cut
at depth D, is a rational x P(z) / Q(z) whose coefficients are all
positive; then x - tanh x = x (Q - P)(z) / Q(z) = x^3 R(z) / Q(z) with
Q - P = z R(z) computed exactly (fractions). R(0) = 1/3 and Q(0) = 1, so
R / Q = 1/3 - z S(z) / Q(z) with S = (Q / 3 - R) / z, again all positive:

    x - tanh x = t / 3 - (t z) S(z) / Q(z),   t = x^3,

whose second term is at most 0.4 of the first for |x| < 1. In float this
form rounds less than t R / Q (the leading x^3/3 takes three roundings and
the correction's error is damped): 3.3 ULP over all floats of |x| < 1
against 4.6 for x^3 R / Q with the same D. For |x| >= 1 the form is
sign(x) ((|x| - 1) + 2 e / (1 + e)), e = exp(-2|x|) (that is x - tanh x,
with 1 - tanh|x| = 2e / (1 + e)): |x| - 1 is exact and the other term is
at most the result, so nothing cancels.

Prints the relative error of S / Q's form against mpmath (50 digits) over
|x| < LIMIT with the coefficients rounded to double, and the coefficients
as compiler/ir/tanhshrink.hpp declares them (its scalar form and the
float64 kernels use them; float32 kernels use a half-angle form instead,
tools/fit_vmath.py tanhshrink_half).

usage: gen_tanhshrink.py [DEPTH=8] [LIMIT=1]
Dev-time only (apt-get install python3-mpmath).
"""
import sys
from fractions import Fraction

import mpmath

mpmath.mp.dps = 50


def add(a, b):
    n = max(len(a), len(b))
    return [(a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(n)]


def tanh_rational(depth):
    """P, Q (polynomials in z, lowest degree first) with tanh x = x P(z) / Q(z)."""
    num, den = [Fraction(2 * depth + 1)], [Fraction(1)]  # the tail (2d+1), as num/den
    for k in range(depth - 1, -1, -1):
        # (2k + 1) + z / (num / den) = ((2k + 1) num + z den) / num
        num, den = add([c * (2 * k + 1) for c in num], [Fraction(0)] + den), num
    return den, num  # tanh x = x / (num / den)


def horner(coeffs):
    text = repr(float(coeffs[-1]))
    for c in reversed(coeffs[:-1]):
        text = "%r + x * x * (%s)" % (float(c), text)
    return text


def main():
    depth = int(sys.argv[1]) if len(sys.argv) > 1 else 8
    limit = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    P, Q = tanh_rational(depth)
    diff = add(Q, [-c for c in P])
    assert diff[0] == 0
    R = diff[1:]
    R = [c / Q[0] for c in R]
    Q = [c / Q[0] for c in Q]
    assert R[0] == Fraction(1, 3) and Q[0] == 1
    S = [Q[i + 1] / 3 - (R[i + 1] if i + 1 < len(R) else 0) for i in range(len(Q) - 1)]
    assert all(c > 0 for c in R + Q + S)
    worst = 0
    for i in range(1, 4001):
        x = mpmath.mpf(limit) * i / 4000
        z = x * x
        s_val = sum(mpmath.mpf(float(c)) * z ** j for j, c in enumerate(S))
        q_val = sum(mpmath.mpf(float(c)) * z ** j for j, c in enumerate(Q))
        value = x * z * (mpmath.mpf(1) / 3 - z * s_val / q_val)
        worst = max(worst, abs(value / (x - mpmath.tanh(x)) - 1))
    print("# depth %d, |x| < %g: relative error %.3g" % (depth, limit, float(worst)))
    print("inline constexpr double kS[] = {%s};" % ", ".join(repr(float(c)) for c in S))
    print("inline constexpr double kQ[] = {%s};" % ", ".join(repr(float(c)) for c in Q))
    print("inline constexpr double kSmall = %r;" % limit)


if __name__ == "__main__":
    main()
