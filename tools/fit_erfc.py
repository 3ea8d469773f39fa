#!/usr/bin/python3
"""Fits the polynomial of the inline float32 erfc (compiler/lower/math/erf.cpp).

For a >= 0, erfc(a) = exp(-a^2) * 4 h(a) / (a + 2), where
h(a) = (a + 2) exp(a^2) erfc(a) / 4 is smooth and bounded on [0, inf):
h(0) = 1/2, h(inf) = 1/(4 sqrt(pi)). In q = (a - 2) / (a + 2), which maps
[0, inf) onto [-1, 1), h is analytic on [-1, 1], so a polynomial in q
converges geometrically; and 1/(a + 2) serves q and the result (one
division). This fits it by weighted least squares (relative error) on
Chebyshev nodes, reference values from mpmath at 50 digits, and prints the
coefficients (lowest degree first) and the fit's relative error.

Dev-time only (apt-get install python3-numpy python3-mpmath); the
coefficients are committed in erf.cpp.
"""
import sys

import mpmath
import numpy as np

mpmath.mp.dps = 50
degree = int(sys.argv[1]) if len(sys.argv) > 1 else 12


def h_of_q(q):
    q = mpmath.mpf(q)
    if q == 1:
        return 1 / (4 * mpmath.sqrt(mpmath.pi))
    a = 2 * (1 + q) / (1 - q)
    return (a + 2) * mpmath.exp(a * a) * mpmath.erfc(a) / 4


nodes = [float(mpmath.cos(mpmath.pi * (k + 0.5) / 400)) for k in range(400)] + [-1.0, 1.0]
values = [h_of_q(q) for q in nodes]
A = np.array([[q ** j for j in range(degree + 1)] for q in nodes]) / np.array([float(v) for v in values])[:, None]
coeffs, *_ = np.linalg.lstsq(A, np.ones(len(nodes)), rcond=None)

worst = 0
for k in range(4001):
    q = -1 + 2 * k / 4000
    exact = h_of_q(q)
    approx = sum(mpmath.mpf(float(c)) * mpmath.mpf(q) ** j for j, c in enumerate(coeffs))
    worst = max(worst, abs(approx / exact - 1))
print("degree", degree, "max relative error", float(worst))
for c in coeffs:
    print(repr(float(c)) + ",")
