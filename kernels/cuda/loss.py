"""Fused cross-entropy over (N, C) logits: one block of threads per row, forward and backward.

Each row's max and sum of exponentials are block reductions in shared memory; the
forward writes one loss and one weight per row, the backward the row's gradient,
with no (N, C) array of log-probabilities in between. A mean or summed loss is one
launch too: each block sums its rows, and the last block to finish adds the blocks'
sums in block order (so the result is the same at every run) and divides. The same
last-block turn lets the backward sum its result's columns (a bias gradient) too.
"""
import functools
import math

import numba
import numpy as np

from .. import scalar
from ..bounds import check_classes
from .array import empty
from .memory import copy_into, to_numpy
from .blockreduce import block_max, block_sum
from .layout import at_zero
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
    """(weight[t] * (logsumexp(x_i) - x_i[t]), weight[t], and the row's max and sum of
    exponentials) for row i, (0, 0, 0, 1) where its target is ignored; every thread of
    the block gets them."""
    t = target[i]
    if t == ignore_index:
        return 0.0, 0.0, 0.0, 1.0
    m, s = _row_stats(buf, x, i, C)
    # exact for huge m
    return weight[t] * ((m - x[i * C + t]) + math.log(s)), weight[t], m, s


_div = cuda.jit(device=True)(scalar.div)


@functools.cache
def _kernels(dtype):
    kind = numba.from_dtype(dtype)

    @cuda.jit
    def rows(x, target, weight, ignore_index, N, C, losses, weights):
        buf = cuda.shared.array(RT, numba.float64)
        for i in range(cuda.blockIdx.x, N, cuda.gridDim.x):
            loss, w, _, _ = _row_loss(buf, x, target, weight, ignore_index, i, C)
            if cuda.threadIdx.x == 0:
                losses[i] = kind(loss)
                weights[i] = w

    @cuda.jit(device=True)
    def reduce_rows(buf, x, target, weight, ignore_index, N, C, partials, stats, ticket):
        """This block's rows: the sums of their losses and weights into `partials`, and
        (where `stats` has room) each row's max and sum of exponentials. True in the
        last block to finish, for thread 0."""
        total = 0.0
        total_weight = 0.0
        for i in range(cuda.blockIdx.x, N, cuda.gridDim.x):
            loss, w, m, s = _row_loss(buf, x, target, weight, ignore_index, i, C)
            total += kind(loss)  # each row's loss rounded as `rows` writes it
            total_weight += w
            if cuda.threadIdx.x == 0 and stats.size:
                stats[2 * i] = m
                stats[2 * i + 1] = s
        if cuda.threadIdx.x != 0:
            return False
        b = cuda.blockIdx.x
        partials[2 * b] = total
        partials[2 * b + 1] = total_weight
        cuda.threadfence()  # the sums are seen before the ticket is taken
        return cuda.atomic.add(ticket, 0, 1) == cuda.gridDim.x - 1

    @cuda.jit(device=True)
    def finish_reduction(partials, mean, out, out_weight):
        """The last block's thread 0: the blocks' sums, added in block order (so the
        result is the same at every run), into the loss and its total weight."""
        total = 0.0
        total_weight = 0.0
        for k in range(cuda.gridDim.x):  # atomics read from L2, past any cache
            total += cuda.atomic.add(partials, 2 * k, 0.0)
            total_weight += cuda.atomic.add(partials, 2 * k + 1, 0.0)
        summed, weights = kind(total), kind(total_weight)
        out[0] = kind(_div(summed, weights)) if mean else summed
        out_weight[0] = weights

    @cuda.jit
    def reduced(x, target, weight, ignore_index, N, C, mean, partials, ticket, out,
                out_weight):
        buf = cuda.shared.array(RT, numba.float64)
        if reduce_rows(buf, x, target, weight, ignore_index, N, C, partials, partials[:0],
                       ticket):
            finish_reduction(partials, mean, out, out_weight)
            ticket[0] = 0  # for the next launch: kernels on a stream run in order

    @cuda.jit(device=True)
    def column_sums(out, N, C, sums):
        """One block sums the (N, C) result's columns, each as the sum kernel sums a
        column (kernels/cuda/reduce.py: thread t adds rows t, t + threads, ..., then the
        block's tree), so the sums are that kernel's to the bit. The values are read
        through atomics, from L2, where other blocks' writes are (adding -0.0 changes no
        value, not even a zero's sign)."""
        buf = cuda.shared.array(RT, kind)
        for c in range(C):
            acc = kind(0)
            for k in range(cuda.threadIdx.x, N, cuda.blockDim.x):
                acc += cuda.atomic.add(out, k * C + c, kind(-0.0))
            total = block_sum(buf, acc)
            if cuda.threadIdx.x == 0:
                sums[c] = total

    @cuda.jit(device=True)
    def sum_columns(out, N, C, sums, ticket):
        """The last block to finish its rows sums the result's columns."""
        last = cuda.shared.array(1, numba.int32)
        cuda.threadfence()  # this thread's rows are seen before its block takes a ticket
        cuda.syncthreads()
        if cuda.threadIdx.x == 0:
            last[0] = cuda.atomic.add(ticket, 0, 1) == cuda.gridDim.x - 1
        cuda.syncthreads()
        if last[0]:
            column_sums(out, N, C, sums)
            if cuda.threadIdx.x == 0:
                ticket[0] = 0  # for the next launch: kernels on a stream run in order

    @cuda.jit(device=True)
    def grad_value(x, k, j, t, m, scale, picked):
        """Value j of a row's gradient (x[k] its logit): its softmax probability (exp(x_j
        - m) / s) times g weight[t] (scale = picked / s), less picked = g weight[t] at
        the target."""
        p = math.exp(x[k] - m) * scale
        return p - picked if j == t else p

    @cuda.jit
    def grad_rows(g, g_at, g_step, by, x, target, weight, ignore_index, N, C, out, sums,
                  ticket):
        buf = cuda.shared.array(RT, numba.float64)
        den = by[0] if by[0] != 0 else kind(1)  # a mean over no weight: g, as in PyTorch
        for i in range(cuda.blockIdx.x, N, cuda.gridDim.x):
            t = target[i]
            base = i * C
            if t == ignore_index:
                for j in range(cuda.threadIdx.x, C, cuda.blockDim.x):
                    out[base + j] = 0
                continue
            m, s = _row_stats(buf, x, i, C)
            gi = kind(g[g_at + i * g_step] / den)  # in g's dtype, as a separate division
            picked = gi * weight[t]
            for j in range(cuda.threadIdx.x, C, cuda.blockDim.x):
                out[base + j] = grad_value(x, base + j, j, t, m, picked / s, picked)
        if sums.size:
            sum_columns(out, N, C, sums, ticket)

    @cuda.jit
    def loss_and_grad(g, g_at, x, target, weight, ignore_index, N, C, mean, partials, stats,
                      ticket, out, out_weight, grad, sums):
        """`reduced`, then in its last block `grad_rows` of every row (from the max and
        sum of exponentials each block kept for its rows) and its column sums."""
        buf = cuda.shared.array(RT, numba.float64)
        last = cuda.shared.array(1, numba.int32)
        done = reduce_rows(buf, x, target, weight, ignore_index, N, C, partials, stats,
                           ticket)
        if cuda.threadIdx.x == 0:
            last[0] = done
            if done:
                finish_reduction(partials, mean, out, out_weight)
        cuda.syncthreads()
        if not last[0]:
            return
        total_weight = out_weight[0]
        den = total_weight if mean and total_weight != 0 else kind(1)
        gi = kind(g[g_at] / den)
        for k in range(cuda.threadIdx.x, N * C, cuda.blockDim.x):
            i = k // C
            t = target[i]
            if t == ignore_index:
                grad[k] = 0
                continue
            m = cuda.atomic.add(stats, 2 * i, 0.0)  # from L2, as the partials are read
            s = cuda.atomic.add(stats, 2 * i + 1, 0.0)
            picked = gi * weight[t]
            grad[k] = grad_value(x, k, k - i * C, t, m, picked / s, picked)
        if sums.size:
            cuda.syncthreads()
            column_sums(grad, N, C, sums)
        if cuda.threadIdx.x == 0:
            ticket[0] = 0  # for the next launch: kernels on a stream run in order

    return rows, grad_rows, reduced, loss_and_grad


@functools.cache
def _ticket():
    """The counter the blocks of a reduced loss, or of a gradient with its column sums,
    take turns on; zero between launches."""
    return cuda.to_device(np.zeros(1, np.int32))


@functools.cache
def _one(dtype):
    """A device 1 of `dtype`: the divisor of a gradient that is not a mean's."""
    return cuda.to_device(np.ones(1, dtype))


def _fresh(*arrays):
    """(the arrays as layout.at_zero makes them, which must stay referenced until the
    launch; their buffers, for the kernel)."""
    arrays = [at_zero(x) for x in arrays]
    return arrays, [x.buffer for x in arrays]


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


def cross_entropy_and_grad(g, x, target, weight, ignore_index, mean, column_sums):
    """(cross_entropy_reduced's two results, and cross_entropy_backward_rows' for the
    loss's gradient g (0-d) and that total weight, with column_sums), in one launch:
    the last block to finish the loss computes every gradient value, from the max and
    sum of exponentials that each block kept of its rows, so the values are those two
    kernels' to the bit. For small losses (compile's epilogues pass), where one block
    doing every row costs less than a second launch."""
    N, C = x.shape
    check_classes(x, target, weight, ignore_index, to_numpy(target), g)
    if g.ndim:
        raise ValueError(f"cross_entropy_and_grad: expected the gradient of a reduced loss "
                         f"(0-d), got shape {tuple(g.shape)}")
    out, out_weight = empty((), x.dtype), empty((), x.dtype)
    grad = empty((N, C), x.dtype)
    sums = empty((C,) if column_sums else (0,), x.dtype)
    blocks, threads = _launch(N)
    partials, stats = empty((2 * blocks,), np.float64), empty((2 * N,), np.float64)
    _keep, buffers = _fresh(x, target, weight)
    _kernels(x.dtype)[3][blocks, threads](
        g.buffer, g.offset, *buffers, ignore_index, N, C, mean, partials.buffer,
        stats.buffer, _ticket(), out.buffer, out_weight.buffer, grad.buffer, sums.buffer)
    return out, out_weight, grad, sums if column_sums else None


def cross_entropy_backward_rows(g, x, target, weight, ignore_index, total_weight=None,
                                column_sums=False):
    """d(sum_i g_i loss_i)/dx = g_i weight[t_i] (softmax(x_i) - onehot(t_i)), with g one
    number per row (read through its stride) or one for all (0-d); divided by
    `total_weight` (by 1 where it is 0), when given, for a mean's gradient: read on the
    device, in the same launch. With `column_sums`, (that gradient, its sum over the
    rows), summed by the launch's last block: for small losses, where a launch of the
    sum kernel would cost more than the sum."""
    N, C = x.shape
    check_classes(x, target, weight, ignore_index, to_numpy(target), g, total_weight)
    out = empty((N, C), x.dtype)
    sums = empty((C,) if column_sums else (0,), x.dtype)
    if N:
        _keep, buffers = _fresh(x, target, weight, *(() if total_weight is None else
                                                     (total_weight,)))
        by = buffers.pop() if total_weight is not None else _one(np.dtype(x.dtype).name)
        _kernels(x.dtype)[1][_launch(N)](g.buffer, g.offset, g.strides[0] if g.ndim else 0,
                                         by, *buffers, ignore_index, N, C, out.buffer,
                                         sums.buffer, _ticket())
    elif column_sums:
        copy_into(sums, 0)
    return (out, sums) if column_sums else out
