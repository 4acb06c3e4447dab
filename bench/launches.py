"""CUDA kernel launches per step, eager numbagrad against engine.compile.

    python -m bench.launches

Counted on numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1, set here), where every
launch passes through one Python call; small sizes, since the simulator runs each GPU
thread in Python. The count does not depend on the sizes. Rows: the 30-op tiny graph
(forward + backward) and an MLP SGD step (zero_grad, forward, loss, backward, step),
each compiled as a whole step. For the compiled step, its launches are split into fused
groups (elementwise chains, with the sum that reads them; the loss with its backward
and column sums), matrix products (with their activation, if any) and the rest (the
optimizer's one multi-tensor launch).
"""
import os

os.environ["NUMBA_ENABLE_CUDASIM"] = "1"

import numpy as np  # noqa: E402

import engine  # noqa: E402
from bench import workloads  # noqa: E402
from bench.compile import tiny  # noqa: E402


class Launches:
    """Counts kernel launches (not device-function calls) while it is entered."""

    def __enter__(self):
        from numba.cuda.simulator import kernel as simulated

        self.count, self._kernel = 0, simulated.FakeCUDAKernel
        call = self._call = simulated.FakeCUDAKernel.__call__

        def counting(kernel, *args):
            self.count += not kernel._device
            return call(kernel, *args)

        simulated.FakeCUDAKernel.__call__ = counting
        return self

    def __exit__(self, *exc):
        self._kernel.__call__ = self._call


def per_step(step, steps=3):
    """Launches of the last of `steps` calls (the first compiled one traces)."""
    for _ in range(steps - 1):
        step()
    with Launches() as launches:
        step()
    return launches.count


def kinds(compiled):
    """(fused groups, matrix products) in the compiled step's graph: a product with an
    activation as its epilogue ("addmm+relu") is a product."""
    graph = compiled.graphs[0]
    ops = [graph.nodes[n]["op"].op_name for n in graph if graph.nodes[n]["kind"] == "op"]
    products = [name.split("+")[0] in ("mm", "addmm", "matmul", "bmm", "baddbmm")
                for name in ops]
    return (sum(name.startswith("fused[") for name in ops), sum(products))


def mlp(compiler):
    arrays = workloads.mlp_params(sizes=(16, 8, 8, 4))
    x = np.random.default_rng(1).standard_normal((4, 16)).astype(np.float32)
    step = workloads.framework_mlp_step(engine, arrays, x, np.array([0, 1, 2, 3]),
                                        device="cuda")
    return compiler(step) if compiler else step


def main():
    print(f"{'workload':40} {'eager':>6} {'compiled':>9}   of which: fused, GEMMs, other")
    for title, make in (("tiny graph, 30 ops, forward + backward",
                         lambda c: tiny(engine, c, device="cuda")),
                        ("MLP SGD step (16-8-8-4, batch 4)", mlp)):
        eager = per_step(make(None))
        compiled_step = make(engine.compile)
        compiled = per_step(compiled_step)
        fused, gemms = kinds(compiled_step)
        print(f"{title:40} {eager:6} {compiled:9}   {fused}, {gemms}, "
              f"{compiled - fused - gemms}")


if __name__ == "__main__":
    main()
