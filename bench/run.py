"""Benchmarks against PyTorch and NumPy doing the same work in the same process.

    python -m bench.run                      # everything, 1 thread then 2 threads
    python -m bench.run --threads 1 --only mlp64,adam --rounds 20

Each row is a median over interleaved rounds (every contender once per round, in
rotating order, so a noisy neighbour slows all of them alike); ratios are
numbagrad / other, so below 1 means numbagrad is faster. Thread counts are pinned
before numpy and torch load their BLAS (OpenBLAS, MKL, OpenMP and numba all read the
same variables), which is why each thread count runs in a child process.
"""
import argparse
import os
import subprocess
import sys
import tempfile

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
               "NUMBA_NUM_THREADS")
TITLES = {
    "mlp64": "MLP 784-512-512-10 SGD step, batch 64",
    "mlp512": "MLP 784-512-512-10 SGD step, batch 512",
    "cnn": "CNN 2x(conv 3x3, pool) SGD step, batch 64",
    "tiny": "tiny graph: 30 ops forward + backward",
    "add": "c = a + b; c.backward()",
    "chain": "10,000-op chain forward + backward",
    "gemm": "GEMM 512 x 512 x 512",
    "elementwise": "a + b, 8M float32 (new output)",
    "elementwise_": "a.add_(b), 8M float32 (in place)",
    "adam": "Adam step, 1M parameters",
    "loader0": "DataLoader epoch, 8192 x 784, 0 workers",
    "loader2": "DataLoader epoch, 8192 x 784, 2 workers",
}
ONE_THREAD_ONLY = {"cnn", "tiny", "add", "chain", "loader0", "loader2", "elementwise",
                   "elementwise_", "adam"}


def _contenders(key, engine, torch, w, bare_autograd):
    both = lambda fn, *a: {"numbagrad": fn(engine, *a), "torch": fn(torch, *a)}  # noqa: E731
    if key.startswith("mlp"):
        params = w.mlp_params()
        x, y = w.batch(int(key[3:]))
        return {"numbagrad": w.framework_mlp_step(engine, params, x, y),
                "torch": w.framework_mlp_step(torch, params, x, y),
                "numpy": w.numpy_mlp_step(params, x, y)}
    if key == "cnn":
        params = w.cnn_params()
        x, y = w.images(64)
        return {"numbagrad": w.framework_cnn_step(engine, params, x, y),
                "torch": w.framework_cnn_step(torch, params, x, y)}
    if key == "tiny":  # its NumPy column: the barest autograd, the floor of this design
        return {**both(w.tiny_graph), "numpy": bare_autograd.tiny_graph()}
    if key == "add":
        return both(w.add_backward)
    if key == "chain":
        return both(w.chain)
    if key == "gemm":
        return {**both(w.gemm), "numpy": w.numpy_gemm()}
    if key.startswith("elementwise"):
        inplace = key.endswith("_")
        return {"numbagrad": w.elementwise(engine, inplace=inplace),
                "torch": w.elementwise(torch, inplace=inplace),
                "numpy": w.numpy_elementwise(inplace=inplace), "copy": w.copy_bandwidth()}
    if key == "adam":
        return {**both(w.adam), "numpy": w.numpy_adam()}
    if key.startswith("loader"):
        return both(w.loader_epoch, int(key[6:]))
    raise KeyError(key)


def _rounds(key, rounds):
    return max(3, rounds // 10) if key in ("chain", "loader0", "loader2") else rounds


def _inner(key):
    return 20 if key in ("tiny", "add") else 1


def measure(keys, threads, rounds):
    import torch

    import engine
    from bench import bare_autograd, workloads
    from bench.timing import interleaved

    torch.set_num_threads(threads)
    print(f"\nthreads={threads}, medians of interleaved rounds; ratio = numbagrad / other")
    print(f"{'benchmark':42} {'numbagrad':>10} {'torch':>10} {'numpy':>10} "
          f"{'vs torch':>8} {'vs numpy':>8}")
    for key in keys:
        if threads > 1 and key in ONE_THREAD_ONLY:
            continue
        t = interleaved(_contenders(key, engine, torch, workloads, bare_autograd),
                        rounds=_rounds(key, rounds), inner=_inner(key))
        ours, numpy_time = t["numbagrad"], t.get("numpy")
        line = (f"{TITLES[key]:42} {_ms(ours)} {_ms(t['torch'])} "
                f"{_ms(numpy_time) if numpy_time else '         -'} "
                f"{ours / t['torch']:8.2f} {ours / numpy_time if numpy_time else 0:8.2f}")
        if "copy" in t:  # bytes moved: two reads and one write of 32 MB
            moved = 3 * (1 << 23) * 4
            line += (f"   {moved / ours / 1e9:.1f} GB/s = "
                     f"{(moved / ours) / (2 * (1 << 23) * 4 / t['copy']):.0%} of copy "
                     f"({2 * (1 << 23) * 4 / t['copy'] / 1e9:.1f} GB/s)")
        print(line.replace(" 0.00", "    -"), flush=True)


def _ms(seconds):
    return f"{seconds * 1e3:8.3f}ms"


def startup(runs=3):
    """First step in a fresh process: numbagrad with an empty and a warm numba cache.

    The children cache Python bytecode as a default interpreter does, even where this
    shell sets PYTHONDONTWRITEBYTECODE: without it every start recompiles numbagrad's
    sources (~0.2 s here), while torch, numpy and numba import from the .pyc files pip
    wrote at install time, so the comparison would not be like for like.
    """
    import statistics

    here = os.path.dirname(os.path.abspath(__file__))
    script = os.path.join(here, "startup.py")
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

    def once(framework, cache_dir):
        env = dict(base_env, NUMBA_CACHE_DIR=cache_dir, OMP_NUM_THREADS="1",
                   OPENBLAS_NUM_THREADS="1")
        out = subprocess.run([sys.executable, script, framework], env=env, capture_output=True,
                             text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])

    empty, warm, theirs = [], [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as cache:
            empty.append(once("engine", cache))
            warm.append(once("engine", cache))
        theirs.append(once("torch", tempfile.gettempdir()))
    print("\nstart-up: seconds from a fresh process to the end of the first MLP step "
          f"(median of {runs})")
    print(f"  numbagrad, empty numba cache  {statistics.median(empty):6.2f} s")
    print(f"  numbagrad, warm numba cache   {statistics.median(warm):6.2f} s")
    print(f"  torch                         {statistics.median(theirs):6.2f} s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2", help="thread counts, e.g. 1 or 1,2")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--only", default="", help=f"comma-separated: {', '.join(TITLES)}, "
                                                   "startup")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    keys = [k for k in TITLES if not args.only or k in args.only.split(",")]
    if args.child:
        measure(keys, int(args.threads), args.rounds)
        return
    for threads in [int(n) for n in args.threads.split(",")]:
        env = dict(os.environ, **{var: str(threads) for var in THREAD_VARS})
        subprocess.run([sys.executable, "-m", "bench.run", "--child", "--threads",
                        str(threads), "--rounds", str(args.rounds), "--only", ",".join(keys)],
                       env=env, check=True)
    if not args.only or "startup" in args.only.split(","):
        startup()


if __name__ == "__main__":
    main()
