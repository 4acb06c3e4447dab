"""Page-locked (pinned) host memory: the GPU copies from it by DMA, without a staging copy.

numba returns pinned memory as ordinary numpy arrays; a weak map from id to array
remembers which ones are pinned, for `Tensor.is_pinned()`.
"""
import weakref

from .runtime import cuda

_pinned = weakref.WeakValueDictionary()


def pinned_empty(shape, dtype):
    array = cuda.pinned_array(shape, dtype)
    _pinned[id(array)] = array
    return array


def is_pinned(array):
    return any(_pinned.get(id(a)) is a for a in (array, array.base) if a is not None)


def to_pinned(x):
    """A pinned host copy of the contiguous device array x (for a library, such as MPI,
    that reads host memory)."""
    host = pinned_empty(x.shape, x.dtype)
    if x.size:
        x.buffer[x.offset:x.offset + x.size].copy_to_host(host.reshape(-1))
    return host


def from_pinned(dst, host):
    """Copy the host array back into the contiguous device array dst, in place."""
    if dst.size:
        dst.buffer[dst.offset:dst.offset + dst.size].copy_to_device(host.reshape(-1))
