#!/usr/bin/python3
"""PyTorch eager next to actjit (issue 3's "≥ 5× PyTorch eager" target):
the custom composites of bench.cpp, written as PyTorch users write them,
forward and backward (autograd), float32, out of cache (64Mi elements) and
in cache (1Mi), plus softmax over rows. Prints a markdown table in
elements/ns. PyTorch comes from Debian (apt-get install python3-torch);
without it the script says so and exits 0.

    /usr/bin/python3 bench/torch_bench.py [--threads N] [--quick]
"""
import sys
import time

try:
    import torch
except ImportError:
    print('(PyTorch not installed: apt-get install python3-torch; skipped)')
    sys.exit(0)

threads = 1
quick = '--quick' in sys.argv
if '--threads' in sys.argv:
    threads = int(sys.argv[sys.argv.index('--threads') + 1])
torch.set_num_threads(threads)

F = torch.nn.functional
CUSTOM = {
    'x*tanh(exp(x))': lambda x: x * torch.tanh(torch.exp(x)),
    'x*sigmoid(1.702*x)': lambda x: x * torch.sigmoid(1.702 * x),
    'x*tanh(softplus(1.5*x))': lambda x: x * torch.tanh(F.softplus(1.5 * x)),
    'x*sigmoid(x)+0.1*tanh(x)': lambda x: x * torch.sigmoid(x) + 0.1 * torch.tanh(x),
    'sqrt(x*x+1)-1': lambda x: torch.sqrt(x * x + 1) - 1,
    'x+sin(x)^2': lambda x: x + torch.sin(x) ** 2,
    'mish (F.mish)': F.mish,
    'gelu (F.gelu)': F.gelu,
    'sigmoid': torch.sigmoid,
}


def rate(fn, n, reps):
    fn()
    best = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t)
    best.sort()
    return n / (best[len(best) // 2] * 1e9)


def main():
    sizes = [1 << 20] if quick else [1 << 20, 1 << 26]
    print(f'PyTorch {torch.__version__} eager, float32, {threads} thread(s), elements/ns\n')
    print('| function | size | forward | backward |\n|---|---|---:|---:|')
    for n in sizes:
        base = torch.linspace(-8, 8, n, dtype=torch.float32)
        dy = torch.ones(n, dtype=torch.float32)
        reps = 3 if n >= 1 << 26 else 9
        for name, f in CUSTOM.items():
            x = base.clone().requires_grad_(True)
            with torch.no_grad():
                fw = rate(lambda: f(base), n, reps)

            def fb():
                x.grad = None
                y = f(x)
                y.backward(dy)
            bw = rate(fb, n, reps)  # forward + backward, as autograd runs them
            print(f'| {name} | {n >> 20}Mi | {fw:.3f} | {bw:.3f} (fwd+bwd) |')
    for cols in [128, 1000, 32768]:
        rows = max(1, (1 << 22) // cols)
        x = torch.randn(rows, cols)
        xg = x.clone().requires_grad_(True)
        g = torch.ones(rows, cols)
        fw = rate(lambda: torch.softmax(x, -1), rows * cols, 9)

        def fb():
            xg.grad = None
            torch.softmax(xg, -1).backward(g)
        bw = rate(fb, rows * cols, 9)
        print(f'| softmax rows of {cols} | {rows}x{cols} | {fw:.3f} | {bw:.3f} (fwd+bwd) |')


main()
