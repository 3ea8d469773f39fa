#!/usr/bin/python3
"""Generates tests/data/rowwise_reference.json: high-precision (50 digit,
Python decimal) values of the row-wise built-ins and their vector-Jacobian
products, on rows whose values are exact in float32 (so one reference
serves f32 and f64). Where PyTorch is installed (Debian python3-torch; run
with /usr/bin/python3), every finite case is also checked against PyTorch's
float64 forward and backward, and rows with inf/nan (whose results PyTorch
defines) are added with PyTorch's results as the expectation.

    /usr/bin/python3 tools/gen_rowwise_reference.py > tests/data/rowwise_reference.json
"""
import json
import random
import struct
import sys
from decimal import Decimal, getcontext

getcontext().prec = 50

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the decimal reference alone
    torch = None


def f32(v):
    return struct.unpack('f', struct.pack('f', v))[0]


def D(v):
    return Decimal(float(v))  # exact: every double is a finite decimal


# Each function returns y, dx and the condition scales of y and dx: the
# sum of the magnitudes of the terms that make up each value, so that a
# test can bound the rounding error by eps * (|value| + scale).
def softmax(x, dy):
    m = max(x)
    e = [(D(v) - D(m)).exp() for v in x]
    s = sum(e)
    y = [t / s for t in e]
    sd = sum(D(a) * b for a, b in zip(dy, y))
    sabs = sum(abs(D(a)) * b for a, b in zip(dy, y))
    # x - max(x) rounds at the scale of |x| + |max|: exp's relative error
    # grows with that absolute error.
    shift = [1 + abs(D(v)) + abs(D(m)) for v in x]
    return (y, [b * (D(a) - sd) for a, b in zip(dy, y)], [b * t for b, t in zip(y, shift)],
            [b * (abs(D(a)) + sabs) * t for a, b, t in zip(dy, y, shift)])


def log_softmax(x, dy):
    m = max(x)
    s = sum((D(v) - D(m)).exp() for v in x)
    lse = D(m) + s.ln()
    sm = [(D(v) - lse).exp() for v in x]
    sdy = sum(D(a) for a in dy)
    sabs = sum(abs(D(a)) for a in dy)
    return ([D(v) - lse for v in x], [D(a) - p * sdy for a, p in zip(dy, sm)],
            [abs(D(v)) + abs(lse) for v in x],
            [abs(D(a)) + p * sabs * (1 + abs(D(v)) + abs(D(m))) for a, p, v in zip(dy, sm, x)])


def softmin(x, dy):
    y, dx, ys, dxs = softmax([-v for v in x], dy)
    return y, [-t for t in dx], ys, dxs


def sigmoid(v):
    return 1 / (1 + (-v).exp())


def glu(x, dy):
    h = len(x) // 2
    a, b = [D(v) for v in x[:h]], [D(v) for v in x[h:]]
    s = [sigmoid(t) for t in b]
    y = [p * q for p, q in zip(a, s)]
    da = [D(g) * q for g, q in zip(dy, s)]
    # sigmoid' = e / (1 + e)^2 with e = exp(-b): no 1 - sigmoid cancellation
    db = [D(g) * p * (-t).exp() / (1 + (-t).exp()) ** 2 for g, p, t in zip(dy, a, b)]
    return y, da + db, [0] * len(y), [0] * len(x)


def maxout(k):
    def f(x, dy):
        y, dx = [], [Decimal(0)] * len(x)
        for g in range(len(x) // k):
            grp = x[g * k:(g + 1) * k]
            m = max(grp)
            y.append(D(m))
            dx[g * k + grp.index(m)] = D(dy[g])  # ties: the first
        return y, dx, [0] * len(y), [0] * len(x)
    return f


FUNCS = {
    'softmax': (softmax, 1, 1),
    'log_softmax': (log_softmax, 1, 1),
    'softmin': (softmin, 1, 1),
    'glu': (glu, 2, 2),
    'maxout': (maxout(2), 2, 2),
    'maxout(x, 3)': (maxout(3), 3, 3),
}


def torch_fn(name, x):
    if name == 'softmax':
        return F.softmax(x, -1)
    if name == 'log_softmax':
        return F.log_softmax(x, -1)
    if name == 'softmin':
        return F.softmin(x, -1)
    if name == 'glu':
        return F.glu(x, -1)
    k = 3 if '3' in name else 2
    return x.view(-1, k).max(-1).values


def torch_eval(name, x, dy):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    y = torch_fn(name, t)
    y.backward(torch.tensor(dy, dtype=torch.float64))
    return y.detach().tolist(), t.grad.tolist()


def num(v):
    v = float(v)
    if v != v:
        return 'nan'
    if v in (float('inf'), float('-inf')):
        return 'inf' if v > 0 else '-inf'
    return repr(v) if isinstance(v, float) else str(v)


def dec(v):
    return format(v, '.21e') if isinstance(v, Decimal) else num(v)


def main():
    rng = random.Random(2026)
    cases = []
    for name, (fn, mult, div) in FUNCS.items():
        rows = []
        for n in [1, 2, 3, 6, 8, 17, 64, 1000]:
            n = (n + mult - 1) // mult * mult
            for scale in [1, 10, 100]:
                rows.append([f32(rng.gauss(0, scale)) for _ in range(n)])
        rows.append([f32(2.5)] * 12)                                  # identical values
        rows.append([f32(10000 + 0.25 * i) for i in range(6)])        # large, close
        rows.append([f32(-10000 - 0.5 * i) for i in range(6)])
        rows.append([f32(v) for v in [1e-30, -1e-30, 0.0, -0.0, 1e-38, 3.0]])
        for x in rows:
            dy = [f32(rng.uniform(-2, 2)) for _ in range(len(x) // div)]
            y, dx, ys, dxs = fn(x, dy)
            if torch is not None:
                ty, tdx = torch_eval(name, x, dy)
                for a, b in zip(y + dx, ty + tdx):
                    if abs(float(a) - b) > 1e-12 * (1 + abs(b)):
                        sys.exit(f'{name}: PyTorch disagrees: {float(a)} vs {b}')
            cases.append({'f': name, 'x': [num(v) for v in x], 'dy': [num(v) for v in dy],
                          'y': [dec(v) for v in y], 'dx': [dec(v) for v in dx],
                          'y_scale': [format(float(v), '.3e') for v in ys],
                          'dx_scale': [format(float(v), '.3e') for v in dxs]})
        if torch is not None:
            inf, nan = float('inf'), float('nan')
            specials = [[inf, 1.0], [-inf, 1.0], [-inf, -inf], [1.0, nan], [inf, -inf], [-inf, 0.0, 3.0, -inf]]
            for x in specials:
                x = x * mult
                dy = [1.0] * (len(x) // div)
                ty, tdx = torch_eval(name, x, dy)
                cases.append({'f': name, 'x': [num(v) for v in x], 'dy': [num(v) for v in dy],
                              'y': [num(v) for v in ty], 'dx': [num(v) for v in tdx], 'special': True})
    json.dump({'about': 'row-wise built-ins: 50-digit references; checked against PyTorch '
               + ('(yes)' if torch is not None else '(not installed)'),
               'cases': cases}, sys.stdout, separators=(',', ':'))
    sys.stdout.write('\n')


main()
