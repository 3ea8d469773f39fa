#!/usr/bin/python3
"""Fits the float32 polynomials of the inline vector math (compiler/lower/math/).

  fit_vmath.py exp         exp(r) = 1 + r + r^2 Q(r), |r| <= ln2/2, Q of degree 4
                           (exp.cpp: a degree-6 polynomial by Horner's rule, 6 FMAs)
  fit_vmath.py tanh_half   tanh(x/2) = x/2 + x z P(z)/Q(z), z = x^2, x in [0, 9.02],
                           P and Q of degree 2, Q(0) = 1 (tanh.cpp: tanh x = 2t / (1 + t^2)
                           of t = tanh(x/2); the error of t weighted by how much of it
                           reaches tanh x)
  fit_vmath.py log1p_unit  log1p(t) = 2s + s z P(z), s = t / (2 + t), z = s^2,
                           t in [0, 1] (z in [0, 1/9]), P of degree 3 (log.cpp)

Each fit minimises the relative error of the function (not of the
polynomial): weighted least squares on Chebyshev nodes, refined by Lawson's
iteration towards the minimax fit, references at 50 digits (mpmath). Prints
the coefficients (lowest degree first) rounded to float32, and the relative
error of the fit with those rounded coefficients, in float32 ULP (2^-24).

The rational fit (tanh_half) linearises P - f Q = 0 with weights 1/Q of the
previous step (Loeffler's iteration) inside Lawson's, and rounds the
coefficients to float32 one at a time, highest degree first, refitting the
others after each.

Dev-time only (apt-get install python3-numpy python3-mpmath); the
coefficients are committed in the C++ sources.
"""
import sys

import mpmath
import numpy as np

mpmath.mp.dps = 50


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


def fit_tanh_half(m=2, n=2, cap=9.02):
    # g(z) = (tanh(x/2)/x - 1/2) / z = P(z)/Q(z); an error d of g changes
    # t = tanh(x/2) by x^3 d, and tanh x = 2t / (1 + t^2) by that times
    # (1 - t^2) / (1 + t^2) (relative): the weight of g's relative error.
    count = 4000
    xs = np.array([cap / 2 + cap / 2 * np.cos(np.pi * (k + 0.5) / count) for k in range(count)] + [cap])
    scale = cap * cap  # the fit runs in z / cap^2, for conditioning
    z = xs * xs / scale
    ts = [mpmath.tanh(mpmath.mpf(x) / 2) for x in xs]
    gm = [(t / mpmath.mpf(x) - mpmath.mpf(1) / 2) / mpmath.mpf(x) ** 2 for t, x in zip(ts, xs)]
    g = np.array([float(v) for v in gm])
    sens = np.array([float(abs(mpmath.mpf(x) ** 3 * v) / t * (1 - t * t) / (1 + t * t)) for t, x, v in zip(ts, xs, gm)])

    def solve(fixed_p, fixed_q):
        q_prev = np.ones(len(xs))
        lawson = np.ones(len(xs)) / len(xs)
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
    print("weighted relative error of the fit: %.3g float ULP of tanh x (evaluation roundings not included)" % (e * 2 ** 24))


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "exp"
    {"exp": fit_exp, "log1p_unit": fit_log1p_unit, "tanh_half": fit_tanh_half}[which]()
