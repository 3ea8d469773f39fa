#!/usr/bin/python3
"""Fits the float32 exp polynomial of the inline exp (compiler/lower/math/exp.cpp).

After the reduction x = n ln2 + r, |r| <= ln2/2, exp(r) is taken as
1 + r + r^2 Q(r) with Q of degree 4 (a degree-6 polynomial evaluated by
Horner's rule, 6 FMAs: two fewer operations than the Taylor form of degree
7 it replaces at the same accuracy). Q is fitted to minimise the relative
error of exp(r), by least squares on Chebyshev nodes refined with Lawson's
iteration towards the minimax fit, at 50 digits (mpmath). Prints the
coefficients of Q (lowest degree first) as float32 values, and the fit's
relative error in float32 ULP (2^-24).

Dev-time only (apt-get install python3-numpy python3-mpmath); the
coefficients are committed in exp.cpp.
"""
import mpmath
import numpy as np

mpmath.mp.dps = 50
half_ln2 = float(mpmath.log(2) / 2)
degree = 4
nodes = [half_ln2 * float(mpmath.cos(mpmath.pi * (k + 0.5) / 600)) for k in range(600)] + [-half_ln2, half_ln2]
# Target for Q: (exp(r) - 1 - r) / r^2, weighted so that the residual is the
# relative error of exp(r): r^2 (Q - q_true) / exp(r).
target = []
weight = []
for r in nodes:
    mr = mpmath.mpf(r)
    target.append(float((mpmath.exp(mr) - 1 - mr) / (mr * mr)) if r != 0 else 0.5)
    weight.append(float(mr * mr / mpmath.exp(mr)))
target = np.array(target)
weight = np.array(weight)
V = np.array([[r ** j for j in range(degree + 1)] for r in nodes])
lawson = np.ones(len(nodes))
for _ in range(200):
    w = weight * np.sqrt(lawson)
    coeffs, *_ = np.linalg.lstsq(V * w[:, None], target * w, rcond=None)
    err = np.abs((V @ coeffs - target) * weight)
    lawson *= err / max(err.sum(), 1e-300) * len(nodes)
    lawson /= lawson.sum()
coeffs32 = [float(np.float32(c)) for c in coeffs]
worst = 0
for k in range(20001):
    r = mpmath.mpf(-half_ln2 + 2 * half_ln2 * k / 20000)
    q = sum(mpmath.mpf(c) * r ** j for j, c in enumerate(coeffs32))
    worst = max(worst, abs((1 + r + r * r * q) / mpmath.exp(r) - 1))
print("Q coefficients (float32):", ", ".join(repr(c) for c in coeffs32))
print("relative error of the fit: %.3g (%.3f float ULP)" % (float(worst), float(worst) * 2 ** 24))
