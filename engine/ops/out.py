"""`out=`: a functional op (`engine.mul(a, b, out=c)`) writes its result into a tensor the
caller already owns, as in PyTorch.

The op runs as usual and its result is copied in, converted to out's dtype. Only the
functional spellings take out=: operators and methods are the bare ops, so they pay
nothing for it. Writing into out is not differentiable, so it is refused where a
gradient would be recorded, before anything is written.
"""
import functools
import warnings

from ..autograd.grad_mode import is_grad_enabled


def with_out(fn):
    """`fn` taking an optional out= tensor (a tuple of them for ops returning several)."""

    @functools.wraps(fn)
    def op(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        result = fn(*args, **kwargs)
        if not isinstance(result, tuple):
            _check(fn.__name__, result, out)
            return _store(result, out)
        if not isinstance(out, (tuple, list)) or len(out) != len(result):
            raise TypeError(f"{fn.__name__}(): out= must be a tuple of {len(result)} tensors "
                            f"for this op, got {type(out).__name__}")
        for r, o in zip(result, out):
            _check(fn.__name__, r, o)
        return type(result)(*(_store(r, o) for r, o in zip(result, out)))

    return op


def _check(name, result, out):
    if is_grad_enabled() and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{name}(): out= cannot record a gradient, and an argument or out "
                           f"requires grad; call it under no_grad() or without out=")
    if out.device != result.device:
        raise RuntimeError(f"{name}(): out is on {out.device} but the result is on "
                           f"{result.device}")
    if result.dtype.category > out.dtype.category:  # bool < int < float: no narrowing
        raise RuntimeError(f"{name}(): the result type {result.dtype} can't be cast to out's "
                           f"type {out.dtype}")
    if out.shape != result.shape and out._base is not None:
        raise RuntimeError(f"{name}(): out is a view of shape {tuple(out.shape)}; the result "
                           f"has shape {tuple(result.shape)} and a view cannot be resized")


def _store(result, out):
    if out.shape != result.shape:
        if out.numel():
            warnings.warn(f"An output with one or more elements was resized since it had "
                          f"shape {list(out.shape)}, which does not match the required output "
                          f"shape {list(result.shape)}.", UserWarning, stacklevel=3)
        out._data = out._backend.empty(tuple(result.shape), out.dtype.numpy)
    return out.copy_(result)

