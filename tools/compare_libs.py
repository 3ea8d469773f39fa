#!/usr/bin/python3
"""Compares two actjit builds on a list of forms: where do their outputs differ?

  compare_libs.py OLD_DIR NEW_DIR FILE

OLD_DIR and NEW_DIR each hold an `actjit` binary and its libactjit.so*
(copy build/actjit and build/libactjit.so* there before and after a
change). FILE has one form a line, as tools/hunt_forms.txt ('#' starts a
comment). For every form, `actjit eval` and `actjit grad` in float32 and
float64 at hunt_forms' 30 points run through both builds; printed: each
form, command and dtype whose outputs differ by more than 1e-6 (float32)
or 1e-14 (float64) relative, or in NaN/inf, with up to six points
(x#INDEX:OLD->NEW). No output: nothing moved.

A rewrite that changes a node other rules read by its shape (a root's
branch, an exp's argument) can spoil forms it never meant to touch (the
sixtieth sitting reverted two such changes): run this over hunt_forms.txt
before such a change lands. Takes ~5 minutes for the whole list. No
reference values: tools/hunt_forms.py says which side is right.
"""
import math
import os
import subprocess
import sys

POINTS = ('0.0,1e-30,-1e-20,1e-08,-0.0001,0.01,0.3,-0.7,1.0,-1.5,2.5,-3.7,6.0,-9.0,15.0,-20.0,30.0,-45.0,'
          '88.0,-89.5,95.0,200.0,-700.0,712.0,100000.0,-10000000000.0,3e+19,-1e+25,1e+38,1e+200')
TOL = {'f32': 1e-6, 'f64': 1e-14}


def run(build, cmd, src, dtype):
    env = dict(os.environ, LD_LIBRARY_PATH=build)
    r = subprocess.run([os.path.join(build, 'actjit'), cmd, src, '--at', POINTS, '--dtype', dtype],
                       capture_output=True, text=True, env=env)
    return r.stdout.split() if r.returncode == 0 else ['error: ' + r.stderr.strip()]


def differ(a, b, tol):
    try:
        fa, fb = float(a), float(b)
    except ValueError:
        return a != b
    if fa == fb or (math.isnan(fa) and math.isnan(fb)):
        return False
    if math.isfinite(fa) and math.isfinite(fb):
        return abs(fa - fb) > tol * max(abs(fa), abs(fb))
    return True


def main():
    if len(sys.argv) != 4 or sys.argv[1] in ('-h', '--help'):
        print(__doc__)
        sys.exit(0 if len(sys.argv) == 2 else 2)
    old, new, forms = sys.argv[1:]
    for line in open(forms):
        src = line.split('#')[0].strip()
        if not src:
            continue
        for cmd in ('eval', 'grad'):
            for dtype in ('f32', 'f64'):
                o, n = run(old, cmd, src, dtype), run(new, cmd, src, dtype)
                if len(o) != len(n):
                    print(cmd, dtype, src, '| outputs differ in length:', ' '.join(o[:2]), '/', ' '.join(n[:2]))
                    continue
                bad = [(i, a, b) for i, (a, b) in enumerate(zip(o, n)) if differ(a, b, TOL[dtype])]
                if bad:
                    print(cmd, dtype, src, '|', ' '.join(f'x#{i}:{a}->{b}' for i, a, b in bad[:6]))
                    sys.stdout.flush()


main()
