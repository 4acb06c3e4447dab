"""engine.compile against eager numbagrad, PyTorch eager and torch.compile.

    python -m bench.compile [--rounds 20] [--skip-torch-compile]

One thread. Rows: the 30-op tiny graph (forward + backward), the MLP 784-512-512-10
SGD step at batch 64 and 512 (zero_grad, forward, loss, backward, step), the 10,000-op
chain (forward + backward); and the first compiled call, in a fresh process, with
numba's cache cold and warm. What is compiled is each row's whole step function, as a
user compiles a training step. Medians of interleaved rounds; ratios are numbagrad
compiled / other.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

from bench import workloads  # noqa: E402


def tiny(m, compiler=None, device="cpu"):
    a = m.tensor(np.linspace(0.1, 1.0, 16).astype(np.float32), requires_grad=True,
                 device=device)
    b = m.tensor(np.linspace(1.0, 2.0, 16).astype(np.float32), requires_grad=True,
                 device=device)

    def f(a, b):
        c = a * b
        for _ in range(9):
            c = (c + a).tanh() * b
        return c.sum()

    def step():
        f(a, b).backward()
        a.grad = None
        b.grad = None

    return compiler(step) if compiler else step


def mlp(m, batch, compiler=None):
    arrays = workloads.mlp_params()
    x, y = workloads.batch(batch)
    params = [m.tensor(a, requires_grad=True) for a in arrays]
    xs, ys = m.tensor(x), m.tensor(y)
    F = m.nn.functional

    def loss_of(x, y):
        h = x
        for i in range(0, len(params) - 2, 2):
            h = F.relu(F.linear(h, params[i], params[i + 1]))
        return F.cross_entropy(F.linear(h, params[-2], params[-1]), y)

    optimizer = m.optim.SGD(params, lr=0.01)

    def step():
        optimizer.zero_grad()
        loss_of(xs, ys).backward()
        optimizer.step()

    return compiler(step) if compiler else step


def chain(m, compiler=None, length=10_000):
    x = m.tensor([1.0], requires_grad=True)

    def f(x):
        y = x
        for _ in range(length):
            y = y * 1.0001
        return y.sum()

    def step():
        f(x).backward()
        x.grad = None

    return compiler(step) if compiler else step


_FIRST_CALL = """
import os, time
os.environ["NUMBAGRAD_COMPILE_CACHE"] = {cache!r}
start = time.perf_counter()
import engine
from bench.compile import mlp
step = mlp(engine, 64, engine.compile)
step()
print(time.perf_counter() - start)
"""


def first_call(cache):
    """Seconds from `import engine` to the end of the first compiled MLP step, in a fresh
    process whose compile cache is `cache` (numba's own cache lives beside it)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": os.path.join(cache, "numba")}
    out = subprocess.run([sys.executable, "-c", _FIRST_CALL.format(cache=cache)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


def main(rounds, torch_compile):
    import torch

    import engine
    from bench.timing import interleaved

    torch.set_num_threads(1)
    rows = [("tiny graph, 30 ops, forward + backward", lambda m, c: tiny(m, c), rounds, 20),
            ("MLP SGD step, batch 64", lambda m, c: mlp(m, 64, c), rounds, 1),
            ("MLP SGD step, batch 512", lambda m, c: mlp(m, 512, c), max(5, rounds // 2), 1),
            ("10,000-op chain, forward + backward", lambda m, c: chain(m, c),
             max(3, rounds // 5), 1)]
    print(f"{'workload':40} {'compiled':>10} {'eager':>10} {'torch':>10} {'torch.compile':>14}"
          f" {'vs eager':>9} {'vs torch':>9} {'vs t.comp':>9}")
    for title, make, n, inner in rows:
        contenders = {"compiled": make(engine, engine.compile), "eager": make(engine, None),
                      "torch": make(torch, None)}
        if torch_compile and "chain" not in title:
            start = time.perf_counter()
            contenders["torch.compile"] = make(torch, torch.compile)
            contenders["torch.compile"]()
            print(f"  (torch.compile's first call: {time.perf_counter() - start:.1f} s)")
        times = interleaved(contenders, rounds=n, inner=inner)
        c = times["compiled"]
        tc = times.get("torch.compile")
        print(f"{title:40} {c * 1e6:9.0f}u {times['eager'] * 1e6:9.0f}u "
              f"{times['torch'] * 1e6:9.0f}u "
              f"{(f'{tc * 1e6:13.0f}u' if tc else '             -')} "
              f"{c / times['eager']:9.2f} {c / times['torch']:9.2f} "
              f"{(f'{c / tc:9.2f}' if tc else '        -')}")
    with tempfile.TemporaryDirectory() as cache:
        cold = first_call(cache)
        warm = first_call(cache)
    print(f"\nfirst compiled MLP step in a new process (import included): cold cache "
          f"{cold:.1f} s, warm cache {warm:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--skip-torch-compile", action="store_true")
    args = parser.parse_args()
    main(args.rounds, not args.skip_torch_compile)
