"""`CudaArray`: an n-d strided view of device memory, the CUDA backend's array type.

numba's device arrays cannot express every view the engine needs (a broadcast has
stride 0; a permuted slice of a permuted slice...), so the backend keeps the layout
itself: a flat typed buffer plus an element offset, a shape and element strides. A
view is a new CudaArray over the same buffer; kernels index the buffer directly.
"""
import math

import numpy as np

from .allocator import Block


def contiguous_strides(shape):
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


class Flags:
    __slots__ = ("c_contiguous", "writeable")

    def __init__(self, c_contiguous, writeable):
        self.c_contiguous = c_contiguous
        self.writeable = writeable


class CudaArray:
    """Device memory seen as an array: `buffer[offset + sum(i_k * strides[k])]`."""

    __slots__ = ("buffer", "block", "offset", "shape", "strides", "dtype", "size", "flags",
                 "owner")

    def __init__(self, buffer, block, offset, shape, strides, dtype, writeable=True,
                 owner=None):
        self.buffer = buffer      # flat numba device array of `dtype`
        self.block = block        # the allocation keeping `buffer` alive
        self.offset = offset
        self.shape = shape
        self.strides = strides
        self.dtype = dtype
        self.size = math.prod(shape)
        self.flags = Flags(self._contiguous(), writeable)
        self.owner = owner        # the array that owns the memory, for views

    def _contiguous(self):
        expected = 1
        for n, s in zip(reversed(self.shape), reversed(self.strides)):
            if n != 1 and s != expected:
                return False
            expected *= n
        return True

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def root(self):
        return self if self.owner is None else self.owner

    def view(self, offset, shape, strides, writeable=None):
        return CudaArray(self.buffer, self.block, offset, tuple(shape), tuple(strides),
                         self.dtype, self.flags.writeable if writeable is None else writeable,
                         self.root)

    def __repr__(self):
        return f"CudaArray(shape={self.shape}, dtype={self.dtype})"


def empty(shape, dtype):
    """A new contiguous array (uninitialised), served by the caching allocator."""
    dtype = np.dtype(dtype)
    shape = tuple(int(n) for n in shape)
    n = math.prod(shape)
    block = Block(dtype, n)
    return CudaArray(block.array, block, 0, shape, contiguous_strides(shape), dtype)
