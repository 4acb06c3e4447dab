"""Elementwise kernels on the CPU: each scalar body in `kernels.scalar` as a numpy ufunc.

A ufunc brings broadcasting, arbitrary strides and `out=` for free. Each function is
compiled per dtype on first use (``@vectorize`` with one explicit signature, cached
to disk), so a program pays only for the dtypes it touches and the result dtype is
exactly the declared one.
"""
import numba
import numpy as np

from .. import scalar
from .quiet import call_quietly

_NUMBA_NAMES = {np.dtype(np.bool_): "boolean"}


def _numba_name(dtype):
    dtype = np.dtype(dtype)
    return _NUMBA_NAMES.get(dtype, dtype.name)


class Elementwise:
    """A scalar function from `kernels.scalar` turned into a ufunc per dtype, lazily."""

    def __init__(self, fn):
        self.fn = fn
        self.__name__ = fn.__name__
        self.returns = fn.returns
        self.arg_types = fn.arg_types
        self._typed = [i for i, t in enumerate(self.arg_types) if t is None]
        self._ufuncs = {}

    def _compile(self, dtype):
        name = _numba_name(dtype)
        args = ", ".join("boolean" if t == "bool" else name for t in self.arg_types)
        result = "boolean" if self.returns == "bool" else name
        ufunc = numba.vectorize([f"{result}({args})"], cache=True)(self.fn).ufunc
        self._ufuncs[dtype] = ufunc
        return ufunc

    def __call__(self, *args, out=None):
        # The first array argument decides the dtype; Python numbers adapt to it.
        for i in self._typed:
            key = getattr(args[i], "dtype", None)
            if key is not None:
                break
        ufunc = self._ufuncs.get(key) or self._compile(key)
        if out is None:
            result = call_quietly(ufunc, *args)
            # ufuncs give numpy scalars for 0-d inputs; the backend deals only in arrays.
            return result if type(result) is np.ndarray else np.asarray(result)
        return call_quietly(ufunc, *args, out=out)


for _name in scalar.NAMES:
    globals()[_name] = Elementwise(getattr(scalar, _name))
