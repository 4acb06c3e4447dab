"""The CPU backend for float16 and bfloat16 arrays: computed in float32, rounded once.

numba has no CPU type for either, so no kernel can read them. Each kernel here widens its
narrow operands to float32, runs the float32 kernel, and rounds its floating results back
to the operands' type, once per op: what PyTorch's CPU kernels do for these types (their
accumulation type is float), so an elementwise result is the same bits, and a sum or a
product accumulates in float32 before its one rounding. numpy moves these types' bytes
itself (views, copies, indexing, casts), so the memory functions are the CPU's own.

A kernel that writes into an argument (in-place arithmetic, optimizer updates, `out=`)
works on a float32 copy and writes the rounded values back into the caller's array.
"""
import functools

import numpy as np

from .. import interface
from .. import cpu as wide
from .quiet import call_quietly

_F32 = np.dtype(np.float32)
# numpy moves these bytes itself, without computing on them.
_MOVES = set(interface.MEMORY) - {"arange", "linspace", "where", "index_add"}
# The arguments each writing kernel writes: the target of a op= b, the sums of
# scatter_add and index_add (accumulated in float32, as PyTorch's); an optimizer step
# writes every array it is given but the gradient (argument 1).
_WRITES = {"add_": (0,), "sub_": (0,), "mul_": (0,), "div_": (0,), "scatter_add": (0,),
           "index_add": (0,)}
_ALL_BUT_GRADIENT = "all but the gradient"


def _is_narrow(x):
    return type(x) is np.ndarray and x.dtype.itemsize == 2 and x.dtype.kind in "fV"


def _widen(x):
    return x.astype(_F32) if _is_narrow(x) else x


def _round(result, dtype):
    """float32 results (and those in a tuple of results) as `dtype`; others as they are."""
    if isinstance(result, (np.ndarray, np.float32)):  # matmul of vectors: a numpy scalar
        # a value past the type's range rounds to inf, quietly
        return call_quietly(np.asarray(result).astype, dtype) if result.dtype == _F32 \
            else result
    if type(result) is tuple:
        return tuple(_round(r, dtype) for r in result)
    return result


def computing(kernel, writes=()):
    """`kernel` over widened operands, its floating results rounded; the arguments at
    the positions `writes` names get the rounded values the kernel wrote."""
    @functools.wraps(kernel)
    def call(*args, out=None, **kwargs):
        dtype = next((x.dtype for x in (*args, out, *kwargs.values()) if _is_narrow(x)),
                     None)
        if dtype is None:
            return kernel(*args, **kwargs) if out is None else kernel(*args, out=out, **kwargs)
        widened = [_widen(x) for x in args]
        kwargs = {key: _widen(x) for key, x in kwargs.items()}
        result = kernel(*widened, **kwargs)
        written = [i for i in range(len(args)) if i != 1] \
            if writes is _ALL_BUT_GRADIENT else writes
        for i in written:
            if widened[i] is not args[i]:
                call_quietly(np.copyto, args[i], widened[i], casting="unsafe")
                if result is widened[i]:
                    result = args[i]
        result = _round(result, dtype)
        if out is None:
            return result
        out[...] = result
        return out
    return call


def sum(x, axes, keepdims=False, dtype=None):  # noqa: A001 - backend name
    """Accumulated in float32 (or the wider `dtype` asked for), rounded once."""
    dtype = x.dtype if dtype is None else np.dtype(dtype)
    total = wide.sum(_widen(x), axes, keepdims, _F32 if dtype.itemsize == 2 else dtype)
    return call_quietly(total.astype, dtype, copy=False)


def arange(start, stop, step, dtype):
    """Values computed in float32 and rounded, not stepped in the narrow type."""
    return wide.arange(start, stop, step, _F32).astype(dtype)


def linspace(start, stop, steps, dtype):
    return wide.linspace(start, stop, steps, _F32).astype(dtype)


def update_many(calls):
    """One step at a time, each through its widened kernel (below)."""
    for name, args in calls:
        globals()[name](*args)


def _build():
    names = {}
    for name in interface.REQUIRED:
        if name in globals():
            continue
        kernel = getattr(wide, name)
        if name in _MOVES:
            names[name] = kernel
        elif name in interface.OPTIM:
            names[name] = computing(kernel, _ALL_BUT_GRADIENT)
        else:
            names[name] = computing(kernel, _WRITES.get(name, ()))
    return names


globals().update(_build())
fused_kernel = fused_sum_kernel = None  # engine.compile leaves narrow values unfused
name = "cpu"
