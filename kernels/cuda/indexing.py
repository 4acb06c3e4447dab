"""numpy's indexing rules on device arrays: basic indices make views, advanced ones gather.

Ints, slices, None and Ellipsis only move the offset and change shape and strides.
Integer arrays (advanced indices) are turned into one int64 array of element offsets,
built from broadcast elementwise kernels, so a single gather (`x[i]`), scatter
(`x[i] = v`) or atomic scatter-add (the backward of `x[i]`, where indices repeat)
kernel serves every combination. A boolean mask is first turned into the integer
indices of its True elements; its count decides the result's shape, so that step
waits for the mask to reach the host, as PyTorch's does.
"""
import numpy as np

from . import elementwise as ew
from .array import CudaArray, empty
from .layout import broadcast_to, contiguous, reshape
from .memory import arange, from_numpy, full, to_numpy
from .runtime import cuda, grid


@cuda.jit
def _take(out, src, offsets, n):
    i = cuda.grid(1)
    while i < n:
        out[i] = src[offsets[i]]
        i += cuda.gridsize(1)


@cuda.jit
def _put(dst, offsets, values, n):
    i = cuda.grid(1)
    while i < n:
        dst[offsets[i]] = values[i]
        i += cuda.gridsize(1)


@cuda.jit
def _put_add(dst, offsets, values, n):
    i = cuda.grid(1)
    while i < n:
        cuda.atomic.add(dst, offsets[i], values[i])
        i += cuda.gridsize(1)


def _is_array(p):
    return isinstance(p, (np.ndarray, CudaArray))


def _expand(index, ndim):
    """The index as a list of parts, booleans turned into integer arrays, `...` expanded."""
    parts = []
    for p in (index if isinstance(index, tuple) else (index,)):
        if isinstance(p, (bool, np.bool_)):  # x[True] adds a length-1 axis, x[False] length 0
            parts += [None, np.arange(int(p))]
        elif _is_array(p) and p.dtype == np.bool_:
            mask = p if isinstance(p, np.ndarray) else to_numpy(p)
            parts += list(np.nonzero(mask))
        else:
            parts.append(p)
    used = sum(1 for p in parts if p is not None and p is not Ellipsis)
    if used > ndim:
        raise IndexError(f"too many indices for array: array is {ndim}-dimensional, but "
                         f"{used} were indexed")
    fill = [slice(None)] * (ndim - used)
    if any(p is Ellipsis for p in parts):
        at = next(i for i, p in enumerate(parts) if p is Ellipsis)
        parts[at:at + 1] = fill
    else:
        parts += fill
    return parts


def _basic_view(x, parts):
    """Apply ints, slices and None; keep array indices' dimensions for later."""
    offset, shape, strides, advanced = x.offset, [], [], []
    d = 0
    for p in parts:
        if p is None:
            shape.append(1)
            strides.append(0)
            continue
        n, s = x.shape[d], x.strides[d]
        d += 1
        if isinstance(p, slice):
            start, stop, step = p.indices(n)
            shape.append(len(range(start, stop, step)))
            strides.append(s * step)
            offset += start * s
        elif _is_array(p):
            advanced.append((len(shape), p, d - 1))
            shape.append(n)
            strides.append(s)
        else:
            i = int(p)
            if not -n <= i < n:
                raise IndexError(f"index {i} is out of bounds for dimension {d - 1} with size "
                                 f"{n}")
            offset += (i % n) * s
    return x.view(offset, shape, strides), advanced


def _device_index(p, n, dim):
    """An int64 device array of indices in [0, n), or an IndexError naming the bad one."""
    host = p if isinstance(p, np.ndarray) else None
    if host is None:
        p = p if p.dtype == np.int64 else ew.identity(p, out=empty(p.shape, np.int64))
        if p.size:
            low, high = int(to_numpy(_extreme(p, -1))), int(to_numpy(_extreme(p, 1)))
            bad = low if low < -n else (high if high >= n else None)
            if bad is not None:
                raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size "
                                 f"{n}")
        return ew.add(p, ew.mul(ew.lt(p, 0), n)) if p.size else p
    host = host.astype(np.int64)
    out_of_range = (host < -n) | (host >= n)
    if out_of_range.any():
        raise IndexError(f"index {host[out_of_range][0]} is out of bounds for dimension {dim} "
                         f"with size {n}")
    return from_numpy(np.where(host < 0, host + n, host))


def _extreme(p, sign):
    from .reduce import amax, amin

    axes = tuple(range(p.ndim))
    return amax(p, axes) if sign > 0 else amin(p, axes)


def _offsets(view, advanced):
    """(element offsets into the buffer as an int64 device array, the result's shape)."""
    indices = [_device_index(p, view.shape[pos], dim) for pos, p, dim in advanced]
    index_shape = ew.broadcast_shape([i.shape for i in indices])
    positions = [pos for pos, _, _ in advanced]
    rest = [k for k in range(view.ndim) if k not in positions]
    adjacent = positions == list(range(positions[0], positions[0] + len(positions)))
    lead = [k for k in rest if k < positions[0]] if adjacent else []
    tail = [k for k in rest if k not in lead]
    shape = tuple([view.shape[k] for k in lead] + list(index_shape)
                  + [view.shape[k] for k in tail])
    offsets = full(shape, view.offset, np.int64)
    before, after = len(lead), len(tail)
    for (pos, _, _), index in zip(advanced, indices):
        term = ew.mul(index, view.strides[pos])
        lined_up = (1,) * before + (1,) * (len(index_shape) - index.ndim) + index.shape
        ew.add_(offsets, reshape(term, lined_up + (1,) * after))
    for place, k in enumerate(lead + tail):
        at = place if place < before else place + len(index_shape)
        steps = ew.mul(arange(0, view.shape[k], 1, np.int64), view.strides[k])
        ew.add_(offsets, reshape(steps, (1,) * at + (view.shape[k],)
                                 + (1,) * (len(shape) - at - 1)))
    return offsets, shape


def getitem(x, index):
    view, advanced = _basic_view(x, _expand(index, x.ndim))
    if not advanced:
        return view
    offsets, shape = _offsets(view, advanced)
    out = empty(shape, x.dtype)
    if out.size:
        _take[grid(out.size)](out.buffer, x.buffer, offsets.buffer, out.size)
    return out


def _values(value, shape, dtype):
    if isinstance(value, CudaArray):
        return contiguous(broadcast_to(value, shape)) if value.shape != shape else \
            contiguous(value)
    return full(shape, value, dtype)


def _write(dst, index, value, basic, scattered):
    """Write value into dst[index]: by `basic(view, value)` on the view a basic index
    selects, or by the `scattered` kernel over the offsets an advanced one selects."""
    view, advanced = _basic_view(dst, _expand(index, dst.ndim))
    if not advanced:
        if view.size:
            basic(view, value)
        return
    offsets, shape = _offsets(view, advanced)
    if offsets.size:
        values = _values(value, shape, dst.dtype)
        scattered[grid(offsets.size)](dst.buffer, offsets.buffer,
                                      values.buffer[values.offset:], offsets.size)


def _assign(view, value):
    ew.identity(value if isinstance(value, CudaArray) else view.dtype.type(value), out=view)


def setitem(x, index, value):
    """x[index] = value (an array broadcast to the indexed shape, or a number)."""
    if not x.flags.writeable:
        raise ValueError("assignment destination is read-only")
    _write(x, index, value, _assign, _put)


def index_add(dst, index, src):
    """dst[index] += src, summing repeated indices (the backward of indexing)."""
    _write(dst, index, src, ew.add_, _put_add)
