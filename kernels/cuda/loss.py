"""Fused cross-entropy over (N, C) logits: one block of threads per row, forward and backward.

Each row's max and sum of exponentials are block reductions in shared memory; the
forward writes one loss and one weight per row, the backward the row's gradient,
with no (N, C) array of log-probabilities in between. A mean or summed loss is one
launch too: each block sums its rows, and the last block to finish adds the blocks'
sums in block order (so the result is the same at every run) and divides.
"""
import functools
import math

import numba
import numpy as np

from .. import scalar
from ..bounds import check_classes
from .array import empty
from .memory import to_numpy
from .blockreduce import block_max, block_sum
from .layout import contiguous
from .runtime import MAX_BLOCKS, ROW_THREADS, cuda

RT = ROW_THREADS


@cuda.jit(device=True)
def _row_stats(buf, x, row, C):
    """(max, sum of exp(x - max)) of one row, shared by every thread of the block."""
    base = row * C
    m = -math.inf
    for j in range(cuda.threadIdx.x, C, cuda.blockDim.x):
        v = x[base + j]
        m = v if v > m else m  # (numba's CUDA target rejects the builtin max here)
    m = block_max(buf, m)
    s = 0.0
    for j in range(cuda.threadIdx.x, C, cuda.blockDim.x):
        s += math.exp(x[base + j] - m)
    return m, block_sum(buf, s)


@cuda.jit(device=True)
def _row_loss(buf, x, target, weight, ignore_index, i, C):
    """(weight[t] * (logsumexp(x_i) - x_i[t]), weight[t]) for row i, (0, 0) where its
    target is ignored; every thread of the block gets them."""
    t = target[i]
    if t == ignore_index:
        return 0.0, 0.0
    m, s = _row_stats(buf, x, i, C)
    return weight[t] * ((m - x[i * C + t]) + math.log(s)), weight[t]  # exact for huge m


_div = cuda.jit(device=True)(scalar.div)


@functools.cache
def _kernels(dtype):
    kind = numba.from_dtype(dtype)

    @cuda.jit
    def rows(x, target, weight, ignore_index, N, C, losses, weights):
        buf = cuda.shared.array(RT, numba.float64)
        for i in range(cuda.blockIdx.x, N, cuda.gridDim.x):
            loss, w = _row_loss(buf, x, target, weight, ignore_index, i, C)
            if cuda.threadIdx.x == 0:
                losses[i] = kind(loss)
                weights[i] = w

    @cuda.jit
    def reduced(x, target, weight, ignore_index, N, C, mean, partials, ticket, out,
                out_weight):
        buf = cuda.shared.array(RT, numba.float64)
        total = 0.0
        total_weight = 0.0
        for i in range(cuda.blockIdx.x, N, cuda.gridDim.x):
            loss, w = _row_loss(buf, x, target, weight, ignore_index, i, C)
            total += kind(loss)  # each row's loss rounded as `rows` writes it
            total_weight += w
        if cuda.threadIdx.x == 0:
            b = cuda.blockIdx.x
            partials[2 * b] = total
            partials[2 * b + 1] = total_weight
            cuda.threadfence()  # the sums are seen before the ticket is taken
            if cuda.atomic.add(ticket, 0, 1) == cuda.gridDim.x - 1:  # the last block
                total = 0.0
                total_weight = 0.0
                for k in range(cuda.gridDim.x):  # atomics read from L2, past any cache
                    total += cuda.atomic.add(partials, 2 * k, 0.0)
                    total_weight += cuda.atomic.add(partials, 2 * k + 1, 0.0)
                summed, weights = kind(total), kind(total_weight)
                out[0] = kind(_div(summed, weights)) if mean else summed
                out_weight[0] = weights
                ticket[0] = 0  # for the next launch: kernels on a stream run in order

    @cuda.jit
    def grad_rows(g, g_at, g_step, x, target, weight, ignore_index, N, C, out):
        buf = cuda.shared.array(RT, numba.float64)
        for i in range(cuda.blockIdx.x, N, cuda.gridDim.x):
            t = target[i]
            base = i * C
            if t == ignore_index:
                for j in range(cuda.threadIdx.x, C, cuda.blockDim.x):
                    out[base + j] = 0
                continue
            m, s = _row_stats(buf, x, i, C)
            gi = g[g_at + i * g_step]
            scale = gi * weight[t] / s
            for j in range(cuda.threadIdx.x, C, cuda.blockDim.x):
                p = math.exp(x[base + j] - m) * scale
                out[base + j] = p - gi * weight[t] if j == t else p

    return rows, grad_rows, reduced


@functools.cache
def _ticket():
    """The counter the blocks of a reduced loss take turns on, zero between launches."""
    return cuda.to_device(np.zeros(1, np.int32))


def _fresh(*arrays):
    """Contiguous copies where needed, each with its buffer starting at element 0.

    Returns the arrays too: a temporary copy must stay referenced until its kernel
    has been launched, or the allocator would hand its memory to the next request.
    """
    arrays = [contiguous(x) for x in arrays]
    return arrays, [x.buffer if x.offset == 0 else x.buffer[x.offset:] for x in arrays]


def _launch(n):
    return (max(1, min(MAX_BLOCKS, n)), RT)


def cross_entropy_rows(x, target, weight, ignore_index):
    """(losses, weights) per row: weight[t] * (logsumexp(x_i) - x_i[t]), 0 where ignored."""
    N, C = x.shape
    check_classes(x, target, weight, ignore_index, to_numpy(target))
    losses, weights = empty((N,), x.dtype), empty((N,), x.dtype)
    if N:
        _keep, buffers = _fresh(x, target, weight)
        _kernels(x.dtype)[0][_launch(N)](*buffers, ignore_index, N, C, losses.buffer,
                                         weights.buffer)
    return losses, weights


def cross_entropy_reduced(x, target, weight, ignore_index, mean):
    """(the sum of the rows' losses, or their weighted mean; the sum of their weights), as
    0-d arrays, in one launch."""
    N, C = x.shape
    check_classes(x, target, weight, ignore_index, to_numpy(target))
    out, out_weight = empty((), x.dtype), empty((), x.dtype)
    blocks, threads = _launch(N)
    partials = empty((2 * blocks,), np.float64)
    _keep, buffers = _fresh(x, target, weight)
    _kernels(x.dtype)[2][blocks, threads](*buffers, ignore_index, N, C, mean,
                                          partials.buffer, _ticket(), out.buffer,
                                          out_weight.buffer)
    return out, out_weight


def cross_entropy_backward_rows(g, x, target, weight, ignore_index):
    """d(sum_i g_i loss_i)/dx = g_i weight[t_i] (softmax(x_i) - onehot(t_i)). g is read
    through its stride: the mean's gradient, one number expanded to N, is not copied."""
    N, C = x.shape
    check_classes(x, target, weight, ignore_index, to_numpy(target), g)
    out = empty((N, C), x.dtype)
    if N:
        _keep, buffers = _fresh(x, target, weight)
        _kernels(x.dtype)[1][_launch(N)](g.buffer, g.offset, g.strides[0], *buffers,
                                         ignore_index, N, C, out.buffer)
    return out
