"""Reductions and row-wise kernels on the GPU, over the same (A, K, B) view as the CPU's.

The reduced axes are brought to the middle of a contiguous 3-d view (a free reshape
when they are adjacent, else one copy). One block of threads then owns each (a, b)
row: its threads stride along K, and a shared-memory tree combines their partial
results (`blockreduce`). Softmax and its backward are fused: one launch reads a row,
reduces it and writes the result, with no intermediate array.
"""
import functools
import math

import numba
import numpy as np

from .. import search
from ..bounds import check_indices, check_rows
from ..reduction import extremes, kept_shape
from . import elementwise as ew
from .array import empty
from .blockreduce import block_max, block_sum
from .layout import at_zero, contiguous, permute, reshape
from .memory import full, to_numpy
from .runtime import MAX_BLOCKS, ROW_THREADS, cuda, grid

RT = ROW_THREADS


def as_akb(x, axes):
    """A contiguous (A, K, B) view of x with the `axes` (sorted, non-empty) in the middle."""
    shape = x.shape
    lo, hi = axes[0], axes[-1] + 1
    if hi - lo == len(axes):
        x = contiguous(x)
        return reshape(x, (math.prod(shape[:lo]), math.prod(shape[lo:hi]),
                           math.prod(shape[hi:])))
    kept = [d for d in range(x.ndim) if d not in axes]
    moved = contiguous(permute(x, kept + list(axes)))
    return reshape(moved, (math.prod(shape[d] for d in kept), math.prod(shape[d] for d in axes),
                           1))


def _rows(view):
    """Launch shape for one block per (a, b) row."""
    return (max(1, min(MAX_BLOCKS, view.shape[0] * view.shape[2])), RT)


@functools.cache
def _sum_kernel(dtype):
    kind = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(x, xo, A, K, B, out):
        buf = cuda.shared.array(RT, kind)
        for row in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):
            base = xo + (row // B) * K * B + row % B
            acc = kind(0)
            for k in range(cuda.threadIdx.x, K, cuda.blockDim.x):
                acc += x[base + k * B]
            total = block_sum(buf, acc)
            if cuda.threadIdx.x == 0:
                out[row] = total

    return kernel


@functools.cache
def _extreme_kernel(dtype):
    """max (sign=1) or min (sign=-1) over K with its index: NaN wins, first index on ties."""
    kind = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(x, xo, A, K, B, sign, out, index):
        values = cuda.shared.array(RT, kind)
        where = cuda.shared.array(RT, numba.int64)
        tid = cuda.threadIdx.x
        for row in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):
            base = xo + (row // B) * K * B + row % B
            at = -1
            best = x[base]
            for k in range(tid, K, cuda.blockDim.x):
                v = x[base + k * B]
                if at < 0 or (best == best and (v != v or (v > best if sign > 0 else v < best))):
                    best = v
                    at = k
            values[tid] = best
            where[tid] = at
            cuda.syncthreads()
            step = cuda.blockDim.x // 2
            while step > 0:
                if tid < step:
                    v, k, b, j = values[tid + step], where[tid + step], values[tid], where[tid]
                    if k >= 0 and (j < 0 or (b == b and (v != v or (v > b if sign > 0 else v < b)))
                                   or ((v == b or (v != v and b != b)) and k < j)):
                        values[tid] = v
                        where[tid] = k
                cuda.syncthreads()
                step //= 2
            if tid == 0:
                out[row] = values[0]
                index[row] = where[0]
            cuda.syncthreads()

    return kernel


def sum(x, axes, keepdims=False, dtype=None):  # noqa: A001 - backend name
    dtype = np.dtype(dtype or x.dtype)
    if not axes:
        return ew.identity(x, out=empty(x.shape, dtype))
    if x.dtype != dtype:
        x = ew.identity(x, out=empty(x.shape, dtype))
    view = as_akb(x, axes)
    A, K, B = view.shape
    out = empty((A, B), dtype)
    if out.size and K:
        _sum_kernel(dtype)[_rows(view)](view.buffer, view.offset, A, K, B, out.buffer)
    elif out.size:
        ew.identity(dtype.type(0), out=out)
    return reshape(out, kept_shape(x.shape, axes, keepdims))


def _extreme(x, axes, keepdims, sign):
    view = as_akb(x, axes)
    A, K, B = view.shape
    if K == 0:
        raise ValueError("cannot take the max or min of an empty dimension")
    out = empty((A, B), x.dtype)
    index = empty((A, B), np.int64)
    if out.size:
        _extreme_kernel(x.dtype)[_rows(view)](view.buffer, view.offset, A, K, B, sign,
                                              out.buffer, index.buffer)
    shape = kept_shape(x.shape, axes, keepdims)
    return reshape(out, shape), reshape(index, shape)


amax, amin, max_along, min_along = extremes(_extreme)


def logsumexp(x, axes, keepdims=False):
    if any(x.shape[d] == 0 for d in axes):
        return full(kept_shape(x.shape, axes, keepdims), -np.inf, x.dtype)
    top = amax(x, axes, True)
    infinite = ew.eq(ew.abs(top), np.inf)
    shift = ew.where(infinite, 0.0, top)            # all -inf (or any +inf) stays as it is
    total = sum(ew.exp(ew.sub(x, shift)), axes, True)
    out = ew.where(infinite, top, ew.add(shift, ew.log(total)))
    return reshape(out, kept_shape(x.shape, axes, keepdims))


@functools.cache
def _softmax_kernel(dtype):
    kind = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(x, A, K, B, out, log):
        buf = cuda.shared.array(RT, kind)
        for row in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):
            base = (row // B) * K * B + row % B
            m = -math.inf
            for k in range(cuda.threadIdx.x, K, cuda.blockDim.x):
                v = x[base + k * B]
                m = v if v > m else m
            m = block_max(buf, kind(m))
            s = kind(0)
            for k in range(cuda.threadIdx.x, K, cuda.blockDim.x):
                s += math.exp(x[base + k * B] - m)
            s = block_sum(buf, s)
            logs = math.log(s)  # (v - m) - logs: m + logs would lose logs next to a huge m
            for k in range(cuda.threadIdx.x, K, cuda.blockDim.x):
                v = x[base + k * B]
                out[base + k * B] = (v - m) - logs if log else math.exp(v - m) / s

    return kernel


@functools.cache
def _softmax_backward_kernel(dtype):
    """softmax: y * (g - sum(g * y)); log_softmax: g - exp(y) * sum(g)."""
    kind = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(g, y, A, K, B, out, log):
        buf = cuda.shared.array(RT, kind)
        for row in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):
            base = (row // B) * K * B + row % B
            s = kind(0)
            for k in range(cuda.threadIdx.x, K, cuda.blockDim.x):
                at = base + k * B
                s += g[at] if log else g[at] * y[at]
            s = block_sum(buf, s)
            for k in range(cuda.threadIdx.x, K, cuda.blockDim.x):
                at = base + k * B
                out[at] = g[at] - math.exp(y[at]) * s if log else y[at] * (g[at] - s)

    return kernel


def _fresh_akb(x, axis):
    """x as a contiguous (A, K, B) array over a buffer starting at its first element."""
    return at_zero(as_akb(x, (axis,)))


def _softmax(x, axis, log):
    view = _fresh_akb(x, axis)
    out = empty(view.shape, x.dtype)
    if out.size:
        _softmax_kernel(x.dtype)[_rows(view)](view.buffer, *view.shape, out.buffer, log)
    return reshape(out, x.shape)


def softmax(x, axis):
    return _softmax(x, axis, False)


def log_softmax(x, axis):
    return _softmax(x, axis, True)


def _softmax_grad(g, y, axis, log):
    gv, yv = _fresh_akb(g, axis), _fresh_akb(y, axis)
    out = empty(gv.shape, g.dtype)
    if out.size:
        _softmax_backward_kernel(g.dtype)[_rows(gv)](gv.buffer, yv.buffer, *gv.shape,
                                                     out.buffer, log)
    return reshape(out, g.shape)


def softmax_backward(g, y, axis):
    return _softmax_grad(g, y, axis, False)


def log_softmax_backward(g, y, axis):
    return _softmax_grad(g, y, axis, True)


@cuda.jit
def _cumsum_akb(x, out, K, B, lines):
    """One thread per (a, b) line, summing along K in order, as a sequential scan does:
    each line's additions happen in the same order as on the CPU."""
    line = cuda.grid(1)
    while line < lines:
        start = (line // B) * K * B + line % B
        acc = x[start] - x[start]  # zero in x's dtype
        for k in range(K):
            acc += x[start + k * B]
            out[start + k * B] = acc
        line += cuda.gridsize(1)


def cumsum(x, axis):
    """Running sums along `axis`, in x's dtype (the engine casts first)."""
    view = _fresh_akb(x, axis)
    out = empty(view.shape, x.dtype)
    lines = view.shape[0] * view.shape[2]
    if out.size:
        _cumsum_akb[grid(lines)](view.buffer, out.buffer, view.shape[1], view.shape[2],
                                 lines)
    return reshape(out, x.shape)


@cuda.jit(device=True)
def _sorts_before(u, j, v, k, descending):
    """Whether value u at position j goes before value v at position k: NaN is the largest
    value, and equal values keep their positions' order (a stable sort)."""
    u_nan, v_nan = u != u, v != v
    if u_nan or v_nan:
        return j < k if u_nan and v_nan else u_nan == descending
    if u == v:
        return j < k
    return u > v if descending else u < v


@cuda.jit
def _argsort_akb(x, out, K, B, n, descending):
    """One thread per element: its place in the sorted row is the number of the row's
    elements that go before it, so it writes its own index there. O(K) per thread, no
    synchronisation, and every place is written exactly once."""
    i = cuda.grid(1)
    while i < n:
        k = (i // B) % K
        row = i - k * B  # the row's first element
        v = x[i]
        place = 0
        for j in range(K):
            if _sorts_before(x[row + j * B], j, v, k, descending):
                place += 1
        out[row + place * B] = k
        i += cuda.gridsize(1)


def argsort(x, axis, descending=False):
    """The int64 indices that sort x along `axis`: stable, NaN as the largest value."""
    view = _fresh_akb(x, axis)
    out = empty(view.shape, np.int64)
    if out.size:
        _argsort_akb[grid(out.size)](view.buffer, out.buffer, view.shape[1], view.shape[2],
                                     out.size, descending)
    return reshape(out, x.shape)


_place = cuda.jit(device=True)(search.place)


@cuda.jit
def _search_rows(rows, values, out, n, m, size, right):
    """One thread per value: search.place in the value's row."""
    i = cuda.grid(1)
    while i < size:
        out[i] = _place(rows, (i // m) * n, n, values[i], right)
        i += cuda.gridsize(1)


def searchsorted(rows, values, right):
    """For values (R, m) of the dtype of the sorted rows (R, n): each value's place in
    its row (int64, (R, m)), by binary search."""
    check_rows("searchsorted", rows, values)
    out = empty(values.shape, np.int64)
    if out.size:
        rows, values = at_zero(rows), at_zero(values)
        _search_rows[grid(out.size)](rows.buffer, values.buffer, out.buffer, rows.shape[1],
                                     values.shape[1], out.size, right)
    return out


@cuda.jit
def _gather_akb(x, index, out, J, K, B, n):
    i = cuda.grid(1)
    while i < n:
        a = i // (J * B)
        b = i % B
        out[i] = x[(a * K + index[i]) * B + b]
        i += cuda.gridsize(1)


@cuda.jit
def _scatter_add_akb(out, index, src, J, K, B, n):
    i = cuda.grid(1)
    while i < n:
        a = i // (J * B)
        b = i % B
        cuda.atomic.add(out, (a * K + index[i]) * B + b, src[i])
        i += cuda.gridsize(1)


def gather(x, axis, index):
    """out[..., j, ...] = x[..., index[..., j, ...], ...] along `axis` (torch.gather)."""
    check_indices("gather", to_numpy(index), x.shape[axis], axis=axis)
    idx = _fresh_akb(index, axis)
    src = _fresh_akb(x, axis)
    out = empty(index.shape, x.dtype)
    if out.size:
        _gather_akb[grid(out.size)](src.buffer, idx.buffer, out.buffer, idx.shape[1],
                                    src.shape[1], src.shape[2], out.size)
    return out


def scatter_add(out, axis, index, src):
    """out[..., index[..., j, ...], ...] += src[..., j, ...] along `axis`, in place."""
    check_indices("scatter_add", to_numpy(index), out.shape[axis], axis=axis)
    idx = _fresh_akb(index, axis)
    values = _fresh_akb(src, axis)
    target = _fresh_akb(out, axis)
    if idx.size:
        _scatter_add_akb[grid(idx.size)](target.buffer, idx.buffer, values.buffer,
                                         idx.shape[1], target.shape[1], target.shape[2],
                                         idx.size)
    if target.block is not out.block:  # a copy: out was not contiguous
        ew.identity(reshape(target, out.shape), out=out)
    return out
