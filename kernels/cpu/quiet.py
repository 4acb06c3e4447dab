"""Silence numpy's floating-point warnings inside kernel calls, cheaply.

Numba ufuncs report overflow and NaN through numpy's error flags, so `log(0)` would
print a numpy RuntimeWarning where PyTorch prints nothing. `np.errstate` costs
~3 us a call (more than a small kernel), so we set the context variable it sets:
`token = quiet()` ... `restore(token)`, or `call_quietly(fn, *args)`.
"""
import functools

import numpy as np

try:  # numpy >= 2: errstate is a context variable
    from numpy._core.umath import _extobj_contextvar, _make_extobj

    quiet = functools.partial(_extobj_contextvar.set, _make_extobj(all="ignore"))
    restore = _extobj_contextvar.reset

except ImportError:  # pragma: no cover - older numpy

    def quiet():
        state = np.errstate(all="ignore")
        state.__enter__()
        return state

    def restore(state):
        state.__exit__(None, None, None)


def call_quietly(fn, *args, **kwargs):
    token = quiet()
    try:
        return fn(*args, **kwargs)
    finally:
        restore(token)
