"""Reductions and row-wise kernels (softmax, gather), written once for an (A, K, B) view.

Any set of reduced axes can be brought to the middle of a 3-d view: the axes before
them become A, the reduced ones K, the ones after B. When the reduced axes are
already adjacent in a contiguous array this is a free reshape; otherwise they are
moved to the end (one copy) and B is 1. So each kernel is a plain triple loop.
"""
import math

import numpy as np
from numba import njit
from numba.extending import register_jitable

from .. import search
from ..bounds import check_indices, check_rows
from ..reduction import extremes, kept_shape
from . import revision
from .quiet import call_quietly

# Reassociation lets LLVM vectorise the sums; NaN and inf keep their IEEE meaning.
_FAST = {"reassoc", "contract", "nsz"}


def as_akb(x, axes):
    """View `x` as (A, K, B) with the `axes` (sorted, non-empty) in the middle."""
    shape = x.shape
    if len(axes) == x.ndim and x.flags.c_contiguous:  # a full reduction, the common case
        return x.reshape(1, x.size, 1)
    lo, hi = axes[0], axes[-1] + 1
    if hi - lo == len(axes) and x.flags.c_contiguous:
        a = math.prod(shape[:lo])
        k = math.prod(shape[lo:hi])
        return x.reshape(a, k, math.prod(shape[hi:]))
    kept = [d for d in range(x.ndim) if d not in axes]
    moved = np.ascontiguousarray(x.transpose(kept + list(axes)))
    return moved.reshape(math.prod(shape[d] for d in kept), math.prod(shape[d] for d in axes), 1)


@njit(cache=True, fastmath=_FAST)
def _sum_akb(x, out):
    A, K, B = x.shape
    for a in range(A):
        if B == 1:
            acc = out[a, 0]
            for k in range(K):
                acc += x[a, k, 0]
            out[a, 0] = acc
        else:
            for k in range(K):
                for b in range(B):
                    out[a, b] += x[a, k, b]


@njit(cache=True)
def _extreme_akb(x, out, index, sign):
    """max (sign=1) or min (sign=-1) over K, NaN-propagating, first index on ties."""
    A, K, B = x.shape
    for a in range(A):
        for b in range(B):
            best = x[a, 0, b]
            at = 0
            for k in range(1, K):
                v = x[a, k, b]
                if best == best and (v != v or sign * (v - best) > 0):
                    best = v
                    at = k
            out[a, b] = best
            index[a, b] = at


@njit(cache=True)
def _logsumexp_akb(x, out):
    A, K, B = x.shape
    for a in range(A):
        for b in range(B):
            m = x[a, 0, b]
            for k in range(1, K):
                m = max(m, x[a, k, b])
            if math.isinf(m):  # all -inf gives -inf; any +inf gives +inf
                out[a, b] = m
                continue
            s = 0.0
            for k in range(K):
                s += math.exp(x[a, k, b] - m)
            out[a, b] = m + math.log(s)


@njit(cache=True)
def _softmax_akb(x, out, log):
    A, K, B = x.shape
    for a in range(A):
        for b in range(B):
            m = x[a, 0, b]
            for k in range(1, K):
                m = max(m, x[a, k, b])
            s = 0.0
            for k in range(K):
                s += math.exp(x[a, k, b] - m)
            if log:  # (x - m) first: m + log(s) would lose log(s) next to a huge m
                logs = math.log(s)
                for k in range(K):
                    out[a, k, b] = (x[a, k, b] - m) - logs
            else:
                inv = 1.0 / s
                for k in range(K):
                    out[a, k, b] = math.exp(x[a, k, b] - m) * inv


@njit(cache=True)
def _softmax_backward_akb(g, y, out, log):
    """softmax: y * (g - sum(g * y)); log_softmax: g - exp(y) * sum(g)."""
    A, K, B = g.shape
    for a in range(A):
        for b in range(B):
            s = 0.0
            for k in range(K):
                s += g[a, k, b] * y[a, k, b] if not log else g[a, k, b]
            for k in range(K):
                if log:
                    out[a, k, b] = g[a, k, b] - math.exp(y[a, k, b]) * s
                else:
                    out[a, k, b] = y[a, k, b] * (g[a, k, b] - s)


@njit(cache=True)
def _gather_akb(x, index, out):
    A, J, B = index.shape
    for a in range(A):
        for j in range(J):
            for b in range(B):
                out[a, j, b] = x[a, index[a, j, b], b]


@njit(cache=True)
def _scatter_add_akb(out, index, src):
    A, J, B = index.shape
    for a in range(A):
        for j in range(J):
            for b in range(B):
                out[a, index[a, j, b], b] += src[a, j, b]


def sum(x, axes, keepdims=False, dtype=None):  # noqa: A001 - backend name
    """Sum over `axes` (a tuple of axis numbers, possibly empty for a copy)."""
    dtype = x.dtype if dtype is None else np.dtype(dtype)
    if not axes:
        return x.astype(dtype, copy=True)
    view = as_akb(x if x.dtype is dtype else x.astype(dtype), axes)
    out = np.zeros((view.shape[0], view.shape[2]), dtype)
    if view.size:
        _sum_akb(view, out)
    return out.reshape(kept_shape(x.shape, axes, keepdims))


def _extreme(x, axes, keepdims, sign):
    view = as_akb(x, axes)
    if view.shape[1] == 0:
        raise ValueError("cannot take the max or min of an empty dimension")
    out = np.empty((view.shape[0], view.shape[2]), x.dtype)
    index = np.empty(out.shape, np.int64)
    _extreme_akb(view, out, index, sign)
    shape = kept_shape(x.shape, axes, keepdims)
    return out.reshape(shape), index.reshape(shape)


amax, amin, max_along, min_along = extremes(_extreme)


def logsumexp(x, axes, keepdims=False):
    view = as_akb(x, axes)
    out = np.empty((view.shape[0], view.shape[2]), x.dtype)
    call_quietly(_logsumexp_akb, view, out) if view.shape[1] else out.fill(-np.inf)
    return out.reshape(kept_shape(x.shape, axes, keepdims))


def _rowwise(x, axis):
    view = as_akb(np.ascontiguousarray(x), (axis,))
    return view, np.empty(view.shape, x.dtype)


def softmax(x, axis):
    view, out = _rowwise(x, axis)
    if out.size:  # an empty row has no element 0 for the kernel to start its max from
        _softmax_akb(view, out, False)
    return out.reshape(x.shape)


def log_softmax(x, axis):
    view, out = _rowwise(x, axis)
    if out.size:
        _softmax_akb(view, out, True)
    return out.reshape(x.shape)


def _softmax_grad(g, y, axis, log):
    gv, out = _rowwise(g, axis)
    _softmax_backward_akb(gv, as_akb(np.ascontiguousarray(y), (axis,)), out, log)
    return out.reshape(g.shape)


def softmax_backward(g, y, axis):
    return _softmax_grad(g, y, axis, False)


def log_softmax_backward(g, y, axis):
    return _softmax_grad(g, y, axis, True)


def cumsum(x, axis):
    """Running sums along `axis`, in x's dtype (the engine casts first)."""
    return np.cumsum(x, axis=axis, dtype=x.dtype)


def _index_akb(index, axis):
    index = np.ascontiguousarray(index, dtype=np.int64)
    return index.reshape(math.prod(index.shape[:axis]), index.shape[axis],
                         math.prod(index.shape[axis + 1:]))


def argsort(x, axis, descending=False):
    """The int64 indices that sort x along `axis`, as PyTorch orders them: stable (equal
    values keep their order) and NaN as the largest value.

    numpy's stable sort is ascending with NaN last; sorting the reversed array and
    reversing the answer gives the descending order with NaN first and ties still in
    their original order.
    """
    if not descending:
        return np.argsort(x, axis=axis, kind="stable").astype(np.int64, copy=False)
    backwards = np.argsort(np.flip(x, axis), axis=axis, kind="stable")
    return np.ascontiguousarray(np.flip(x.shape[axis] - 1 - backwards, axis), np.int64)


def _rows_search():
    """search.place in a loop over the values; `source`, the digest of search.py, keys
    numba's cache (see `revision`)."""
    place = register_jitable(search.place)
    source = revision.of(search)

    @njit(cache=True)
    def each(rows, values, out, n, m, right):
        source  # a cell, so in the cache key
        for i in range(values.size):
            out[i] = place(rows, (i // m) * n, n, values[i], right)

    return each


_search_rows = _rows_search()


def searchsorted(rows, values, right):
    """For values (R, m) of the dtype of the sorted rows (R, n): each value's place in
    its row (int64, (R, m)), by binary search."""
    check_rows("searchsorted", rows, values)
    out = np.empty(values.shape, np.int64)
    _search_rows(np.ascontiguousarray(rows).reshape(-1),
                 np.ascontiguousarray(values).reshape(-1), out.reshape(-1), rows.shape[1],
                 values.shape[1], right)
    return out


def gather(x, axis, index):
    """out[..., j, ...] = x[..., index[..., j, ...], ...] along `axis` (torch.gather)."""
    check_indices("gather", index, x.shape[axis], axis=axis)
    idx = _index_akb(index, axis)
    src = np.ascontiguousarray(x)
    view = src.reshape(idx.shape[0], src.shape[axis], math.prod(src.shape[axis + 1:]))
    out = np.empty(idx.shape, x.dtype)
    _gather_akb(view, idx, out)
    return out.reshape(index.shape)


def scatter_add(out, axis, index, src):
    """out[..., index[..., j, ...], ...] += src[..., j, ...] along `axis`, in place."""
    check_indices("scatter_add", index, out.shape[axis], axis=axis)
    idx = _index_akb(index, axis)
    view = out.reshape(idx.shape[0], out.shape[axis], math.prod(out.shape[axis + 1:]))
    _scatter_add_akb(view, idx, np.ascontiguousarray(src).reshape(idx.shape))
    return out
