#!/usr/bin/python3
"""Chebyshev coefficients for the stability rewrites' series (compiler/simplify/stabilize.cpp).

  fit_series.py FUNCTION [N [LO HI]]
                             FUNCTION on [LO, HI] (default [0.5, 1.5]) in
                             u = (a - (HI + LO)/2) / ((HI - LO)/2), sum c_k T_k(u) with N
                             terms (default 30), evaluated by Clenshaw's recurrence
  fit_series.py taylor FUNCTION N CENTER [LO HI]
                             FUNCTION's Taylor series at CENTER, N terms, in a - CENTER
                             (evaluated by Horner's rule), checked on [LO, HI]
                             (default [0.5, 1.5])
  fit_series.py poly FUNCTION N LO HI
                             a polynomial of N terms in a itself on [LO, HI] (mpmath's
                             chebyfit: Chebyshev interpolation, near minimax),
                             evaluated by Horner's rule
  FUNCTION: atan_minus       (a - atan(a)) / a^3
            asinh_minus      (a - asinh(a)) / a^3
            tan_minus_sq     (tan(s) - s) / s^3 for s = sqrt(a) (tan(s) - s = s^3 P(s^2))
            asinh_quotient   asinh(a) / a

Interpolation at N Chebyshev nodes with 50-digit references (mpmath), or
mpmath's Taylor coefficients; prints the coefficients to 17 significant
digits and the largest relative error of the truncated sum (in double, at
2001 points) against the reference.

Dev-time only (apt-get install python3-mpmath); the coefficients are
committed in the C++ sources.
"""
import sys
import mpmath as mp

mp.mp.dps = 50


def chebyshev(f, lo, hi, n):
    nodes = [mp.cos(mp.pi * (j + mp.mpf(1) / 2) / n) for j in range(n)]
    values = [f((hi - lo) / 2 * x + (hi + lo) / 2) for x in nodes]
    c = []
    for k in range(n):
        s = mp.fsum(values[j] * mp.cos(mp.pi * k * (j + mp.mpf(1) / 2) / n) for j in range(n))
        c.append(s * (1 if k else mp.mpf(1) / 2) * 2 / n)
    return c


def clenshaw(c, u):
    b1 = b2 = 0.0
    for ck in reversed(c[1:]):
        b1, b2 = ck + 2 * u * b1 - b2, b1
    return c[0] + u * b1 - b2


def report_horner(f, c, center, lo, hi):
    """Prints the coefficients c (lowest first, in a - center) and the
    largest relative error of their sum by Horner's rule in double against
    f at 2001 points of [lo, hi]."""
    worst = 0
    for i in range(2001):
        a = lo + (hi - lo) * i / 2000
        d, p = float(a - center), 0.0
        for ck in reversed(c):
            p = p * d + ck
        worst = max(worst, abs((p - f(a)) / f(a)))
    print("coefficients:", ", ".join("%.17g" % x for x in c))
    print("max relative error (double Horner): %.3g" % worst)


def main():
    functions = {
        "atan_minus": lambda a: (a - mp.atan(a)) / a**3,
        "asinh_minus": lambda a: (a - mp.asinh(a)) / a**3,
        "tan_minus_sq": lambda a: mp.mpf(1) / 3 if a == 0 else (mp.tan(mp.sqrt(a)) - mp.sqrt(a)) / mp.sqrt(a)**3,
        "asinh_quotient": lambda a: mp.asinh(a) / a,
    }
    if len(sys.argv) > 1 and sys.argv[1] == "poly":
        if len(sys.argv) < 6 or sys.argv[2] not in functions:
            sys.exit("usage: fit_series.py poly FUNCTION N LO HI")
        f = functions[sys.argv[2]]
        n, lo, hi = int(sys.argv[3]), mp.mpf(sys.argv[4]), mp.mpf(sys.argv[5])
        report_horner(f, [float(x) for x in reversed(mp.chebyfit(f, [lo, hi], n))], 0, lo, hi)
        return
    if len(sys.argv) > 1 and sys.argv[1] == "taylor":
        if len(sys.argv) < 5 or sys.argv[2] not in functions:
            sys.exit("usage: fit_series.py taylor FUNCTION N CENTER [LO HI]")
        f = functions[sys.argv[2]]
        n, center = int(sys.argv[3]), mp.mpf(sys.argv[4])
        lo = mp.mpf(sys.argv[5]) if len(sys.argv) > 5 else mp.mpf("0.5")
        hi = mp.mpf(sys.argv[6]) if len(sys.argv) > 6 else mp.mpf("1.5")
        report_horner(f, [float(x) for x in mp.taylor(f, center, n - 1)], center, lo, hi)
        return
    what = sys.argv[1] if len(sys.argv) > 1 else "atan_minus"
    if what not in functions:
        sys.exit("usage: fit_series.py FUNCTION [N [LO HI]] (FUNCTION: " + ", ".join(functions) + ")")
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    lo = mp.mpf(sys.argv[3]) if len(sys.argv) > 3 else mp.mpf("0.5")
    hi = mp.mpf(sys.argv[4]) if len(sys.argv) > 4 else mp.mpf("1.5")
    f = functions[what]
    c = chebyshev(f, lo, hi, n)
    c = [float(x) for x in c]
    worst = 0
    for i in range(2001):
        a = lo + (hi - lo) * i / 2000
        u = float((a - (hi + lo) / 2) / ((hi - lo) / 2))
        worst = max(worst, abs((clenshaw(c, u) - f(a)) / f(a)))
    print("coefficients:", ", ".join("%.17g" % x for x in c))
    print("max relative error (double Clenshaw): %.3g" % worst)


main()
