"""GPU benchmarks: numbagrad's CUDA backend against PyTorch on the same GPU.

    python -m bench.gpu [--rounds 30]

Needs a real GPU and a CUDA build of PyTorch (the numba simulator is refused: its
timings would mean nothing). Every timed call ends with a synchronize, so a row is
the time until the GPU has finished the work; rows are medians of interleaved rounds,
ratio = numbagrad / torch. NumPy on the host is shown for scale.
"""
import argparse
import os
import sys


def _synchronized(fn, sync):
    def run():
        fn()
        sync()

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args(argv)
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "0")
    import torch

    import engine
    from bench import workloads as w
    from bench.timing import interleaved

    if not engine.cuda.is_available() or os.environ["NUMBA_ENABLE_CUDASIM"] == "1":
        sys.exit("bench.gpu: no GPU for numbagrad here (the simulator is not timed)")
    if not torch.cuda.is_available():
        sys.exit("bench.gpu: this PyTorch build has no CUDA; install a CUDA build to compare")
    print(f"GPU: {engine.cuda.get_device_name()}; torch {torch.__version__}; "
          f"medians of {args.rounds} interleaved rounds; ratio = numbagrad / torch")
    print(f"{'benchmark':40} {'numbagrad':>11} {'torch':>11} {'numpy':>11} {'vs torch':>8}")
    ours_sync, theirs_sync = engine.cuda.synchronize, torch.cuda.synchronize
    rows = []
    for size in (64, 512, 4096):
        x, y = w.batch(size)
        rows.append((f"MLP 784-512-512-10 SGD step, batch {size}",
                     lambda m, x=x, y=y: w.framework_mlp_step(m, w.mlp_params(), x, y,
                                                              device="cuda"),
                     w.numpy_mlp_step(w.mlp_params(), x, y)))
    for n in (512, 2048):
        rows.append((f"GEMM {n} x {n} x {n}, float32", lambda m, n=n: w.gemm(m, n, "cuda"),
                     w.numpy_gemm(n)))
    for title, make, numpy_fn in rows:
        contenders = {"numbagrad": _synchronized(make(engine), ours_sync),
                      "torch": _synchronized(make(torch), theirs_sync),
                      "numpy": numpy_fn}
        t = interleaved(contenders, rounds=args.rounds, warmup=3)
        print(f"{title:40} {t['numbagrad'] * 1e3:9.3f}ms {t['torch'] * 1e3:9.3f}ms "
              f"{t['numpy'] * 1e3:9.3f}ms {t['numbagrad'] / t['torch']:8.2f}", flush=True)


if __name__ == "__main__":
    main()
