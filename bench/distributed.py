"""Data-parallel training over MPI: allreduce bandwidth and DDP throughput.

    python -m bench.distributed [--rounds 20]

It starts its own MPI jobs (mpiexec, one thread per rank):
- allreduce on 2 ranks, float32 arrays of 4 KiB to 64 MiB: engine.distributed.all_reduce
  on tensors beside raw mpi4py on numpy arrays (blocking Allreduce) and beside PyTorch's
  gloo backend on the same ranks; bandwidth is bytes / median seconds.
- DistributedDataParallel, MLP 784-512-512-10, SGD, batch 512 per rank: samples per
  second on 2 ranks against 1 rank (1-rank and 2-rank jobs alternate), beside PyTorch's
  DDP (gloo) in the same jobs, beside the same step compiled whole (engine.compile),
  and beside each rank training alone with no allreduce at all (what this machine's
  cores and memory allow two processes at once).
Interleaved rounds, medians; rank 0 reports.
"""
import argparse
import json
import os
import subprocess
import sys

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

SIZES = [4 << 10, 256 << 10, 4 << 20, 64 << 20]


def _torch_group(torch, rank, size):
    """PyTorch's gloo group on the same ranks (the port from the launcher's env)."""
    import torch.distributed as tdist

    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    tdist.init_process_group("gloo", rank=rank, world_size=size)
    return tdist


def allreduce_job(rounds):
    import numpy as np
    import torch

    import engine
    import engine.distributed as dist
    from bench.timing import interleaved

    torch.set_num_threads(1)
    dist.init_process_group("mpi")
    comm = dist.group.WORLD.comm
    tdist = _torch_group(torch, dist.get_rank(), dist.get_world_size())
    results = {}
    for nbytes in SIZES:
        n = nbytes // 4
        ours, raw, theirs = engine.ones(n), np.ones(n, np.float32), torch.ones(n)
        from mpi4py import MPI

        inner = max(1, (1 << 22) // nbytes)
        results[nbytes] = interleaved({
            "numbagrad": lambda: dist.all_reduce(ours),
            "mpi4py": lambda: comm.Allreduce(MPI.IN_PLACE, raw),
            "torch gloo": lambda: tdist.all_reduce(theirs),
        }, rounds=rounds, inner=inner)
    tdist.destroy_process_group()
    return {str(k): v for k, v in results.items()}


def mlp_step(m, ddp_class, batch, seed=0, compiled=False, **options):
    """One SGD step of an MLP wrapped in DDP (when ddp_class is given), the whole step
    compiled if `compiled`."""
    m.manual_seed(seed)
    model = m.nn.Sequential(m.nn.Linear(784, 512), m.nn.ReLU(), m.nn.Linear(512, 512),
                            m.nn.ReLU(), m.nn.Linear(512, 10))
    if ddp_class is not None:
        model = ddp_class(model, **options)
    opt = m.optim.SGD(model.parameters(), lr=0.01)
    x, y = m.randn(batch, 784), m.randint(0, 10, (batch,))
    # with gradients as views of the buckets, keep them: backward then adds into the
    # bucket itself, and no gradient is copied in or out
    set_to_none = not options.get("gradient_as_bucket_view", False)

    def step():
        opt.zero_grad(set_to_none=set_to_none)
        m.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    return m.compile(step) if compiled else step


def ddp_job(rounds, batch):
    import torch

    import engine
    import engine.distributed as dist
    from bench.timing import interleaved

    torch.set_num_threads(1)
    dist.init_process_group("mpi")
    size = dist.get_world_size()
    tdist = _torch_group(torch, dist.get_rank(), size)
    parallel = size > 1
    times = interleaved({
        "numbagrad": mlp_step(engine, engine.nn.parallel.DistributedDataParallel
                              if parallel else None, batch),
        "numbagrad, grads as bucket views": mlp_step(
            engine, engine.nn.parallel.DistributedDataParallel if parallel else None, batch,
            gradient_as_bucket_view=parallel),
        "numbagrad, step compiled": mlp_step(
            engine, engine.nn.parallel.DistributedDataParallel if parallel else None, batch,
            compiled=True),
        # every rank training alone at once: what the machine allows with no
        # communication at all, the ceiling of any data-parallel speed-up here
        "no allreduce": mlp_step(engine, None, batch),
        "torch": mlp_step(torch, torch.nn.parallel.DistributedDataParallel
                          if parallel else None, batch),
    }, rounds=rounds)
    tdist.destroy_process_group()
    return times


def _job(nproc, kind, rounds, port):
    from engine.distributed.mpi import find_mpiexec

    mpiexec = find_mpiexec()
    if mpiexec is None:
        sys.exit("bench.distributed needs mpiexec: pip install mpi4py mpich")
    env = {**os.environ, "MASTER_PORT": str(port)}
    out = subprocess.run([mpiexec, "-n", str(nproc), sys.executable, "-m", "bench.distributed",
                          "--job", kind, "--rounds", str(rounds)], env=env,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def main(rounds, batch=512):
    import statistics

    bandwidth = _job(2, "allreduce", rounds, 29511)
    print("allreduce on 2 ranks (GB/s; ratio = numbagrad / other)")
    print(f"{'size':>10} {'numbagrad':>10} {'mpi4py':>10} {'gloo':>10} {'vs mpi4py':>10} "
          f"{'vs gloo':>10}")
    for nbytes in SIZES:
        t = bandwidth[str(nbytes)]
        gbs = {k: nbytes / v / 1e9 for k, v in t.items()}
        print(f"{_size(nbytes):>10} {gbs['numbagrad']:10.2f} {gbs['mpi4py']:10.2f} "
              f"{gbs['torch gloo']:10.2f} {t['mpi4py'] / t['numbagrad']:10.2f} "
              f"{t['torch gloo'] / t['numbagrad']:10.2f}")
    steps = {1: [], 2: []}
    for i in range(3):  # 1-rank and 2-rank jobs alternate
        for nproc in (1, 2):
            steps[nproc].append(_job(nproc, "ddp", rounds, 29520 + 2 * i + nproc))
    print(f"\nDDP, MLP 784-512-512-10, batch {batch} per rank, SGD (samples/s)")
    for name in ("numbagrad", "numbagrad, grads as bucket views", "numbagrad, step compiled",
                 "torch", "no allreduce"):
        one = statistics.median(s[name] for s in steps[1])
        two = statistics.median(s[name] for s in steps[2])
        print(f"{name:>32}: 1 rank {batch / one:8.0f}, 2 ranks {2 * batch / two:8.0f}, "
              f"speed-up {2 * one / two:.2f}x")


def _size(nbytes):
    return f"{nbytes >> 20} MiB" if nbytes >= 1 << 20 else f"{nbytes >> 10} KiB"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--job", choices=["allreduce", "ddp"])
    args = parser.parse_args()
    if args.job is None:
        main(args.rounds)
    else:
        result = allreduce_job(args.rounds) if args.job == "allreduce" else ddp_job(
            args.rounds, 512)
        import engine.distributed as dist

        if dist.get_rank() == 0:
            print(json.dumps(result), flush=True)
