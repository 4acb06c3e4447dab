"""Random numbers on the CPU, drawn from a numpy Generator (PCG64) that callers seed."""
import numpy as np


def generator(seed):
    return np.random.Generator(np.random.PCG64(seed))


def saved_state(gen):
    """A copy of `gen`'s state that `load_state` puts back."""
    return gen.bit_generator.state


def load_state(gen, saved):
    gen.bit_generator.state = saved


def reseed(gen, seed):
    """Seed `gen` in place: whoever holds it (a compiled graph's random op) draws the
    new stream."""
    gen.bit_generator.state = np.random.PCG64(seed).state


def uniform(gen, shape, low, high, dtype):
    out = gen.random(shape, dtype=np.float64 if np.dtype(dtype) == np.float64 else np.float32)
    if low != 0.0 or high != 1.0:
        out = out * (high - low) + low
    return out.astype(dtype, copy=False)


def normal(gen, shape, mean, std, dtype):
    out = gen.standard_normal(shape, dtype=np.float64 if np.dtype(dtype) == np.float64
                              else np.float32)
    if mean != 0.0 or std != 1.0:
        out = out * std + mean
    return out.astype(dtype, copy=False)


def randint(gen, low, high, shape, dtype):
    return gen.integers(low, high, shape, dtype=dtype)


def multinomial(gen, weights, num_samples, replacement):
    """int64 indices drawn with probability proportional to `weights` (1-d, non-negative)."""
    p = weights.astype(np.float64) / weights.sum(dtype=np.float64)
    return gen.choice(len(p), size=num_samples, replace=replacement, p=p).astype(np.int64)


def bernoulli(gen, shape, p, dtype):
    """1 with probability p, else 0."""
    return (gen.random(shape, dtype=np.float32) < p).astype(dtype)
