"""Function transforms against torch.func and against the plain loop they replace.

    python -m bench.transforms [--rounds 10]

per-example gradients: an MLP 64-128-10 at batch 64, as vmap(grad(loss)) over the
batch, beside torch.func's vmap and beside a Python loop of one backward per example.
jacobian: a 100-to-100 function (tanh of a matrix product), row by row (reverse mode)
and column by column (forward mode), beside torch.autograd.functional's.
Medians of interleaved rounds, one thread; ratios are numbagrad / other.
"""
import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402


def per_example(m, batch=64, sizes=(64, 128, 10), loop=False):
    rng = np.random.default_rng(0)
    shapes = [(sizes[1], sizes[0]), (sizes[1],), (sizes[2], sizes[1]), (sizes[2],)]
    params = {f"p{i}": m.tensor(rng.standard_normal(s) * 0.1) for i, s in enumerate(shapes)}
    x = m.tensor(rng.standard_normal((batch, sizes[0])))
    y = m.tensor(rng.integers(0, sizes[2], batch))

    def loss(p, xi, yi):
        h = m.tanh(xi @ p["p0"].T + p["p1"])
        return m.nn.functional.cross_entropy((h @ p["p2"].T + p["p3"]).unsqueeze(0),
                                             yi.unsqueeze(0))

    if loop:
        leaves = {k: v.clone().requires_grad_(True) for k, v in params.items()}

        def run():
            grads = []
            for i in range(batch):
                g = m.autograd.grad(loss(leaves, x[i], y[i]), list(leaves.values()))
                grads.append(g)
            return grads

        return run
    mapped = m.func.vmap(m.func.grad(loss), in_dims=(None, 0, 0))
    return lambda: mapped(params, x, y)


def jacobian(m, strategy, n=100):
    rng = np.random.default_rng(1)
    w, x = m.tensor(rng.standard_normal((n, n)) / 10), m.tensor(rng.standard_normal(n))
    return lambda: m.autograd.functional.jacobian(lambda v: m.tanh(w @ v), x,
                                                  strategy=strategy, vectorize=True)


def main(rounds):
    import torch

    import engine
    from bench.timing import interleaved

    torch.set_num_threads(1)
    t = interleaved({"numbagrad vmap": per_example(engine), "torch vmap": per_example(torch),
                     "numbagrad loop": per_example(engine, loop=True)}, rounds=rounds)
    print("per-example gradients, MLP 64-128-10, batch 64 (1 thread)")
    for name, seconds in t.items():
        print(f"  {name:22} {seconds * 1e3:8.2f} ms")
    print(f"  vmap vs torch vmap {t['numbagrad vmap'] / t['torch vmap']:.2f}, "
          f"vmap vs loop {t['numbagrad vmap'] / t['numbagrad loop']:.2f}")
    t = interleaved({f"{lib.__name__} {s}": jacobian(lib, s) for lib in (engine, torch)
                     for s in ("reverse-mode", "forward-mode")}, rounds=max(3, rounds // 3))
    print("jacobian of tanh(W v), 100 -> 100 (1 thread)")
    for name, seconds in t.items():
        print(f"  {name:22} {seconds * 1e3:8.2f} ms")
    for s in ("reverse-mode", "forward-mode"):
        print(f"  {s}: numbagrad / torch {t['engine ' + s] / t['torch ' + s]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    main(parser.parse_args().rounds)
