"""Interleaved timing: each round runs every contender once, in rotating order, so that
a noisy neighbour slows them all alike; results are medians over rounds."""
import statistics
import time


def interleaved(contenders, rounds=30, inner=1, warmup=3):
    """{name: median seconds per call} for a dict of zero-argument callables."""
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            contenders[name]()
    samples = {name: [] for name in names}
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            fn = contenders[name]
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(values) for name, values in samples.items()}
