"""In-place arithmetic, a op= b: the gradient-accumulation and update path.

A ufunc called with out= aliasing an input cannot assume the arrays are distinct, so
its loop stays scalar; these loops over flat contiguous arrays vectorise. Anything
else (broadcasting, strides, mixed dtypes) goes through the ufunc with out=.
error_model="numpy" gives IEEE division (x / 0 is inf or nan, not an exception).
"""
import numpy as np
from numba import njit

from . import elementwise


@njit(cache=True, error_model="numpy")
def _add(a, b):
    for i in range(a.size):
        a[i] += b[i]


@njit(cache=True, error_model="numpy")
def _sub(a, b):
    for i in range(a.size):
        a[i] -= b[i]


@njit(cache=True, error_model="numpy")
def _mul(a, b):
    for i in range(a.size):
        a[i] *= b[i]


@njit(cache=True, error_model="numpy")
def _div(a, b):
    for i in range(a.size):
        a[i] /= b[i]


@njit(cache=True, error_model="numpy")
def _add_rows(a, b):
    """a[i, :] += b for every row: a bias added to a batch of outputs."""
    for i in range(a.shape[0]):
        for j in range(a.shape[1]):
            a[i, j] += b[j]


def _same_layout(a, b):
    return (isinstance(b, np.ndarray) and b.dtype == a.dtype and a.flags.c_contiguous
            and b.flags.c_contiguous and a.size)


def _inplace(flat_kernel, ufunc, rows_kernel=None):
    def apply(a, b):
        if _same_layout(a, b) and b.shape == a.shape:
            flat_kernel(a.reshape(-1), b.reshape(-1))
        elif (rows_kernel is not None and _same_layout(a, b) and b.ndim
              and a.shape[a.ndim - b.ndim:] == b.shape):
            rows_kernel(a.reshape(-1, b.size), b.reshape(-1))
        else:
            ufunc(a, b, out=a)
        return a

    return apply


add_ = _inplace(_add, elementwise.add, _add_rows)
sub_ = _inplace(_sub, elementwise.sub)
mul_ = _inplace(_mul, elementwise.mul)
div_ = _inplace(_div, elementwise.div)
