#!/usr/bin/env python3
"""Writes a seed corpus for the fuzz targets into DIR/corpus: every catalogue
definition, every golden error case, every reference source, and some
random expressions in the language."""
import json
import pathlib
import random
import sys

root = pathlib.Path(__file__).resolve().parents[2]
out = pathlib.Path(sys.argv[1]) / "corpus"
out.mkdir(parents=True, exist_ok=True)
seeds = []
for line in (root / "runtime/catalogue/catalogue.act").read_text().splitlines():
    if line and not line.startswith("#"):
        seeds.append(line)
        seeds.append(line.split("(")[0])
for f in sorted((root / "tests/golden/errors").glob("*.act")):
    seeds.append(f.read_text(errors="replace"))
for name in ("catalogue", "custom", "bad_input"):
    for case in json.loads((root / f"tests/reference/{name}.json").read_text())["cases"]:
        if "src" in case:
            seeds.append(case["src"])
rng = random.Random(7)
atoms = ["x", "1", "-0", "0.5", "pi", "e", "1e300", "2"]
fns = ["exp", "log", "tanh", "sqrt", "abs", "log1p", "expm1", "erf", "sigmoid", "mish", "softplus",
       "softmax", "log_softmax", "sum", "mean", "max", "min", "stop_gradient"]  # row-wise ones too
seeds += ["chunk(x, 2, 1) * sum(pick(x, 2, 0))", "max(groups(x, 3)) - mean(x)", "maxout(x, 4)",
          "x * sum(chunk(x, 4, 1))", "f(x, k = 2, a = 1) = a * min(groups(x, k))", "glu(chunk(x, 3, 2))"]
def expr(d):
    if d == 0:
        return rng.choice(atoms)
    k = rng.randrange(5)
    if k == 0:
        return f"({expr(d - 1)} {rng.choice('+-*/^')} {expr(d - 1)})"
    if k == 1:
        return f"{rng.choice(fns)}({expr(d - 1)})"
    if k == 2:
        return f"where({expr(d - 1)} > {expr(d - 1)}, {expr(d - 1)}, {expr(d - 1)})"
    if k == 3:
        return f"-{expr(d - 1)}"
    return expr(d - 1)
for _ in range(200):
    seeds.append(expr(4))
for i, s in enumerate(seeds):
    (out / f"seed{i:04d}").write_text(s)
print(f"{len(seeds)} seeds in {out}")
