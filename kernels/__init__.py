"""Numba kernels: arrays in, arrays out. Nothing here knows about tensors or graphs.

`kernels.interface` lists the functions every backend implements; `kernels.cpu`
implements them with ``@njit`` / ``@vectorize`` over numpy arrays.
"""
from . import cache_location  # noqa: F401 - first, so that every kernel can be cached
