"""Memory on the GPU: allocation, transfers, fills, copies, joins.

Transfers are the only host<->device copies in the backend, and they happen only where
the engine asks for them (`to_numpy` for `.cpu()`, `.item()`, printing; `from_numpy`
for `.cuda()` and creation from data).
"""
import math

import numpy as np

from .array import CudaArray, empty
from .elementwise import identity, where  # noqa: F401 - part of the backend interface
from .layout import broadcast_to, contiguous, copy, permute, reshape  # noqa: F401
from .runtime import cuda, grid


def full(shape, value, dtype):
    out = empty(shape, dtype)
    if out.size:
        identity(np.dtype(dtype).type(value), out=out)
    return out


@cuda.jit
def _affine(out, start, step, n):
    i = cuda.grid(1)
    while i < n:
        out[i] = start + i * step
        i += cuda.gridsize(1)


def arange(start, stop, step, dtype):
    n = max(0, math.ceil((stop - start) / step))
    out = empty((n,), dtype)
    if n:
        _affine[grid(n)](out.buffer, float(start) if out.dtype.kind == "f" else int(start),
                         float(step) if out.dtype.kind == "f" else int(step), n)
    return out


def linspace(start, stop, steps, dtype):
    out = empty((steps,), np.float64)
    if steps:
        step = (stop - start) / (steps - 1) if steps > 1 else 0.0
        _affine[grid(steps)](out.buffer, float(start), float(step), steps)
        if steps > 1:
            identity(np.float64(stop), out=out.view(steps - 1, (1,), (1,)))
    return out if np.dtype(dtype) == np.float64 else astype(out, dtype)


def eye(n, m, dtype):
    out = full((n, m), 0, dtype)
    diagonal = out.view(0, (min(n, m),), (m + 1,))
    if diagonal.size:
        identity(np.dtype(dtype).type(1), out=diagonal)
    return out


def from_numpy(array):
    """A device copy of a host array (np.asarray, not ascontiguousarray, which makes a
    0-d array 1-d)."""
    array = np.asarray(array, order="C")
    out = empty(array.shape, array.dtype)
    if out.size:
        out.buffer[:out.size].copy_to_device(array.reshape(-1))
    return out


def to_numpy(x):
    """A host copy of a device array (waits for the kernels that write it)."""
    x = contiguous(x)
    if x.size == 0:
        return np.empty(x.shape, x.dtype)
    return x.buffer[x.offset:x.offset + x.size].copy_to_host().reshape(x.shape)


def astype(x, dtype):
    out = empty(x.shape, dtype)
    return identity(x, out=out) if x.size else out


def copy_into(dst, src):
    """dst[...] = src, broadcasting src (an array or a number)."""
    if dst.size:
        identity(src if isinstance(src, CudaArray) else dst.dtype.type(src), out=dst)


def strides(x):
    """x's strides in elements (a CudaArray keeps them so)."""
    return tuple(x.strides)


def storage_offset(x):
    return x.offset


def memory_root(x):
    """The array owning x's memory, or None when x cannot be written (a broadcast)."""
    return x.root if x.flags.writeable else None


def concatenate(arrays, axis):
    shape = list(arrays[0].shape)
    shape[axis] = sum(a.shape[axis] for a in arrays)
    out = empty(tuple(shape), arrays[0].dtype)
    start = 0
    for a in arrays:
        n = a.shape[axis]
        if a.size:
            part = out.view(out.offset + start * out.strides[axis], a.shape, out.strides)
            identity(a, out=part)
        start += n
    return out


def stack(arrays, axis):
    expanded = [reshape(a, a.shape[:axis] + (1,) + a.shape[axis:]) for a in arrays]
    return concatenate(expanded, axis)
