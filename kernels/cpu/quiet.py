"""Silence numpy's floating-point warnings inside kernel calls, cheaply.

Numba ufuncs report overflow and NaN through numpy's error flags, so `log(0)` would
print a numpy RuntimeWarning where PyTorch prints nothing. `np.errstate` costs
~3 us a call (more than a small kernel), so we set the context variable it sets.
"""
import numpy as np

try:  # numpy >= 2: errstate is a context variable
    from numpy._core.umath import _extobj_contextvar, _make_extobj

    _IGNORE_ALL = _make_extobj(all="ignore")

    def call_quietly(fn, *args, **kwargs):
        token = _extobj_contextvar.set(_IGNORE_ALL)
        try:
            return fn(*args, **kwargs)
        finally:
            _extobj_contextvar.reset(token)

except ImportError:  # pragma: no cover - older numpy

    def call_quietly(fn, *args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
