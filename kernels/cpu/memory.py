"""Memory and layout on the CPU: allocation, views, copies, indexing. numpy does these.

They move bytes rather than compute, so numpy's C loops are already the fastest
code for them; every name here has a counterpart in each other backend.
"""
import numpy as np

from .elementwise import where  # noqa: F401 - part of the backend interface
from .quiet import call_quietly


def empty(shape, dtype):
    return np.empty(shape, dtype)


def full(shape, value, dtype):
    return np.full(shape, value, dtype)


def arange(start, stop, step, dtype):
    return np.arange(start, stop, step, dtype=dtype)


def linspace(start, stop, steps, dtype):
    return np.linspace(start, stop, steps, dtype=dtype)


def eye(n, m, dtype):
    return np.eye(n, m, dtype=dtype)


def from_numpy(array):
    """Adopt a numpy array as backend memory (shared, not copied)."""
    return array


def to_numpy(x):
    return x


def astype(x, dtype):
    """A cast; values past the target's range become inf, quietly, as in PyTorch."""
    return call_quietly(x.astype, dtype)


def copy(x):
    return np.array(x, copy=True, order="C")


def copy_into(dst, src):
    """dst[...] = src, broadcasting src."""
    np.copyto(dst, src, casting="unsafe")


def memory_root(x):
    """The array that owns the memory `x` views (x itself when it owns it), or None when
    x cannot be written through (a read-only view, such as a broadcast)."""
    if not x.flags.writeable:
        return None
    return x if x.base is None else x.base


def strides(x):
    """x's strides in elements, as PyTorch counts them (numpy counts bytes)."""
    return tuple(s // x.itemsize for s in x.strides)


def storage_offset(x):
    """Where x starts in the memory it views, in elements."""
    root = x
    while isinstance(root.base, np.ndarray):
        root = root.base
    return (x.__array_interface__["data"][0] - root.__array_interface__["data"][0]) \
        // x.itemsize


def reshape(x, shape):
    """A view when the layout allows it, else a copy (PyTorch's reshape rule)."""
    return x.reshape(shape)


def permute(x, dims):
    return x.transpose(dims)


def broadcast_to(x, shape):
    """A read-only view of x with stride 0 along the broadcast dimensions.

    For a contiguous x the view is built straight over x's memory: np.broadcast_to
    sets up an nditer to find the same strides, ~7 us, more than the elementwise
    kernel that usually consumes the view. Anything else, errors included, is numpy's.
    """
    lead = len(shape) - x.ndim
    if lead < 0 or not x.flags.c_contiguous:
        return np.broadcast_to(x, shape)
    strides = [0] * lead
    for n, have, step in zip(shape[lead:], x.shape, x.strides):
        if have == n:
            strides.append(step)
        elif have == 1:
            strides.append(0)
        else:
            return np.broadcast_to(x, shape)  # raises, naming both shapes
    view = np.ndarray(shape, x.dtype, x, 0, strides)
    view.flags.writeable = False
    return view


def diagonal(x, offset, axis1, axis2):
    """The elements (i, i + offset) of the (axis1, axis2) planes as the last axis: a
    writable view (numpy's own diagonal is read-only), so writing it writes x."""
    y = np.moveaxis(x, (axis1, axis2), (-2, -1))[..., max(-offset, 0):, max(offset, 0):]
    length = max(0, min(y.shape[-2], y.shape[-1]))
    return np.lib.stride_tricks.as_strided(
        y, y.shape[:-2] + (length,), y.strides[:-2] + (y.strides[-2] + y.strides[-1],),
        writeable=x.flags.writeable)


def getitem(x, index):
    """x[index]; where numpy would hand back a scalar (every index an integer), a 0-d
    view instead, as PyTorch's x[i] is: writing into it writes into x."""
    out = x[index]
    if isinstance(out, np.ndarray):
        return out
    return x[(*index, ...) if isinstance(index, tuple) else (index, ...)]


def setitem(x, index, value):
    x[index] = value


def _is_basic(index):
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (int, slice, type(None), type(Ellipsis))) for p in parts)


def index_add(dst, index, src):
    """dst[index] += src, summing repeated indices (the backward of indexing)."""
    if _is_basic(index):  # no index can repeat: a plain strided add
        dst[index] += src
    else:
        np.add.at(dst, index, src)


def concatenate(arrays, axis):
    return np.concatenate(arrays, axis=axis)


def stack(arrays, axis):
    """np.stack, with the DataLoader's case (a batch of same-shaped samples along a new
    first axis) done as one concatenate: np.stack spends ~1 us per array making views."""
    if axis != 0:
        return np.stack(arrays, axis=axis)
    first = arrays[0]
    if first.ndim == 0:
        return np.array(arrays)
    return np.concatenate(arrays).reshape((len(arrays),) + first.shape)
