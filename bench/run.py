"""Run the benchmarks and print each as a ratio against PyTorch and NumPy.

    python -m bench.run [--threads 1] [--rounds 30] [--only mlp64,tiny]

Thread counts are pinned before numpy and torch load (OpenBLAS, MKL, OpenMP and
numba all read these variables), so every contender gets the same number.
"""
import argparse
import os
import sys


def _pin_threads(n):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(n)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--only", default="")
    args = parser.parse_args(argv)
    _pin_threads(args.threads)

    import torch

    import engine
    from bench import workloads
    from bench.timing import interleaved

    torch.set_num_threads(args.threads)
    cases = {
        "mlp64": ("MLP 784-512-512-10 train step, batch 64", 64),
        "mlp512": ("MLP 784-512-512-10 train step, batch 512", 512),
        "tiny": ("tiny graph: 30 ops forward + backward", None),
        "add": ("c = a + b; c.backward()", None),
    }
    chosen = [c for c in cases if not args.only or c in args.only.split(",")]
    print(f"threads={args.threads} rounds={args.rounds} (medians; ratio = numbagrad / other)")
    print(f"{'benchmark':45} {'numbagrad':>11} {'torch':>11} {'numpy':>11} "
          f"{'vs torch':>9} {'vs numpy':>9}")
    for key in chosen:
        title, size = cases[key]
        contenders = {}
        if key.startswith("mlp"):
            params = workloads.mlp_params()
            x, y = workloads.batch(size)
            contenders["numbagrad"] = workloads.framework_mlp_step(engine, params, x, y)
            contenders["torch"] = workloads.framework_mlp_step(torch, params, x, y)
            contenders["numpy"] = workloads.numpy_mlp_step(params, x, y)
        elif key == "tiny":
            contenders = {"numbagrad": workloads.tiny_graph(engine),
                          "torch": workloads.tiny_graph(torch)}
        else:
            contenders = {"numbagrad": workloads.add_backward(engine),
                          "torch": workloads.add_backward(torch)}
        inner = 1 if key.startswith("mlp") else 20
        t = interleaved(contenders, rounds=args.rounds, inner=inner)
        ours = t["numbagrad"]
        numpy_time = t.get("numpy")
        print(f"{title:45} {ours * 1e3:9.3f}ms {t['torch'] * 1e3:9.3f}ms "
              f"{(f'{numpy_time * 1e3:9.3f}ms') if numpy_time else '          -'} "
              f"{ours / t['torch']:9.2f} "
              f"{(f'{ours / numpy_time:9.2f}') if numpy_time else '        -'}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
