#!/usr/bin/python3
"""Random activation forms through the command line against mpmath.

  random_forms.py [--act PATH] [--seed N] [--count N] [--params] [--far]

Builds COUNT random forms (the same forms for the same seed) from
activation-like pieces: sums, products, quotients with denominators that
stay positive, integer powers, polynomials and Pade units, the math
functions, where(), catalogue activations and the naive forms that the
stability rewrites target (log(sigmoid(u)), 1 - tanh(u)^2, exp(u) / (1 +
exp(u)), sqrt(u^2 + 1) - 1, u / exp(v), ...). For each form, `actjit
eval` and `actjit grad` in float32 and float64 at 24 points from -1e10 to
3e19 (one call each, so registers mix near and far points) are compared
with the form evaluated at 256 bits (1.5 more a unit of |x| up to 2000),
value and slope by forward-mode differentiation (no numerical
derivative). With --params, a quarter of the leaves are a parameter `a`
of a definition `f(x, a = D) = ...`, run at its default or at 3 or 0.25
times it (passed with --params, so that the kernels taking it as an
argument run), and `grad --wrt a` is checked too. ACTJIT_VECTOR_BITS=256
or 128 in the environment checks the narrower kernels.

A result is flagged when it is not finite where the true value is, or when
its relative error is over 3e-6 (float32) or 1e-13 (float64) and over 50
times that of the same form evaluated naively, operation by operation, at
22 and 24 bits (51 and 53 for float64): the form's own conditioning
(cancellation as written, sin of a large argument) is not a fault.
Slopes within 1e-7 (float32) or 1e-15 (float64) of the truth pass.
Skipped: true values outside the type's normal range, slopes where the
value is outside the type's range, points where an
intermediate value passes a sixteenth of the type's largest (an overflow
as written; with --far these are kept, and -1e30, -3e19, 1e25 and, in
float64, +-1e200 added to the points: the stability rewrites' far forms
must give the value where it is finite), and points where a where() condition is within 1e-5
(float32) or 1e-12 (float64) of its threshold, relative: an underflow in
the type can decide such a condition (exp(x) > 0 at x = -700), and
mpmath has no underflow.

Dev-time only (apt-get install python3-mpmath). Prints OK or BAD for each
form (with up to 8 flagged results) and counts; exit status 1 when a form
is flagged. A form takes about a second. Complements tools/hunt_forms.py, which checks a fixed
list of published forms.
"""
import argparse
import math
import os
import random
import re
import signal
import struct
import subprocess
import sys

import mpmath as mp

CONSTANTS = ['0.5', '1', '2', '3', '1.702', '0.044715', '0.1', '0.25', '1.5', '4']
FAR_POINTS = {'f32': [-1e30, -3e19, 1e25], 'f64': [-1e30, -3e19, 1e25, -1e200, 1e200]}
POINTS = [-1e10, -700.0, -89.5, -45.0, -20.0, -8.0, -3.3, -1.2, -0.4, -1e-3, -1e-20, 1e-30, 1e-5, 0.07,
          0.9, 2.2, 5.5, 12.0, 40.0, 88.0, 95.0, 712.0, 1e5, 3e19]
TYPES = {  # relative tolerance, naive precisions, smallest normal, largest, slope's absolute, where() margin
    'f64': (1e-13, (51, 53), 2.2250738585072014e-308, 1.7976931348623157e308, 1e-15, 1e-12),
    'f32': (3e-6, (22, 24), 1.1754944e-38, 3.4028235e38, 1e-7, 1e-5),
}


class Eval:
    """One evaluation's state: the parameter's value, the largest
    intermediate magnitude and the smallest where() margin seen."""
    a = mp.mpf(1)
    big = mp.mpf(0)
    margin = mp.inf


def seen(t):
    """Records t = (value, d/dx, d/da)'s magnitudes; returns t."""
    for v in t:
        if not isinstance(v, mp.mpc) and mp.isfinite(v):
            Eval.big = max(Eval.big, abs(v))
    return t


def sigmoid(u):
    return 1 / (1 + mp.exp(-u))


def softplus(u):  # with the catalogue's threshold 20 (LANGUAGE.md)
    return u if u > 20 else mp.log1p(mp.exp(u))


def gelu_tanh(u):
    return u / 2 * (1 + mp.tanh(mp.sqrt(2 / mp.pi) * (u + mp.mpf('0.044715') * u ** 3)))


def gelu_tanh_slope(u):
    t = mp.tanh(mp.sqrt(2 / mp.pi) * (u + mp.mpf('0.044715') * u ** 3))
    return (1 + t) / 2 + u / 2 * (1 - t * t) * mp.sqrt(2 / mp.pi) * (1 + 3 * mp.mpf('0.044715') * u * u)


# name: (f, f'); the catalogue's by LANGUAGE.md's table
FUNCTIONS = {
    'exp': (mp.exp, mp.exp),
    'expm1': (mp.expm1, mp.exp),
    'tanh': (mp.tanh, lambda u: 1 - mp.tanh(u) ** 2),
    'sigmoid': (sigmoid, lambda u: sigmoid(u) * (1 - sigmoid(u))),
    'softplus': (softplus, lambda u: mp.mpf(1) if u > 20 else sigmoid(u)),
    'erf': (mp.erf, lambda u: 2 / mp.sqrt(mp.pi) * mp.exp(-u * u)),
    'erfc': (mp.erfc, lambda u: -2 / mp.sqrt(mp.pi) * mp.exp(-u * u)),
    'atan': (mp.atan, lambda u: 1 / (1 + u * u)),
    'asinh': (mp.asinh, lambda u: 1 / mp.sqrt(1 + u * u)),
    'abs': (abs, mp.sign),
    'sin': (mp.sin, mp.cos),
    'sinh': (mp.sinh, mp.cosh),
    'cosh': (mp.cosh, mp.sinh),
    'log': (mp.log, lambda u: 1 / u),
    'log1p': (mp.log1p, lambda u: 1 / (1 + u)),
    'sqrt': (mp.sqrt, lambda u: 1 / (2 * mp.sqrt(u))),
    'gelu': (lambda u: u * mp.ncdf(u), lambda u: mp.ncdf(u) + u * mp.npdf(u)),
    'gelu_tanh': (gelu_tanh, gelu_tanh_slope),
    'silu': (lambda u: u * sigmoid(u), lambda u: sigmoid(u) * (1 + u * (1 - sigmoid(u)))),
    'mish': (lambda u: u * mp.tanh(softplus(u)),
             lambda u: mp.tanh(softplus(u)) + u * (1 - mp.tanh(softplus(u)) ** 2) * (1 if u > 20 else sigmoid(u))),
    'elu': (lambda u: u if u > 0 else mp.expm1(u), lambda u: mp.mpf(1) if u > 0 else mp.exp(u)),
    'softsign': (lambda u: u / (1 + abs(u)), lambda u: 1 / (1 + abs(u)) ** 2),
    'logsigmoid': (lambda u: -mp.log1p(mp.exp(-u)), lambda u: 1 - sigmoid(u)),
    'telu': (lambda u: u * mp.tanh(mp.exp(u)),
             lambda u: mp.tanh(mp.exp(u)) + u * mp.exp(u) * (1 - mp.tanh(mp.exp(u)) ** 2)),
    'tanhshrink': (lambda u: u - mp.tanh(u), lambda u: mp.tanh(u) ** 2),
    'squareplus': (lambda u: (u + mp.sqrt(u * u + 4)) / 2, lambda u: (1 + u / mp.sqrt(u * u + 4)) / 2),
}
GROWING = {'exp', 'expm1', 'sinh', 'cosh', 'sigmoid', 'softplus', 'mish', 'telu', 'logsigmoid'}


# Forms as functions of x giving (value, d/dx, d/da).
def apply(name, f):
    fn, d = FUNCTIONS[name]

    def h(x):
        v = f(x)
        if (name in GROWING and abs(v[0]) > 1e5) or (name == 'sin' and abs(v[0]) > 1e6):
            raise OverflowError  # past any type's range (or mpmath's patience)
        s = d(v[0])
        return seen((fn(v[0]), s * v[1], s * v[2]))
    return h


def add(f, g):
    return lambda x: seen(tuple(p + q for p, q in zip(f(x), g(x))))


def sub(f, g):
    return lambda x: seen(tuple(p - q for p, q in zip(f(x), g(x))))


def mul(f, g):
    def h(x):
        p, q = f(x), g(x)
        return seen((p[0] * q[0], p[1] * q[0] + p[0] * q[1], p[2] * q[0] + p[0] * q[2]))
    return h


def div(f, g):
    def h(x):
        p, q = f(x), g(x)
        return seen((p[0] / q[0], (p[1] * q[0] - p[0] * q[1]) / q[0] ** 2, (p[2] * q[0] - p[0] * q[2]) / q[0] ** 2))
    return h


def power(f, n):
    def h(x):
        p = f(x)
        s = n * p[0] ** (n - 1)
        return seen((p[0] ** n, s * p[1], s * p[2]))
    return h


def const(c):
    return lambda x: (mp.mpf(c), mp.mpf(0), mp.mpf(0))


def variable(x):
    return (x, mp.mpf(1), mp.mpf(0))


def parameter(x):
    return (+Eval.a, mp.mpf(0), mp.mpf(1))


def where(cond, threshold, f, g):
    def h(x):
        u = cond(x)[0]
        Eval.margin = min(Eval.margin, abs(u - threshold) / max(abs(threshold), 1))
        return f(x) if u > threshold else g(x)
    return h


ONE = const(1)
ZERO = const(0)


class Forms:
    """Random forms as (source text, function)."""

    def __init__(self, rng, params):
        self.rng = rng
        self.params = params

    def leaf(self):
        u = self.rng.random()
        if u < 0.5 or (u < 0.6 and not self.params):
            return 'x', variable
        if u < 0.75 and self.params:
            return 'a', parameter
        c = self.rng.choice(CONSTANTS)
        return c, const(c)

    def polynomial(self, degree):
        """c0 + c1 x + ... + cd x^d with random coefficients (some left out)."""
        text, f = self.rng.choice(CONSTANTS), None
        f = const(text)
        for i in range(1, degree + 1):
            if i < degree and self.rng.random() < 0.3:
                continue
            c = self.rng.choice(CONSTANTS)
            sign = self.rng.choice('+-')
            term = mul(const(c), power(variable, i) if i > 1 else variable)
            f = (add if sign == '+' else sub)(f, term)
            text += f' {sign} {c}*x' + (f'^{i}' if i > 1 else '')
        return f'({text})', f

    def form(self, depth):
        if depth == 0:
            return self.leaf()
        k = self.rng.randrange(42)
        sub_form = lambda: self.form(depth - 1)
        if k < 3:
            (s, f), (t, g) = sub_form(), sub_form()
            op = self.rng.choice('+-*')
            return f'({s} {op} {t})', {'+': add, '-': sub, '*': mul}[op](f, g)
        if k == 3:
            (s, f), (t, g) = sub_form(), sub_form()
            return f'({s} / (1 + abs({t})))', div(f, add(ONE, apply('abs', g)))
        if k == 4:
            (s, f), (t, g) = sub_form(), sub_form()
            return f'({s} / ({t}*{t} + 1))', div(f, add(mul(g, g), ONE))
        if k == 5:
            (s, f), n = sub_form(), self.rng.choice([2, 3, 4])
            return f'({s})^{n}', power(f, n)
        if k == 6:
            (s, f), (t, g), (u, h) = sub_form(), sub_form(), sub_form()
            c = self.rng.choice(['0', '1', '-2', '3'])
            return f'where({s} > {c}, {t}, {u})', where(f, mp.mpf(c), g, h)
        if k == 7:
            (s, f), (t, g) = sub_form(), sub_form()
            return f'({s} / exp({t}))', div(f, apply('exp', g))
        if 24 <= k <= 27:  # polynomials in x: P, Pade units P / (1 + |Q|), P / (c + Q^2), log, log1p or sqrt of c + Q^2
            p_text, p = self.polynomial(self.rng.randint(2, 5))
            if k == 24:
                return p_text, p
            q_text, q = self.polynomial(self.rng.randint(1, 4))
            if k == 25:
                return f'({p_text} / (1 + abs{q_text}))', div(p, add(ONE, apply('abs', q)))
            c = self.rng.choice(['1', '0.5', '3'])
            square = add(const(c), mul(q, q))
            if k == 26:
                return f'({p_text} / ({c} + {q_text}*{q_text}))', div(p, square)
            name = self.rng.choice(['log', 'log1p', 'sqrt'])
            return f'{name}({c} + {q_text}*{q_text})', apply(name, square)
        s, f = sub_form()
        naive = {
            8: (f'log1p(abs({s}))', lambda: apply('log1p', apply('abs', f))),
            9: (f'sqrt({s}*{s} + 1)', lambda: apply('sqrt', add(mul(f, f), ONE))),
            10: (f'log(1 + {s}*{s})', lambda: apply('log', add(ONE, mul(f, f)))),
            11: (f'exp(-{s}*{s})', lambda: apply('exp', sub(ZERO, mul(f, f)))),
            12: (f'x * {s}', lambda: mul(variable, f)),
            13: (f'log(1 + exp({s}))', lambda: apply('log', add(ONE, apply('exp', f)))),
            14: (f'(exp({s}) - 1)', lambda: sub(apply('exp', f), ONE)),
            15: (f'log(sigmoid({s}))', lambda: apply('log', apply('sigmoid', f))),
            16: (f'(1 - sigmoid({s}))', lambda: sub(ONE, apply('sigmoid', f))),
            17: (f'log(softplus({s}))', lambda: apply('log', apply('softplus', f))),
            18: (f'(1 - tanh({s})^2)', lambda: sub(ONE, power(apply('tanh', f), 2))),
            19: (f'(1 - exp(-({s})^2))', lambda: sub(ONE, apply('exp', sub(ZERO, power(f, 2))))),
            20: (f'(exp({s}) / (1 + exp({s})))', lambda: div(apply('exp', f), add(ONE, apply('exp', f)))),
            21: (f'(sqrt(({s})^2 + 1) - 1)', lambda: sub(apply('sqrt', add(power(f, 2), ONE)), ONE)),
            22: (f'log(1 + exp(-abs({s})))', lambda: apply('log', add(ONE, apply('exp', sub(ZERO, apply('abs', f)))))),
            23: (f'({s} * exp(-({s})))', lambda: mul(f, apply('exp', sub(ZERO, f)))),
        }
        if k in naive:  # 28 to 41: the catalogue's and the math functions
            text, make = naive[k]
            return text, make()
        name = self.rng.choice(sorted(n for n in FUNCTIONS if n not in ('log', 'log1p', 'sqrt')))
        return f'{name}({s})', apply(name, f)


class Timeout(Exception):
    pass


def _alarm(*_):
    raise Timeout()


def evaluate(form, x, bits):
    """form at x with `bits` of precision: (value, d/dx, d/da) with None for
    a complex or infinite result, the largest intermediate and the smallest
    where() margin."""
    mp.mp.prec = bits
    Eval.big, Eval.margin = mp.mpf(0), mp.inf
    signal.alarm(5)
    try:
        r = form(mp.mpf(x))
    except (ValueError, ZeroDivisionError, OverflowError, TypeError, MemoryError, Timeout):
        r = (None, None, None)  # no reference here (mpmath's domain errors, the timeout)
    finally:
        signal.alarm(0)
    finite = lambda t: t is not None and not isinstance(t, mp.mpc) and mp.isfinite(t)
    return tuple(t if finite(t) else None for t in r), Eval.big, Eval.margin


def run(act, args, src, points, dtype):
    r = subprocess.run([act] + args[:1] + [src, '--at', ','.join(repr(p) for p in points), '--dtype', dtype] + args[1:],
                       capture_output=True, text=True, timeout=120)
    if r.returncode:
        return None, (r.stderr.strip().splitlines() or ['?'])[0]
    return [float(w) for w in r.stdout.split()], None


COUNTS = {'compared': 0, 'skipped': 0}


def check(act, src, form, extra, far):
    bad = []
    for dtype, (tol, naive_bits, tiny, huge, slope_abs, margin) in TYPES.items():
        points = POINTS + (FAR_POINTS[dtype] if far else [])
        if dtype == 'f32':
            points = [struct.unpack('f', struct.pack('f', p))[0] for p in points]
        asks = [(0, ['eval']), (1, ['grad'])] + ([(2, ['grad', '--wrt', 'a'])] if extra is not None else [])
        for which, args in asks:
            args = args + (extra or [])
            got, error = run(act, args, src, points, dtype)
            what = f'{dtype} {" ".join(args)}'
            if got is None:
                bad.append(f'{what}: {error}')
                continue
            for x, y in zip(points, got):
                # bits enough for 1 + exp(-|x|) far out (log(1 + exp(x)) at -700)
                (truth, big, near) = evaluate(form, x, 256 + int(1.5 * min(abs(x), 2000)))
                t = truth[which]
                value_out = truth[0] is None or abs(truth[0]) > huge  # a slope where f itself overflows
                if t is None or (big > huge / 16 and not far) or (which and value_out) or near < margin or not tiny <= abs(t) <= huge:
                    COUNTS['skipped'] += 1
                    continue
                COUNTS['compared'] += 1
                naive = 0.0
                for bits in naive_bits:
                    n = evaluate(form, x, bits)[0][which]
                    naive = math.inf if n is None else max(naive, float(abs(n - t) / abs(t)))
                mp.mp.prec = 53
                if not math.isfinite(y):
                    bad.append(f'{what} x={x!r}: {y!r}, true {float(t):.9g}')
                    continue
                if which and abs(y - float(t)) < slope_abs:
                    continue
                rel = float(abs(mp.mpf(y) - t) / abs(t))
                if rel > max(tol, 50 * naive):
                    bad.append(f'{what} x={x!r}: {y!r}, true {float(t):.9g} (relative error {rel:.2g}, naive {naive:.2g})')
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--act', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'actjit'))
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--count', type=int, default=100)
    ap.add_argument('--params', action='store_true', help='forms with a parameter a (see the module comment)')
    ap.add_argument('--far', action='store_true', help='points past the intermediates\' range too (see above)')
    o = ap.parse_args()
    signal.signal(signal.SIGALRM, _alarm)
    rng = random.Random(o.seed)
    forms = Forms(rng, o.params)
    clean = total = 0
    while total < o.count:
        src, form = forms.form(rng.choice([2, 3, 4, 5]))
        if not re.search(r'\bx\b', src) or (o.params and not re.search(r'\ba\b', src)):
            continue
        extra = None
        if o.params:
            default = rng.choice(['0.7', '1.3', '2', '-0.5'])
            scale = rng.choice([None, '3', '0.25'])
            Eval.a = mp.mpf(float(mp.mpf(default) * mp.mpf(scale))) if scale else mp.mpf(default)
            src = f'f(x, a = {default}) = {src}'
            extra = ['--params', f'a={float(Eval.a)!r}'] if scale else []
        bad = check(o.act, src, form, extra, o.far)
        total += 1
        clean += not bad
        print(('OK   ' if not bad else 'BAD  ') + src + (f'   [{" ".join(extra)}]' if extra else ''))
        for b in bad[:8]:
            print('      ' + b)
        if len(bad) > 8:
            print(f'      ... {len(bad) - 8} more')
        sys.stdout.flush()
    print(f'{clean} of {total} clean ({COUNTS["compared"]} results compared, {COUNTS["skipped"]} without a reference'
          ' or skipped)')
    sys.exit(0 if clean == total else 1)


main()
