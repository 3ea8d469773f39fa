#!/usr/bin/python3
"""Prints the catalogue's tanhshrink definition (runtime/catalogue/catalogue.act).

x - tanh(x) cancels for small |x| (its value is x^3/3 + ...). Lambert's
continued fraction tanh x = x / (1 + z / (3 + z / (5 + ...))), z = x^2, cut
at depth D, is a rational x P(z) / Q(z) whose coefficients are all
positive; then x - tanh x = x (Q - P)(z) / Q(z) = x^3 R(z) / Q(z) with
Q - P = z R(z) computed exactly (fractions), and R's coefficients are
positive too: no cancellation anywhere. Prints the relative error against
mpmath (50 digits) over |x| < LIMIT with the coefficients rounded to double,
and the definition.

usage: gen_tanhshrink.py [DEPTH=12] [LIMIT=2]
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
    depth = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    limit = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    P, Q = tanh_rational(depth)
    diff = add(Q, [-c for c in P])
    assert diff[0] == 0
    R = diff[1:]
    R = [c / Q[0] for c in R]
    Q = [c / Q[0] for c in Q]
    assert all(c > 0 for c in R + Q)
    worst = 0
    for i in range(1, 4001):
        x = mpmath.mpf(limit) * i / 4000
        z = x * x
        value = x * z * sum(mpmath.mpf(float(c)) * z ** j for j, c in enumerate(R)) / sum(
            mpmath.mpf(float(c)) * z ** j for j, c in enumerate(Q))
        worst = max(worst, abs(value / (x - mpmath.tanh(x)) - 1))
    print("# depth %d, |x| < %g: relative error %.3g" % (depth, limit, float(worst)))
    print("tanhshrink(x) = where(abs(x) < %g, x * (x * x * (%s)) / (%s), x - tanh(x))" % (limit, horner(R), horner(Q)))


if __name__ == "__main__":
    main()
