"""Random numbers on the GPU from numba's xoroshiro128+ generators, one state per thread.

A generator is a fixed set of states (one per thread of the launch); each thread draws
the numbers for the elements it visits, so a launch needs no coordination.
"""
import math
import warnings

import numpy as np
from numba.cuda.random import (
    xoroshiro128p_dtype, xoroshiro128p_normal_float32, xoroshiro128p_normal_float64,
    xoroshiro128p_uniform_float32, xoroshiro128p_uniform_float64,
)

from . import elementwise as ew
from .array import empty
from .layout import contiguous
from .runtime import SIMULATED, cuda, grid

if SIMULATED:  # the simulator runs xoroshiro's wrapping uint64 arithmetic in numpy
    warnings.filterwarnings("ignore", "overflow encountered", RuntimeWarning, __name__)

_STATES = grid(1 << 30)  # the largest launch any kernel here uses


def _splitmix64(x):
    """SplitMix64, the seeding function xoroshiro's authors recommend, over uint64 arrays."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def generator(seed):
    """One xoroshiro128+ state per thread, each seeded by SplitMix64 from (seed, thread).

    (numba's own seeding jumps each state 2**64 steps ahead in a loop on the host, which
    takes seconds under the simulator; SplitMix64 streams are the standard alternative.)
    """
    return cuda.to_device(_seeded(seed))


def saved_state(states):
    """A copy of the generator `states`, on the device (no trip through the host), that
    `load_state` puts back."""
    words = states.view(np.uint64)  # as plain words: the simulator cannot copy the records
    saved = cuda.device_array(words.shape, np.uint64)
    saved.copy_to_device(words)
    return saved


def load_state(states, saved):
    states.view(np.uint64).copy_to_device(saved)


def reseed(states, seed):
    """Seed the generator `states` in place: whoever holds them (a compiled graph's
    random op) draws the new stream."""
    states.copy_to_device(_seeded(seed))


def _seeded(seed):
    blocks, threads = _STATES
    stream = np.arange(blocks * threads, dtype=np.uint64) * np.uint64(2)
    base = np.uint64(seed % (1 << 64))
    states = np.empty(blocks * threads, dtype=xoroshiro128p_dtype)
    states["s0"] = _splitmix64(base + stream)
    states["s1"] = _splitmix64(base + stream + np.uint64(1))
    return states


@cuda.jit
def _scaled(states, out, shift, scale, double, gaussian, n):
    """out = draw * scale + shift, each draw uniform on [0, 1) or standard normal, in
    float64 (double) or float32."""
    t = cuda.grid(1)
    i = t
    while i < n:
        if gaussian:
            z = xoroshiro128p_normal_float64(states, t) if double else \
                xoroshiro128p_normal_float32(states, t)
        else:
            z = xoroshiro128p_uniform_float64(states, t) if double else \
                xoroshiro128p_uniform_float32(states, t)
        out[i] = z * scale + shift
        i += cuda.gridsize(1)


@cuda.jit
def _integers(states, out, low, span, n):
    t = cuda.grid(1)
    i = t
    while i < n:
        k = int(math.floor(xoroshiro128p_uniform_float64(states, t) * span))
        out[i] = low + (k if k < span else span - 1)
        i += cuda.gridsize(1)


def _draw(kernel, gen, shape, dtype, *args):
    out = empty(shape, dtype)
    if out.size:
        kernel[_STATES](gen, out.buffer, *args, out.size)
    return out


def uniform(gen, shape, low, high, dtype):
    double = np.dtype(dtype) == np.float64
    return _draw(_scaled, gen, shape, dtype, float(low), float(high - low), double, False)


def normal(gen, shape, mean, std, dtype):
    double = np.dtype(dtype) == np.float64
    return _draw(_scaled, gen, shape, dtype, float(mean), float(std), double, True)


def randint(gen, low, high, shape, dtype):
    return _draw(_integers, gen, shape, dtype, int(low), int(high - low))


def bernoulli(gen, shape, p, dtype):
    """1 with probability p, else 0."""
    return ew.identity(ew.lt(uniform(gen, shape, 0.0, 1.0, np.float32), p),
                       out=empty(shape, dtype))


@cuda.jit
def _cumulative(weights, total, n):
    """Running sums of the weights, in one thread (categories are few next to samples)."""
    if cuda.grid(1) == 0:
        acc = 0.0
        for i in range(n):
            acc += weights[i]
            total[i] = acc


@cuda.jit
def _search(total, n, draws, out, count):
    """Inverse CDF: the first category whose running sum exceeds u * sum."""
    i = cuda.grid(1)
    while i < count:
        target = draws[i] * total[n - 1]
        lo, hi = 0, n - 1
        while lo < hi:
            mid = (lo + hi) // 2
            if total[mid] > target:
                hi = mid
            else:
                lo = mid + 1
        out[i] = lo
        i += cuda.gridsize(1)


@cuda.jit
def _largest(keys, n, out, count):
    """The indices of the `count` largest keys, largest first, in one thread."""
    if cuda.grid(1) == 0:
        for r in range(count):
            best, at = -1.0, 0
            for i in range(n):
                if keys[i] > best:
                    best, at = keys[i], i
            out[r] = at
            keys[at] = -2.0


def multinomial(gen, weights, num_samples, replacement):
    """int64 indices drawn with probability proportional to `weights` (1-d, non-negative)."""
    n = weights.shape[0]
    w = ew.identity(contiguous(weights), out=empty((n,), np.float64))
    out = empty((num_samples,), np.int64)
    if replacement:
        total = empty((n,), np.float64)
        _cumulative[1, 1](w.buffer, total.buffer, n)
        draws = uniform(gen, (num_samples,), 0.0, 1.0, np.float64)
        _search[grid(num_samples)](total.buffer, n, draws.buffer, out.buffer, num_samples)
        return out
    # Without replacement: the num_samples largest keys u ** (1 / w) (Efraimidis-Spirakis).
    keys = ew.pow(uniform(gen, (n,), 0.0, 1.0, np.float64), ew.div(1.0, w))
    _largest[1, 1](keys.buffer, n, out.buffer, num_samples)
    return out
