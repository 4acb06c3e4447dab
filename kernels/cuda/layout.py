"""Views without copies: reshape, permute and broadcast as new shapes and strides.

`reshape` follows numpy's rule: a view whenever the old strides can express the new
shape (always for contiguous arrays, often for transposed ones), else a copy.
"""
from ..layout import view_strides
from .array import CudaArray, contiguous_strides, empty
from .elementwise import broadcast_strides, identity


def copy(x):
    out = empty(x.shape, x.dtype)
    return identity(x, out=out) if x.size else out


def reshape(x, shape):
    shape = tuple(shape)
    if x.size == 0 or x.flags.c_contiguous:
        return x.view(x.offset, shape, contiguous_strides(shape))
    strides = view_strides(x.shape, x.strides, shape)
    if strides is None:
        y = copy(x)
        return y.view(0, shape, contiguous_strides(shape))
    return x.view(x.offset, shape, strides)


def permute(x, dims):
    return x.view(x.offset, [x.shape[d] for d in dims], [x.strides[d] for d in dims])


def diagonal(x, offset, axis1, axis2):
    """The elements (i, i + offset) of the (axis1, axis2) planes as the last axis, a
    view: one stride, the sum of the two planes' strides."""
    rest = [d for d in range(len(x.shape)) if d not in (axis1, axis2)]
    row, col = max(-offset, 0), max(offset, 0)
    length = max(0, min(x.shape[axis1] - row, x.shape[axis2] - col))
    start = x.offset + (row * x.strides[axis1] + col * x.strides[axis2] if length else 0)
    return x.view(start, [x.shape[d] for d in rest] + [length],
                  [x.strides[d] for d in rest] + [x.strides[axis1] + x.strides[axis2]])


def broadcast_to(x, shape):
    """A read-only view repeating x along broadcast dimensions (stride 0), as numpy's."""
    return x.view(x.offset, shape, broadcast_strides(x, tuple(shape)), writeable=False)


def contiguous(x):
    return x if x.flags.c_contiguous else copy(x)


def at_zero(x):
    """x contiguous, over a buffer that starts at its first element, for kernels that
    index the buffer from 0: the same memory (a slice of the buffer) unless x had to be
    made contiguous. A temporary copy must stay referenced until its kernel has been
    launched, or the allocator would hand its memory to the next request."""
    x = contiguous(x)
    if x.offset == 0:
        return x
    return CudaArray(x.buffer[x.offset:], x.block, 0, x.shape, x.strides, x.dtype,
                     x.flags.writeable, x.root)
