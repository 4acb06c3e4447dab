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
