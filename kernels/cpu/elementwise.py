"""Elementwise kernels on the CPU: each scalar body in `kernels.scalar`, compiled twice.

As a numpy ufunc (`@vectorize`), which brings broadcasting, arbitrary strides and
`out=` for free; and as a flat `@njit` loop for the common case of large C-contiguous
operands of one shape and dtype (or numbers), and for 0-d ones. The loop is there for
start-up: it loads from numba's disk cache in milliseconds, where a cached ufunc still
rebuilds its loop wrapper, about 80 ms, in every process. Both are compiled per dtype
on first use, so a program pays only for what it touches, and the result dtype is
exactly the declared one.
"""
import numba
import numpy as np
from numba import njit, types
from numba.extending import overload, register_jitable

from .. import scalar
from . import revision
from .quiet import call_quietly, quiet, restore

_NUMBA_NAMES = {np.dtype(np.bool_): "boolean"}


def _numba_name(dtype):
    dtype = np.dtype(dtype)
    return _NUMBA_NAMES.get(dtype, dtype.name)


def _ravel(x):
    """A C-contiguous array as a 1-d view, or a number as it is (inside the flat loops)."""


def _at(x, i):
    """Element i of a 1-d array, or a number as it is (inside the flat loops)."""


@overload(_ravel)
def _ravel_typed(x):
    if isinstance(x, types.Array):
        return lambda x: x.reshape(x.size)
    return lambda x: x


@overload(_at)
def _at_typed(x, i):
    if isinstance(x, types.Array):
        return lambda x, i: x[i]
    return lambda x, i: x


# Below this many elements the ufunc's call, about 1 us cheaper, wins; 0-d operands (loss
# reductions, a few per step) take the loop, to spare a process building their ufuncs.
_FLAT_MIN_SIZE = 4096
_jit_loop = njit(cache=True, error_model="numpy")  # numpy's error model, as @vectorize's


def _flat_loop(fn):
    """One cached @njit loop over flat operands for the scalar function fn.

    A closure can be cached because numba keys its cache on the pickled closure: the
    scalar function, which pickles by name, and the digest of the file it comes from
    (see `revision`). A loop taking the function as an argument would be compiled again
    in every process.
    """
    body = register_jitable(fn)
    source = revision.of(scalar)
    arity = fn.__code__.co_argcount
    if arity == 1:
        @_jit_loop
        def loop(out, a):
            source  # a cell, so in the cache key
            out, a = out.reshape(out.size), _ravel(a)
            for i in range(out.size):
                out[i] = body(_at(a, i))
    elif arity == 2:
        @_jit_loop
        def loop(out, a, b):
            source  # a cell, so in the cache key
            out, a, b = out.reshape(out.size), _ravel(a), _ravel(b)
            for i in range(out.size):
                out[i] = body(_at(a, i), _at(b, i))
    else:
        @_jit_loop
        def loop(out, a, b, c):
            source  # a cell, so in the cache key
            out, a, b, c = out.reshape(out.size), _ravel(a), _ravel(b), _ravel(c)
            for i in range(out.size):
                out[i] = body(_at(a, i), _at(b, i), _at(c, i))
    return loop


class Elementwise:
    """A scalar function from `kernels.scalar` as a flat loop and a ufunc per dtype."""

    def __init__(self, fn):
        self.fn = fn
        self.__name__ = fn.__name__
        self.returns = fn.returns
        self.arg_types = fn.arg_types
        # Where the dtype comes from: the generic arguments (all bool: the first one).
        self._typed = [i for i, t in enumerate(self.arg_types) if t is None] or [0]
        self._lead = self._typed[0]
        self._loop = None  # made on first use: making all of them costs 25 ms at import
        # The flat loop's result dtype: None for the operands' own, False where bool
        # operands (where's condition) take the ufunc path.
        self._result = False if "bool" in self.arg_types else \
            (np.dtype(np.bool_) if self.returns == "bool" else None)
        self._ufuncs = {}

    def __repr__(self):
        return f"<cpu kernel {self.__name__}>"

    def _compile(self, dtype):
        name = _numba_name(dtype)
        args = ", ".join("boolean" if t == "bool" else name for t in self.arg_types)
        result = "boolean" if self.returns == "bool" else name
        ufunc = numba.vectorize([f"{result}({args})"], cache=True)(self.fn).ufunc
        self._ufuncs[dtype] = ufunc
        return ufunc

    def __call__(self, *args, out=None):
        # The common case first, and cheaply: a small array leads, its ufunc is built.
        lead = args[self._lead]
        if out is None and type(lead) is np.ndarray and lead.ndim and \
                lead.size < _FLAT_MIN_SIZE:
            ufunc = self._ufuncs.get(lead.dtype)
            if ufunc is not None:
                token = quiet()
                try:
                    return ufunc(*args)  # an array, since the lead is not 0-d
                finally:
                    restore(token)
        # The first array argument decides the dtype; Python numbers adapt to it.
        for i in self._typed:
            first = args[i]
            key = getattr(first, "dtype", None)
            if key is not None:
                break
        shape = None
        if out is None and key is not None and (first.size >= _FLAT_MIN_SIZE or not first.ndim):
            shape = self._flat_shape(args, key)
        if shape is not None:
            out = np.empty(shape, self._result or key)
            self._loop = self._loop or _flat_loop(self.fn)
            self._loop(out, *[x if type(x) is np.ndarray else key.type(x) for x in args])
            return out
        ufunc = self._ufuncs.get(key) or self._compile(key)
        if out is None:
            result = call_quietly(ufunc, *args)
            # ufuncs give numpy scalars for 0-d inputs; the backend deals only in arrays.
            return result if type(result) is np.ndarray else np.asarray(result)
        return call_quietly(ufunc, *args, out=out)

    def _flat_shape(self, args, key):
        """The result's shape where the flat loop can serve (the operands C-contiguous
        arrays of one shape and dtype, or Python numbers of a kind the dtype holds), or
        None."""
        if self._result is False:
            return None
        shape = None
        for x in args:
            kind = type(x)
            if kind is np.ndarray:
                if x.dtype is not key or not x.flags.c_contiguous:
                    return None
                if shape is None:
                    shape = x.shape
                elif x.shape != shape:
                    return None
            elif kind is float:
                if key.kind != "f":
                    return None
            elif kind is not int and kind is not bool:
                return None
        return shape


# Each kernel is exported as the bound __call__: calling an instance resolves __call__
# through the type's slot on every call, about 0.3 us, a sixth of a small kernel.
for _name in scalar.NAMES:
    globals()[_name] = Elementwise(getattr(scalar, _name)).__call__
__all__ = list(scalar.NAMES)  # the backend's elementwise kernels
