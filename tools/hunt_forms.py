#!/usr/bin/python3
"""Checks activation forms through the command line against mpmath.

  hunt_forms.py [--act PATH] [--scale K] FILE

FILE has one form a line: an expression in x ("log(1 + tanh(x))") or a
definition with one parameter ("f(x, b = 1) = log(1 + exp(b*x))/b"); '#'
starts a comment. For each form, `actjit eval` and `actjit grad` (and
`grad --wrt NAME` for the parameter, at its default) in float32 and
float64 at 30 points from 1e-30 to 1e200 are compared with mpmath (250
digits: enough for cos(1e200) and 1 + tanh(-89.5)); printed: OK, or BAD with the points where the relative error is
over 3e-6 (float32) or 1e-13 (float64) and, for slopes, the absolute
error over 1e-7 / 1e-15, where the true value is a normal number.
With --scale K, definitions run with their parameter at K times its
default, passed at run time (`--params`): the kernels that take the
parameter as an argument, which a call with the default does not run.

Known false positives: mpmath's numerical derivative (mp.diff) of a form
that cancels far out (the references take 250 digits, and 0.45 more a
unit of |x| up to 2000: exp(x) log(1 + exp(-x)) at 712 needs ~310; (1 -
erf(x)) exp(x^2) at 30 would need ~400); complex true values (log of a
negative number) are skipped; the float32 points are the double points rounded to float. A
form takes a few seconds (mpmath).

Dev-time only (apt-get install python3-mpmath); tools/hunt_forms.txt is
the list the twentieth sitting checked (NOTES.md).
"""
import math
import os
import re
import signal
import struct
import subprocess
import sys

import mpmath as mp

mp.mp.dps = 250

ENV = {
    'exp': mp.exp, 'log': mp.log, 'log1p': mp.log1p, 'expm1': mp.expm1, 'sqrt': mp.sqrt,
    'tanh': mp.tanh, 'sinh': mp.sinh, 'cosh': mp.cosh, 'sin': mp.sin, 'cos': mp.cos, 'tan': mp.tan,
    'atan': mp.atan, 'asinh': mp.asinh, 'erf': mp.erf, 'erfc': mp.erfc, 'abs': abs, 'pi': mp.pi,
    'sigmoid': lambda x: 1 / (1 + mp.exp(-x)),
    'softplus': lambda x: mp.log1p(mp.exp(x)) if x < 0 else x + mp.log1p(mp.exp(-x)),
    'where': lambda c, a, b: a if c else b, 'stop_gradient': lambda v: v,
}
POINTS = [0.0, 1e-30, -1e-20, 1e-8, -1e-4, 0.01, 0.3, -0.7, 1.0, -1.5, 2.5, -3.7, 6.0, -9.0, 15.0, -20.0,
          30.0, -45.0, 88.0, -89.5, 95.0, 200.0, -700.0, 712.0, 1e5, -1e10, 3e19, -1e25, 1e38, 1e200]
FMAX = {'f32': 3.4028235e38, 'f64': 1.7976931348623157e308}
FMIN = {'f32': 1.1754944e-38, 'f64': 2.2250738585072014e-308}
TOL = {'f32': 3e-6, 'f64': 1e-13}
ABS = {'f32': 1e-7, 'f64': 1e-15}


class Timeout(Exception):
    pass


def _alarm(*_):
    raise Timeout()


def run(act, cmd, src, points, dtype, wrt=None, params=None):
    args = [act, cmd, src, '--at', ','.join(repr(p) for p in points), '--dtype', dtype]
    if wrt:
        args += ['--wrt', wrt]
    if params:
        args += ['--params', params]
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode:
        return [None] * len(points)
    out = []
    for word in r.stdout.split():
        try:
            out.append(float(word))
        except ValueError:
            out.append(None)
    return out


def reference(body, name, p, params, value, dps):
    """The form's value and slopes at p with `dps` digits; where some but not
    all of them are exactly 0 (suspect: a complete cancellation is 0 at every
    precision too low for it), again with twice the digits, up to three
    times, until none is 0 or two precisions agree on the zeros. None where
    it does not settle. (1 - erf(x) at 30 needs 400 digits before anything is
    left of it: at 263 digits the value of (1 - erf(x)) exp(x*x) came out 0
    and its slope 2/sqrt(pi), where it is -6.3e-4.)"""
    def at(digits):
        with mp.workdps(digits):
            fx = lambda t: eval(body, {}, dict(ENV, x=t, **params))
            want = {'value': fx(mp.mpf(p)), 'slope': mp.diff(fx, mp.mpf(p))}
            if name:
                want[name] = mp.diff(lambda t: eval(body, {}, dict(ENV, x=mp.mpf(p), **{name: t})), value)
            return want

    def zeros(w):
        return {k for k, v in w.items() if isinstance(v, mp.mpf) and v == 0}

    want = at(dps)
    for _ in range(3):
        if not zeros(want) or len(zeros(want)) == len(want):  # (all 0: relu's left side)
            return want
        dps *= 2
        again = at(dps)
        if zeros(again) == zeros(want) and all(
                k in zeros(want) or abs(again[k] - want[k]) <= mp.mpf(10) ** -30 * abs(again[k]) for k in want):
            return again
        want = again
    return None


def check(act, src, scale):
    m = re.match(r'f\(x, *(\w+) *= *([-0-9.e]+)\) *= *(.*)$', src)
    name, default, body = (m.group(1), mp.mpf(m.group(2)) * scale, m.group(3)) if m else (None, None, src)
    body = body.replace('^', '**')
    given = f'{name}={float(default)!r}' if name and scale != 1 else None
    bad = []
    for dtype in ('f32', 'f64'):
        value = mp.mpf(float(default)) if given else default  # the double the kernel is given
        points = [p for p in POINTS if abs(p) < FMAX[dtype]]
        got = {'value': run(act, 'eval', src, points, dtype, params=given),
               'slope': run(act, 'grad', src, points, dtype, params=given)}
        if name:
            got[name] = run(act, 'grad', src, points, dtype, name, params=given)
        for i, p in enumerate(points):
            if dtype == 'f32':
                p = struct.unpack('f', struct.pack('f', p))[0]
            params = {name: value} if name else {}
            signal.alarm(5)
            try:
                # More digits far out, where exp(-|x|) must still count beside 1
                # (log(1 + exp(-x)) exp(x)'s slope at 712 needs ~310)
                want = reference(body, name, p, params, value, 250 + int(0.45 * min(abs(p), 2000)))
            except Exception:  # mpmath's domain errors and the timeout: no reference here
                continue
            finally:
                signal.alarm(0)
            if want is None:  # no two precisions agreed: no reference here
                continue
            for key, w in want.items():
                g = got[key][i]
                if isinstance(w, mp.mpc) or not mp.isfinite(w) or not FMIN[dtype] <= abs(w) <= FMAX[dtype]:
                    continue
                if g is None or not math.isfinite(g):
                    bad.append(f'{dtype} {key} x={p:g}: got {g} want {mp.nstr(w, 10)}')
                    continue
                err = abs(mp.mpf(g) - w)
                if err / abs(w) > TOL[dtype] and not (key != 'value' and err < ABS[dtype]):
                    bad.append(f'{dtype} {key} x={p:g}: got {g:.9g} want {mp.nstr(w, 10)} rel {mp.nstr(err / abs(w), 3)}')
    return bad


def main():
    args = sys.argv[1:]
    act = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'build', 'actjit')
    scale = 1
    while len(args) >= 2 and args[0] in ('--act', '--scale'):
        if args[0] == '--act':
            act = args[1]
        else:
            scale = mp.mpf(args[1])
        args = args[2:]
    if len(args) != 1 or args[0] in ('-h', '--help'):
        print(__doc__)
        sys.exit(0 if args in (['-h'], ['--help']) else 2)
    signal.signal(signal.SIGALRM, _alarm)
    ok = total = 0
    for line in open(args[0]):
        src = line.split('#')[0].strip()
        if not src:
            continue
        if scale != 1 and not src.startswith('f('):
            continue
        bad = check(act, src, scale)
        total += 1
        ok += not bad
        print(('OK   ' if not bad else 'BAD  ') + src)
        for b in bad[:8]:
            print('      ' + b)
        if len(bad) > 8:
            print(f'      ... {len(bad) - 8} more')
        sys.stdout.flush()
    print(f'{ok} of {total} clean')


main()
