#!/usr/bin/python3
"""Fits the float32 polynomials of the inline vector math (compiler/lower/math/).

  fit_vmath.py exp         exp(r) = 1 + r + r^2 Q(r), |r| <= ln2/2, Q of degree 4
                           (exp.cpp: a degree-6 polynomial by Horner's rule, 6 FMAs)
  fit_vmath.py exp_table   exp(r) = 1 + r + r^2 Q(r), |r| <= ln2/32, Q of degree 1 (exp.cpp:
                           the AVX-512 float form, 2^(j/16) from a 16-entry table)
  fit_vmath.py tanh_half   tanh(x/2) = x/2 + x z P(z)/Q(z), z = x^2, x in [0, 9.02],
                           P and Q of degree 2, Q(0) = 1 (tanh.cpp: tanh x = 2t / (1 + t^2)
                           of t = tanh(x/2); the error of t weighted by how much of it
                           reaches tanh x)
  fit_vmath.py tanhshrink_half [M N]
                           the same P/Q (degrees M, N; default 2, 2) weighted by how much
                           of its error reaches x - tanh x = c (k / (4 + s^2) - R) (tanh.cpp)
  fit_vmath.py log1p_unit  log1p(t) = 2s + s z P(z), s = t / (2 + t), z = s^2,
                           t in [0, 1] (z in [0, 1/9]), P of degree 3 (log.cpp)
  fit_vmath.py softplus_table
                           log1p(exp(-a)) for a in [0, 15.5 h] (h = 16.64 / 15.5 as a float):
                           16 rows j of degree 6 in r = a - j h (log.cpp log1p_exp: the
                           coefficients by vpermps from the low bits of a / h + 1.5 * 2^23);
                           also reports the float32 evaluation over a dense grid
  fit_vmath.py exp_f64 [DEGREE]
                           float64: expm1(r) = r + r^2 T(r), |r| <= ln2/2, T of degree 9
                           (default), fitted to expm1's relative error (which bounds exp's,
                           1 + expm1(r)); coefficients rounded to double one at a time,
                           lowest first, the higher ones refitted (mpmath alone)
  fit_vmath.py exp_table_f64 [DEGREE]
                           float64: exp(r) = 1 + r + r^2 Q(r), |r| <= ln2/32, Q of degree
                           4 (default; exp.cpp's table form on AVX-512: 0.12 ULP),
                           coefficients rounded to double one at a time (mpmath alone)
  fit_vmath.py odd FUNCTION DEGREE XMAX
                           g(x) = x + x Q(x^2), |x| <= XMAX, for FUNCTION erf (erf.cpp,
                           below 1, degree 6), asinh (log.cpp, below 3/4, degree 7),
                           sinh (exp.cpp, below 1, degree 4), atan (atan.cpp, below
                           tan(pi/8) = 0.41421357, degree 5), sin (sincos.cpp, degree 3)
                           or tan (sincos.cpp, degree 7; both below 0.7915, pi/4 and
                           the reduction's margin):
                           Q(0) a float of g'(0) - 1; mpmath alone
  fit_vmath.py cos DEGREE XMAX
                           cos(x) = 1 + z C(z), z = x^2, |x| <= XMAX, C(0) = -1/2
                           (sincos.cpp: degree 3 below 0.7915); mpmath alone
  fit_vmath.py log_table     log x = k ln2 + log c_j + log1p(r) on AVX-512 (log.cpp log_table):
                           x = 2^k m, m in [3/4, 3/2) (vgetmant), rows c_j = 1 + (j - 5)/21,
                           j = 0..15 (row 5 is c = 1), r = m / c_j - 1 by one FMA with
                           1/c_j rounded; prints the rows (1/c_j, -log(1/c_j) as hi + lo,
                           hi a multiple of 2^-17 in float and 2^-32 in double, as ln2's
                           high part is) and
                           log1p(r) = r + r^2 Q(r), Q of degree 3 (float) and 7 (double)
                           fitted to log1p's relative error over the rows' r (mpmath alone)
  fit_vmath.py log1p_unit_f64 [DEGREE]
                           the same for float64 kernels, P of degree 9 (default), its
                           coefficients rounded to double one at a time, lowest first,
                           the higher ones refitted (mpmath alone: double precision
                           leaves no room for numpy's arithmetic)

Each fit minimises the relative error of the function (not of the
polynomial): weighted least squares on Chebyshev nodes, refined by Lawson's
iteration towards the minimax fit, references at 50 digits (mpmath). Prints
the coefficients (lowest degree first) rounded to float32, and the relative
error of the fit with those rounded coefficients, in float32 ULP (2^-24).

The rational fits (tanh_half, tanhshrink_half) linearise P - f Q = 0 with weights 1/Q of the
previous step (Loeffler's iteration) inside Lawson's, and rounds the
coefficients to float32 one at a time, highest degree first, refitting the
others after each.

Dev-time only (apt-get install python3-numpy python3-mpmath); the
coefficients are committed in the C++ sources.
"""
import sys

import mpmath

mpmath.mp.dps = 50


def sequential_fit(nodes, degree, target, weight, rounding=float):
    """Coefficients (lowest first) of a polynomial of `degree` minimising the
    weighted least-squares error against target on `nodes`, each rounded by
    `rounding` (to double by default, or a float32 rounding) in turn with
    the higher ones refitted to what is left."""
    coeffs = []
    for j in range(degree + 1):
        free = degree + 1 - j
        A, b = mpmath.matrix(len(nodes), free), mpmath.matrix(len(nodes), 1)
        for r, u in enumerate(nodes):
            w = weight(u)
            for c in range(free):
                A[r, c] = u ** (j + c) * w
            b[r] = (target(u) - sum(c * u**i for i, c in enumerate(coeffs))) * w
        coeffs.append(mpmath.mpf(rounding(mpmath.qr_solve(A, b)[0][0])))
    return coeffs


def sequential_fit_f64(nodes, degree, target, weight):
    return sequential_fit(nodes, degree, target, weight)


def fit_log_table():
    import struct

    def f32(v):
        return struct.unpack("f", struct.pack("f", float(v)))[0]

    rows = 16
    centres = [1 + mpmath.mpf(j - 5) / 21 for j in range(rows)]
    edges = [(max(mpmath.mpf(0.75), c - mpmath.mpf(1) / 42), min(mpmath.mpf(1.5), c + mpmath.mpf(1) / 42)) for c in centres]
    for name, rounding, degree, ulp in (("float", f32, 3, mpmath.mpf(2) ** -24), ("double", float, 7, mpmath.mpf(2) ** -53)):
        invc = [mpmath.mpf(rounding(1 / c)) for c in centres]
        r_lo = min(lo * ic - 1 for (lo, hi), ic in zip(edges, invc))
        r_hi = max(hi * ic - 1 for (lo, hi), ic in zip(edges, invc))
        n = 6 * (degree + 1)
        mid, half = (r_lo + r_hi) / 2, (r_hi - r_lo) / 2
        rs = [mid + half * mpmath.cos(mpmath.pi * (i + mpmath.mpf(0.5)) / n) for i in range(n)] + [r_lo, r_hi]
        q = sequential_fit(rs, degree, lambda r: (mpmath.log1p(r) - r) / r**2,
                           lambda r: r * r / abs(mpmath.log1p(r)), rounding)
        worst = 0
        for i in range(4001):
            r = r_lo + (r_hi - r_lo) * i / 4000
            if r:
                worst = max(worst, abs((r + r * r * poly(q, r)) / mpmath.log1p(r) - 1))
        print("// %s: r in [%.6f, %.6f]; log1p(r) = r + r^2 Q(r) within %.3g ULP (exact arithmetic)"
              % (name, float(r_lo), float(r_hi), float(worst / ulp)))
        print("Q:", ", ".join(repr(rounding(c)) for c in q))
        print("1/c:", ", ".join(repr(rounding(v)) for v in invc))
        logc = [-mpmath.log(v) for v in invc]
        grid = 2**17 if name == "float" else 2**32  # ln2_hi's: k ln2_hi + hi exact
        hi = [mpmath.nint(v * grid) / grid for v in logc]
        print("log c hi:", ", ".join(repr(rounding(v)) for v in hi))
        print("log c lo:", ", ".join(repr(rounding(v - h)) for v, h in zip(logc, hi)))


def fit_exp_f64(degree=9):
    a = mpmath.log(2) / 2 * mpmath.mpf(1.0001)
    n = 4 * (degree + 1)
    rs = [a * mpmath.cos(mpmath.pi * (i + mpmath.mpf(0.5)) / n) for i in range(n)] + [a, -a]
    coeffs = sequential_fit_f64(rs, degree, lambda r: (mpmath.expm1(r) - r) / r**2,
                                lambda r: r * r / abs(mpmath.expm1(r)))
    worst_exp = worst_expm1 = 0
    for i in range(-2000, 2001):
        if i:
            r = a * i / 2000
            em1 = r + r * r * poly(coeffs, r)
            worst_exp = max(worst_exp, abs((1 + em1) / mpmath.exp(r) - 1))
            worst_expm1 = max(worst_expm1, abs(em1 / mpmath.expm1(r) - 1))
    print("T (float64, lowest degree first):", ", ".join(repr(float(c)) for c in coeffs))
    print("relative error with those coefficients: expm1 %.3g, exp %.3g" % (worst_expm1, worst_exp))


def fit_exp_table_f64(degree=4):
    """exp(r) = 1 + r + r^2 Q(r) for |r| <= ln2/32 (exp.cpp's table form in
    double: 2^(j/16) from two registers), Q fitted to exp's relative error."""
    a = mpmath.log(2) / 32 * mpmath.mpf(1.001)
    n = 6 * (degree + 1)
    rs = [a * mpmath.cos(mpmath.pi * (i + mpmath.mpf(0.5)) / n) for i in range(n)] + [a, -a]
    q = sequential_fit_f64(rs, degree, lambda r: (mpmath.exp(r) - 1 - r) / r**2, lambda r: r * r / mpmath.exp(r))
    worst = 0
    for i in range(-2000, 2001):
        if i:
            r = a * i / 2000
            worst = max(worst, abs((1 + r + r * r * poly(q, r)) / mpmath.exp(r) - 1))
    print("Q (float64, lowest degree first):", ", ".join(repr(float(c)) for c in q))
    print("relative error of 1 + r + r^2 Q(r): %.3g (%.3g double ULP)" % (worst, worst * 2**53))


def fit_log1p_unit_f64(degree=9):
    z_max = mpmath.mpf(1) / 9

    def target(z):  # P(z) = (2 atanh(s) / s - 2) / z, s = sqrt(z)
        s = mpmath.sqrt(z)
        return (2 * mpmath.atanh(s) / s - 2) / z

    nodes = 3 * (degree + 1)
    zs = [z_max / 2 + z_max / 2 * mpmath.cos(mpmath.pi * (i + mpmath.mpf(0.5)) / nodes) for i in range(nodes)] + [z_max]
    # P's error reaches log1p(t) = 2 atanh(s) times z / (2 + z P)
    coeffs = sequential_fit_f64(zs, degree, target, lambda z: z / (2 + z * target(z)))
    worst = 0
    for i in range(1, 2001):
        z = z_max * i / 2000
        s = mpmath.sqrt(z)
        worst = max(worst, abs((2 * s + s * z * poly(coeffs, z)) / (2 * mpmath.atanh(s)) - 1))
    print("P (float64, lowest degree first):", ", ".join(repr(float(c)) for c in coeffs))
    print("relative error of 2s + s z P(z) with those coefficients: %.3g (%.3g double ULP)" % (worst, worst * 2**53))


def fit(lo, hi, degree, target, weight):
    """Polynomial c (degree `degree`) minimising max |weight(u) (c(u) - target(u))|
    over [lo, hi]; target and weight take and return mpf."""
    nodes = [(lo + hi) / 2 + (hi - lo) / 2 * float(mpmath.cos(mpmath.pi * (k + 0.5) / 600)) for k in range(600)]
    nodes += [lo, hi]
    t = np.array([float(target(mpmath.mpf(u))) for u in nodes])
    w = np.array([float(weight(mpmath.mpf(u))) for u in nodes])
    V = np.array([[u ** j for j in range(degree + 1)] for u in nodes])
    lawson = np.ones(len(nodes)) / len(nodes)
    for _ in range(300):
        sw = w * np.sqrt(lawson)
        c, *_ = np.linalg.lstsq(V * sw[:, None], t * sw, rcond=None)
        err = np.abs((V @ c - t) * w)
        lawson *= err
        lawson /= lawson.sum()
    c32 = [float(np.float32(x)) for x in c]
    return c32


def report(c32, lo, hi, rel_error):
    worst = 0
    for k in range(20001):
        u = mpmath.mpf(lo) + (mpmath.mpf(hi) - lo) * k / 20000
        worst = max(worst, rel_error(u, c32))
    print("coefficients (float32, lowest degree first):", ", ".join(repr(x) for x in c32))
    print("relative error of the fit: %.3g (%.3f float ULP)" % (float(worst), float(worst) * 2 ** 24))


def poly(c, u):
    return sum(mpmath.mpf(x) * u ** j for j, x in enumerate(c))


def fit_exp():
    h = float(mpmath.log(2) / 2)
    # Q(r) = (exp(r) - 1 - r) / r^2; the residual r^2 (Q - q) / exp(r) is the
    # relative error of exp(r).
    target = lambda r: (mpmath.exp(r) - 1 - r) / (r * r) if r != 0 else mpmath.mpf(0.5)
    weight = lambda r: r * r / mpmath.exp(r)
    c = fit(-h, h, 4, target, weight)
    report(c, -h, h, lambda r, c: abs((1 + r + r * r * poly(c, r)) / mpmath.exp(r) - 1))


def fit_exp_table():
    # exp(r) for the table reduction (AVX-512 float): x = (k/16) ln2 + r,
    # |r| <= ln2/32 (and a little: r's own rounding), exp(x) = 2^(k/16) exp(r)
    # with 2^(j/16) from a 16-entry table; exp(r) = 1 + r + r^2 Q(r), Q of degree 1.
    h = float(mpmath.log(2) / 32) * 1.001
    target = lambda r: (mpmath.exp(r) - 1 - r) / (r * r) if r != 0 else mpmath.mpf(0.5)
    weight = lambda r: r * r / mpmath.exp(r)
    c = fit(-h, h, 1, target, weight)
    report(c, -h, h, lambda r, c: abs((1 + r + r * r * poly(c, r)) / mpmath.exp(r) - 1))


def fit_log1p_unit():
    # z = s^2 in [0, 1/9]; log1p(t) = 2 atanh(s) = 2s + s z P(z), so
    # P(z) = (2 atanh(s) - 2s) / (s z); the residual s z (P - p) / (2 atanh s)
    # is the relative error of log1p(t).
    def target(z):
        if z == 0:
            return mpmath.mpf(2) / 3
        s = mpmath.sqrt(z)
        return (2 * mpmath.atanh(s) - 2 * s) / (s * z)

    def weight(z):
        if z == 0:
            return mpmath.mpf(0)
        s = mpmath.sqrt(z)
        return s * z / (2 * mpmath.atanh(s))

    def rel(z, c):
        if z == 0:
            return 0
        s = mpmath.sqrt(z)
        return abs((2 * s + s * z * poly(c, z)) / (2 * mpmath.atanh(s)) - 1)

    c = fit(0.0, 1.0 / 9, 3, target, weight)
    report(c, 0.0, 1.0 / 9, rel)


def fit_softplus_table(degree=6):
    # Row j covers a in [(j - 1/2) h, (j + 1/2) h] (row 0 from 0): the kernel
    # rounds a / h to the nearest j and takes r = a - j h by one FMA (exact
    # up to its one rounding), so the rows are fitted at the exact centres j h.
    h = float(np.float32(16.64 / 15.5))
    target = lambda a: mpmath.log1p(mpmath.exp(-a))
    rows = []
    for j in range(16):
        lo, hi = max(j - 0.5, 0) * h, (j + 0.5) * h
        c = fit(lo - j * h, hi - j * h, degree, lambda r: target(r + j * h), lambda r: 1 / target(r + j * h))
        rows.append(c)
    print("h = %r, 1/h = %r" % (h, float(np.float32(1 / h))))
    for k in range(degree + 1):
        print("C%d:" % k, ", ".join("%.9gf" % rows[j][k] for j in range(16)))
    # float32 evaluation (each FMA rounded once: the product of two floats
    # is exact in double) against double's log1p(exp(-a)).
    f32 = np.float32
    a = np.linspace(0, 16.625, 2000001).astype(f32)  # the kernel takes this table up to 16.625
    j = np.rint(a.astype(np.float64) * float(f32(1 / h))).astype(int)
    r = (a.astype(np.float64) - j * h).astype(f32)
    C = np.array(rows, dtype=f32)
    p = C[j, degree]
    for k in range(degree - 1, -1, -1):
        p = (p.astype(np.float64) * r + C[j, k]).astype(f32)
    ref = np.log1p(np.exp(-a.astype(np.float64)))
    ulp = np.abs(p - ref) / np.spacing(ref.astype(f32)).astype(np.float64)
    print("float32 evaluation: %.3f ULP at most (a = %.9g), %.3f on average" % (ulp.max(), a[ulp.argmax()], ulp.mean()))


def half_angle_fit(m, n, cap, weight):
    """g(z) = (tanh(x/2)/x - 1/2) / z, z = x^2, for x in (0, cap]; `weight`(x, t, g)
    with t = tanh(x/2): how much of a relative error of g reaches the result."""
    count = 4000
    xs = np.array([cap / 2 + cap / 2 * np.cos(np.pi * (k + 0.5) / count) for k in range(count)] + [cap])
    scale = cap * cap  # the fit runs in z / cap^2, for conditioning
    z = xs * xs / scale
    ts = [mpmath.tanh(mpmath.mpf(x) / 2) for x in xs]
    gm = [(t / mpmath.mpf(x) - mpmath.mpf(1) / 2) / mpmath.mpf(x) ** 2 for t, x in zip(ts, xs)]
    g = np.array([float(v) for v in gm])
    sens = np.array([float(weight(mpmath.mpf(x), t, v)) for t, x, v in zip(ts, xs, gm)])
    return z, scale, g, sens


def fit_tanh_half(m=2, n=2, cap=9.02):
    # An error d of g changes t = tanh(x/2) by x^3 d, and tanh x = 2t / (1 + t^2)
    # by that times (1 - t^2) / (1 + t^2) (relative): the weight of g's relative error.
    z, scale, g, sens = half_angle_fit(m, n, cap, lambda x, t, v: abs(x ** 3 * v) / t * (1 - t * t) / (1 + t * t))
    solve_rational(m, n, z, scale, g, sens, "tanh x")


def fit_tanhshrink_half(m=2, n=2, cap=9.02):
    # x - tanh x = -c + h(s) with c = x^3 g doubled (2 tanh(x/2) = s = x + c) and
    # h(s) = s^3 / (4 + s^2): a relative error d of g moves it by c d (h'(s) - 1),
    # h'(s) = s^2 (12 + s^2) / (4 + s^2)^2; relative to x - tanh x.
    def weight(x, t, v):
        s = 2 * t
        c = 2 * x ** 3 * v
        dh = s * s * (12 + s * s) / (4 + s * s) ** 2
        return abs(c * (dh - 1)) / (x - mpmath.tanh(x))
    z, scale, g, sens = half_angle_fit(m, n, cap, weight)
    solve_rational(m, n, z, scale, g, sens, "x - tanh x")


def solve_rational(m, n, z, scale, g, sens, what):
    """P/Q (degrees m, n; Q(0) = 1) fitting g at z (scaled by `scale`),
    minimising the relative error weighted by `sens`; prints the coefficients."""

    def solve(fixed_p, fixed_q):
        q_prev = np.ones(len(z))
        lawson = np.ones(len(z)) / len(z)
        best = None
        for _ in range(300):
            cols, names, rhs = [], [], g.copy()
            for j in range(m + 1):
                if j in fixed_p:
                    rhs = rhs - fixed_p[j] * z ** j
                else:
                    cols.append(z ** j)
                    names.append(("p", j))
            for k in range(1, n + 1):
                if k in fixed_q:
                    rhs = rhs + g * fixed_q[k] * z ** k
                else:
                    cols.append(-g * z ** k)
                    names.append(("q", k))
            w = np.sqrt(lawson) / (q_prev * np.abs(g)) * sens
            sol = np.linalg.lstsq(np.stack(cols, 1) * w[:, None], rhs * w, rcond=None)[0] if cols else []
            p = np.zeros(m + 1)
            q = np.zeros(n + 1)
            q[0] = 1
            for j, v in fixed_p.items():
                p[j] = v
            for k, v in fixed_q.items():
                q[k] = v
            for (which, i), v in zip(names, sol):
                (p if which == "p" else q)[i] = v
            P = np.polyval(p[::-1], z)
            Q = np.polyval(q[::-1], z)
            err = np.abs(P / Q / g - 1) * sens
            if best is None or err.max() < best[0]:
                best = (err.max(), p.copy(), q.copy())
            q_prev = Q
            lawson = lawson * err
            lawson /= lawson.sum()
        return best

    e, p, q = solve({}, {})
    fixed_p, fixed_q = {}, {}
    for which, i in sorted([("p", j) for j in range(m, -1, -1)] + [("q", k) for k in range(n, 0, -1)], key=lambda t: -t[1]):
        v = (p if which == "p" else q)[i] / scale ** i
        (fixed_p if which == "p" else fixed_q)[i] = float(np.float32(v)) * scale ** i
        e, p, q = solve(fixed_p, fixed_q)
    print("P (float32, lowest degree first):", ", ".join(repr(float(np.float32(fixed_p[j] / scale ** j))) for j in range(m + 1)))
    print("Q (float32, lowest degree first):", ", ".join(repr(float(np.float32(v))) for v in [1.0] + [fixed_q[k] / scale ** k for k in range(1, n + 1)]))
    print("weighted relative error of the fit: %.3g float ULP of %s (evaluation roundings not included)" % (e * 2 ** 24, what))


def fit_odd(name, degree, xmax, f64=False):
    """g(x) = x + x Q(x^2) on |x| <= xmax for an odd g with g'(0) > 0 (erf,
    asinh: erf.cpp's and log.cpp's float forms), Q of `degree`: relative
    least squares on Chebyshev nodes of z = x^2, the coefficients rounded to
    float one at a time, lowest first, the rest refitted; Q(0) as a float
    of g'(0) - 1 (2/sqrt(pi) rounded to float alone is 0.9 ULP off). Prints
    Q and the worst relative error of x + x Q (exact arithmetic, 2001
    points)."""
    import struct

    def f32(v):
        return float(v) if f64 else struct.unpack("f", struct.pack("f", float(v)))[0]

    g = {"erf": mpmath.erf, "asinh": mpmath.asinh, "sinh": mpmath.sinh, "atan": mpmath.atan, "sin": mpmath.sin, "tan": mpmath.tan}[name]
    slope0 = 2 / mpmath.sqrt(mpmath.pi) if name == "erf" else mpmath.mpf(1)
    top = mpmath.mpf(xmax) ** 2

    def h(z):  # g(x) / x
        return slope0 if z == 0 else g(mpmath.sqrt(z)) / mpmath.sqrt(z)

    nodes = 4 * (degree + 1)
    zs = [top * (1 + mpmath.cos(mpmath.pi * (i + mpmath.mpf(0.5)) / nodes)) / 2 for i in range(nodes)] + [mpmath.mpf(0), top]
    coeffs = []
    for j in range(degree + 1):
        free = degree + 1 - j
        A, b = mpmath.matrix(len(zs), free), mpmath.matrix(len(zs), 1)
        for r, z in enumerate(zs):
            w = 1 / h(z)
            for c in range(free):
                A[r, c] = z ** (j + c) * w
            b[r] = (h(z) - sum(c * z**i for i, c in enumerate(coeffs))) * w
        c = mpmath.qr_solve(A, b)[0][0]
        coeffs.append(1 + mpmath.mpf(f32(c - 1)) if j == 0 else mpmath.mpf(f32(c)))
    worst = max(abs(sum(c * z**i for i, c in enumerate(coeffs)) / h(z) - 1)
                for z in (top * i / 2000 for i in range(2001)))
    print("// %s: degree %d on |x| <= %s, max relative error %.3g (%s coefficients, exact arithmetic)"
          % (name, degree, xmax, float(worst), "double" if f64 else "float"))
    print("// Q (g(x) = x + x Q(x^2)), lowest degree first:")
    print("{" + ", ".join(repr(float(c - 1 if i == 0 else c)) for i, c in enumerate(coeffs)) + "}")


def fit_cos(degree, xmax, f64=False):
    """cos(x) = 1 + z C(z), z = x^2, |x| <= xmax (sincos.cpp): C(0) = -1/2
    exactly, the rest least squares in cos's relative error on Chebyshev
    nodes of z, rounded to float one at a time, lowest first, the rest
    refitted. Prints C and the worst relative error of 1 + z C (exact
    arithmetic, 2001 points)."""
    import struct

    def f32(v):
        return float(v) if f64 else struct.unpack("f", struct.pack("f", float(v)))[0]

    top = mpmath.mpf(xmax) ** 2

    def h(z):  # (cos(x) - 1) / z
        return mpmath.mpf(-0.5) if z == 0 else (mpmath.cos(mpmath.sqrt(z)) - 1) / z

    nodes = 4 * (degree + 1)
    zs = [top * (1 + mpmath.cos(mpmath.pi * (i + mpmath.mpf(0.5)) / nodes)) / 2 for i in range(nodes)] + [top]
    coeffs = [mpmath.mpf(-0.5)]
    for j in range(1, degree + 1):
        free = degree + 1 - j
        A, b = mpmath.matrix(len(zs), free), mpmath.matrix(len(zs), 1)
        for r, z in enumerate(zs):
            w = z / mpmath.cos(mpmath.sqrt(z))  # an error e in C moves cos by z e
            for c in range(free):
                A[r, c] = z ** (j + c) * w
            b[r] = (h(z) - sum(c * z**i for i, c in enumerate(coeffs))) * w
        coeffs.append(mpmath.mpf(f32(mpmath.qr_solve(A, b)[0][0])))
    worst = max(abs((1 + z * sum(c * z**i for i, c in enumerate(coeffs))) / mpmath.cos(mpmath.sqrt(z)) - 1)
                for z in (top * i / 2000 for i in range(2001)))
    print("// cos: degree %d on |x| <= %s, max relative error %.3g (%s coefficients, exact arithmetic)"
          % (degree, xmax, float(worst), "double" if f64 else "float"))
    print("// C (cos(x) = 1 + z C(z)), lowest degree first:")
    print("{" + ", ".join(repr(float(c)) for c in coeffs) + "}")


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "exp"
    if which in ("odd", "odd_f64"):  # odd[_f64] FUNCTION DEGREE XMAX
        fit_odd(sys.argv[2], int(sys.argv[3]), sys.argv[4], which == "odd_f64")
        sys.exit(0)
    if which in ("cos", "cos_f64"):  # cos[_f64] DEGREE XMAX
        fit_cos(int(sys.argv[2]), sys.argv[3], which == "cos_f64")
        sys.exit(0)
    degrees = [int(a) for a in sys.argv[2:4]]
    if which == "log_table":
        fit_log_table()
        sys.exit(0)
    if which in ("log1p_unit_f64", "exp_f64", "exp_table_f64"):
        {"log1p_unit_f64": fit_log1p_unit_f64, "exp_f64": fit_exp_f64, "exp_table_f64": fit_exp_table_f64}[which](*degrees)
        sys.exit(0)
    import numpy as np  # noqa: E402 (the float32 fits)
    fits = {"exp": fit_exp, "exp_table": fit_exp_table, "log1p_unit": fit_log1p_unit, "softplus_table": fit_softplus_table, "tanh_half": fit_tanh_half, "tanhshrink_half": fit_tanhshrink_half}
    fits[which](*degrees)
