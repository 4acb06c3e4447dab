"""In-place ops. Each is its out-of-place op followed by `commit`, which writes the result
into the tensor's memory, bumps its version and takes over the result's history."""
from ..autograd.grad_mode import is_grad_enabled, no_grad
from ..tensor import Tensor, version_counter
from .. import tracing
from ..tracing import graph_break
from .operands import NUMBER, broadcast_shapes


def needs_history(target, *others):
    """True when the in-place op must be recorded for autograd."""
    if not is_grad_enabled():
        return False
    return target._requires_grad or any(isinstance(o, Tensor) and o._requires_grad
                                        for o in others)


def check_writable(t):
    """An in-place write straight to memory is about to happen: refuse it as
    `_refuse_hazards` does. Every such write passes here first, so this is also where a
    trace learns of one it cannot replay; `commit` tells the trace itself."""
    graph_break("an in-place write into a tensor")
    _refuse_hazards(t)


def _refuse_hazards(t):
    """Refuse in-place writes that would corrupt a gradient PyTorch would compute."""
    if not is_grad_enabled():
        return
    if t._requires_grad and t._grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    base = t._base
    if base is not None and base._requires_grad:
        if base._grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in "
                               "an in-place operation.")
        raise RuntimeError(f"in-place modification of a view (shape {tuple(t.shape)}) of a "
                           f"tensor that requires grad is not supported; clone() it first")


def commit(target, result):
    """Write `result` into `target` in place; `target` now stands for the result. A trace
    under way records the write, or stops if it cannot replay it."""
    _refuse_hazards(target)
    tracing.write(target, result)
    if result.shape != target.shape:
        raise RuntimeError(f"output with shape {list(target.shape)} doesn't match the "
                           f"broadcast shape {list(result.shape)}")
    if result.dtype.category > target.dtype.category:
        raise RuntimeError(f"result type {result.dtype} can't be cast to the desired output "
                           f"type {target.dtype}")
    target._backend.copy_into(target._data, result._data)
    version_counter(target).value += 1
    if result._grad_fn is not None:
        target._grad_fn = result._grad_fn
        target._requires_grad = True
    return target


def apply_(target, fn):
    """PyTorch's `inplace=True` for an op written out of place: target = fn(target) in
    target's memory, version bumped. When autograd records, fn runs on a clone, so that
    what fn saves for backward is not the memory being overwritten."""
    if needs_history(target):
        check_writable(target)
        return commit(target, fn(target.clone()))
    with no_grad():
        return commit(target, fn(target))


def update(target, fn, other=None, kernel=None, **kwargs):
    """target = fn(target, other), in place; straight into its memory when nothing records."""
    if needs_history(target, other):
        return commit(target, fn(target, other, **kwargs))
    if kernel is not None and not kwargs and _fits(target, other) \
            and tracing.TRACER[0] is None:  # a trace sees the op, then the write
        check_writable(target)
        data = other._data if isinstance(other, Tensor) else other
        getattr(target._backend, kernel)(target._data, data)
        version_counter(target).value += 1
        return target
    with no_grad():
        return commit(target, fn(target, other, **kwargs))


def _fits(target, other):
    """Whether `other` can be combined into `target`'s memory without promotion."""
    if isinstance(other, Tensor):
        return (other._dtype is target._dtype and other._device == target._device
                and broadcast_shapes(target.shape, other.shape) == target.shape)
    return isinstance(other, NUMBER) and (target._dtype.is_floating_point
                                          or isinstance(other, (int, bool)))
