#!/usr/bin/python3
"""Fits the polynomial of the inline float32 erfc (compiler/lower/math/erf.cpp).

For a >= 0, erfc(a) = exp(-a^2) erfcx(a), where the scaled complementary
error function erfcx(a) = exp(a^2) erfc(a) is smooth and bounded on
[0, inf) (erfcx(0) = 1, erfcx(a) ~ 1/(a sqrt(pi)) for large a). In
q = (a - 3) / (a + 3), which maps [0, inf) onto [-1, 1), it is analytic,
so a polynomial in q converges geometrically. The kernels cap a at 12.03
(erfc is 0 in float well before), so q stays in [-1, 0.67].

The fit: weighted least squares (relative error) on Chebyshev nodes of
[-1, 0.67], reference values from mpmath at 40 digits; the coefficients
are rounded to float one at a time, lowest first, the higher ones refitted
after each (so the rounding of the lower ones is absorbed). Prints the
coefficients (lowest degree first) and the worst relative error of the
float polynomial, evaluated exactly, on 2001 points. The centre 3 and
degree 10 were chosen by trying centres 1.5 to 4 and degrees 8 to 11.

With --normal, the polynomial of erfc(m / sqrt 2) for the normal
distribution (gelu), in q = (m - c) / (m + c) with m = |y| itself and
c = float(3 sqrt 2): the kernel then never rounds m / sqrt 2 (the rounding
of a costs up to 0.9 ULP at a = 9), and the map is exact for the float c
(m capped at 17).

With --table, the table of the AVX-512 float kernels' erfcx(m / sqrt 2)
(erf.cpp, kErfcxTable): 16 polynomials of DEGREE (default 7) in
t = m - k on m in [k - 1/2, k + 1/2) (k = 0: [0, 1/2)), k = round(m), so
the variable is exact (Sterbenz) and each lane picks its row with one
vpermps per coefficient. The constant term is a float pair (hi, lo), the
others floats, rounded one at a time with the rest refitted (relative
least squares on Chebyshev nodes, mpmath references). Prints the rows'
worst relative error (evaluated exactly) and the table as C++, one
coefficient per line, 16 rows each: hi, lo, c1, ..., cDEGREE.

With --log-table, log erfcx(m / sqrt 2) on the same rows (erf.cpp,
kLogErfcxTable: DEGREE default 5), fitted for absolute error, which is
what exp's argument takes: the float forward's erfc(m / sqrt 2) =
exp(-m^2 / 2 + log erfcx) is one exp, without erfcx's product.

With --table-f64, the same for the AVX-512 double kernels (erf.cpp,
kErfcxTable64): 16 rows of DEGREE (default 14), coefficients rounded to
double one at a time with the rest refitted, the constant term a double
pair; the fit in mpmath alone (least squares at 50 digits, relative
weights, on 2 (DEGREE + 1) Chebyshev nodes a row), as double precision
leaves no room for numpy's. Prints each row's worst relative error on 401
points (exact arithmetic) and the table as C++.

Dev-time only (apt-get install python3-numpy python3-mpmath; --table-f64
needs mpmath only); the coefficients are committed in erf.cpp.
(The float erf's polynomial below |x| = 1: tools/fit_vmath.py odd erf.)

Usage: fit_erfc.py [--normal] [DEGREE [CENTRE]] | fit_erfc.py --table [DEGREE]
       | fit_erfc.py --log-table [DEGREE] | fit_erfc.py --table-f64 [DEGREE].
"""
import sys

import mpmath

mpmath.mp.dps = 40


def erfcx_over_sqrt2(m):
    a = mpmath.mpf(m) / mpmath.sqrt(2)
    return mpmath.exp(a * a) * mpmath.erfc(a)


def print_table(degree, worst, rows):
    print("// degree %d, max relative error %.3g (coefficients as stored, exact arithmetic)" % (degree, float(worst)))
    for j in range(degree + 2):
        print("    {" + ", ".join(repr(r[j]) for r in rows) + "},")


def table_f64(degree):
    mpmath.mp.dps = 50
    h = erfcx_over_sqrt2
    rows, worst = [], 0
    nodes = 2 * (degree + 1)
    for k in range(16):
        lo, hi = max(k - mpmath.mpf(0.5), 0), k + mpmath.mpf(0.5)
        ts = [(lo + hi) / 2 - k + (hi - lo) / 2 * mpmath.cos(mpmath.pi * (i + mpmath.mpf(0.5)) / nodes)
              for i in range(nodes)]
        coeffs = []  # as stored: c0 = hi + lo, then doubles
        for j in range(degree + 1):
            free = degree + 1 - j
            A, b = mpmath.matrix(nodes, free), mpmath.matrix(nodes, 1)
            for r, t in enumerate(ts):
                w = 1 / h(k + t)
                for c in range(free):
                    A[r, c] = t ** (j + c) * w
                b[r] = (h(k + t) - sum(c * t**i for i, c in enumerate(coeffs))) * w
            c = mpmath.qr_solve(A, b)[0][0]
            if j == 0:
                c_hi = float(c)
                row = [c_hi, float(c - c_hi)]
                coeffs.append(mpmath.mpf(row[0]) + mpmath.mpf(row[1]))
            else:
                row.append(float(c))
                coeffs.append(mpmath.mpf(row[-1]))
        row_worst = 0
        for i in range(401):
            m = lo + (hi - lo) * mpmath.mpf(i) / 400
            t = m - k
            row_worst = max(row_worst, abs(sum(c * t**e for e, c in enumerate(coeffs)) / h(m) - 1))
        print("// row %d: max relative error %.3g" % (k, float(row_worst)))
        worst = max(worst, row_worst)
        rows.append(row)
    print_table(degree, worst, rows)


def run_mode(flag, fit, default_degree):
    """With `flag` among the arguments, fit(DEGREE) (the other argument, if any) and exit."""
    if flag in sys.argv[1:]:
        rest = [a for a in sys.argv[1:] if a != flag]
        fit(int(rest[0]) if rest else default_degree)
        sys.exit(0)


run_mode("--table-f64", table_f64, 14)

import numpy as np  # noqa: E402 (the float fits only)


def fit_rows(h, degree, relative):
    """16 rows of DEGREE in t = m - k on [k - 1/2, k + 1/2) (k = 0: [0, 1/2))
    fitted to h by least squares on Chebyshev nodes (relative or absolute
    error), the constant term a float pair, the others floats rounded one
    at a time with the rest refitted; returns the rows and the worst error
    of the stored coefficients (exact arithmetic, 201 points a row)."""
    def f32(v):
        return float(np.float32(v))

    rows, worst = [], 0
    for k in range(16):
        lo, hi = max(k - 0.5, 0.0), k + 0.5
        half = (hi - lo) / 2
        ms = [lo + half + half * float(mpmath.cos(mpmath.pi * (j + 0.5) / 120)) for j in range(120)] + [lo, hi]
        values = np.array([float(h(m)) for m in ms])
        scale = values if relative else np.ones(len(ms))  # relative: the errors over the values
        V = np.array([[(m - k) ** j for j in range(degree + 1)] for m in ms])
        coeffs = []
        for j in range(degree + 1):
            rest = values - (V[:, :j] @ np.array(coeffs) if j else 0)
            c, *_ = np.linalg.lstsq(V[:, j:] / scale[:, None], rest / scale, rcond=None)
            coeffs.append(float(c[0]) if j == 0 else f32(c[0]))
        c0_hi = f32(coeffs[0])
        row = [c0_hi, f32(coeffs[0] - c0_hi)] + coeffs[1:]
        for j in range(201):
            m = lo + (hi - lo) * j / 200
            t = mpmath.mpf(m) - k
            approx = mpmath.mpf(row[0]) + mpmath.mpf(row[1]) + sum(mpmath.mpf(c) * t**i for i, c in enumerate(row[2:], 1))
            worst = max(worst, abs(approx / h(m) - 1) if relative else abs(approx - h(m)))
        rows.append(row)
    return rows, worst


def table(degree):
    rows, worst = fit_rows(erfcx_over_sqrt2, degree, True)
    print_table(degree, worst, rows)


run_mode("--table", table, 7)


def log_table(degree):
    """log erfcx(m / sqrt 2) on the rows of --table, absolute error: the
    exponent of exp's argument takes it (erf.cpp, kLogErfcxTable)."""
    rows, worst = fit_rows(lambda m: mpmath.log(erfcx_over_sqrt2(m)), degree, False)
    print("// degree %d, max absolute error %.3g (coefficients as stored, exact arithmetic)" % (degree, float(worst)))
    for j in range(degree + 2):
        print("    {" + ", ".join(repr(r[j]) for r in rows) + "},")


run_mode("--log-table", log_table, 5)
args = [a for a in sys.argv[1:] if a != "--normal"]
normal = len(args) != len(sys.argv) - 1
degree = int(args[0]) if len(args) > 0 else 10
centre = float(args[1]) if len(args) > 1 else 3.0
if normal:
    # the variable m = sqrt(2) a, capped at 17; CENTRE is c itself (a float)
    centre = float(np.float32(args[1])) if len(args) > 1 else 4.25
    a_max = 17.0
else:
    a_max = 12.03
q_max = (a_max - centre) / (a_max + centre)


def erfcx_of_q(q):
    q = mpmath.mpf(q)
    a = mpmath.mpf(centre) * (1 + q) / (1 - q)
    if normal:
        a = a / mpmath.sqrt(2)
    return mpmath.exp(a * a) * mpmath.erfc(a)


half = (q_max + 1) / 2
nodes = [q_max - half + half * float(mpmath.cos(mpmath.pi * (k + 0.5) / 300)) for k in range(300)] + [-1.0, q_max]
values = np.array([float(erfcx_of_q(q)) for q in nodes])
V = np.array([[q**j for j in range(degree + 1)] for q in nodes])
coeffs = []
for j in range(degree + 1):
    rest = values - (V[:, :j] @ np.array(coeffs) if j else 0)
    c, *_ = np.linalg.lstsq(V[:, j:] / values[:, None], rest / values, rcond=None)
    coeffs.append(float(np.float32(c[0])))

worst = 0
for k in range(2001):
    q = -1 + (q_max + 1) * k / 2000
    approx = sum(mpmath.mpf(c) * mpmath.mpf(q) ** j for j, c in enumerate(coeffs))
    worst = max(worst, abs(approx / erfcx_of_q(q) - 1))
print("degree", degree, "centre", centre, "on [-1, %.4g]:" % q_max, "max relative error %.3g" % float(worst))
print(", ".join(repr(c) for c in coeffs))
