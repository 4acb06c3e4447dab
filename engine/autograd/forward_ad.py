"""`torch.autograd.forward_ad`: dual tensors, whose tangents are Jacobian-vector products.

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        value, jvp = forward_ad.unpack_dual(y)       # jvp = J_f(primal) @ tangent

No op carries a second set of rules for this. The ops on duals record the ordinary
graph, and unpack_dual transposes the vector-Jacobian products that graph already
knows: u -> J^T u is linear in u, so the derivative of <J^T u, tangent> with respect to
u is J tangent (two reverse passes, on demand). Every op with a derivative formula
therefore has forward mode, and it agrees with reverse mode by construction.
"""
import collections
import contextlib

from ..tensor import Tensor
from .gradients import grad
from .grad_mode import enable_grad

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", "primal tangent")
_levels = []  # the active levels, innermost last: each a list of (dual, tangent)


@contextlib.contextmanager
def dual_level():
    """A scope for dual tensors: their tangents are forgotten when it ends."""
    _levels.append([])
    try:
        yield len(_levels) - 1
    finally:
        _levels.pop()


def enter_dual_level():
    _levels.append([])
    return len(_levels) - 1


def exit_dual_level(*, level=None):
    if not _levels or (level is not None and level != len(_levels) - 1):
        raise RuntimeError("Trying to exit a forward AD level that was not the last one "
                           "created")
    _levels.pop()


def _level(level, name):
    if not _levels:
        raise RuntimeError(f"{name} can only be used inside a dual_level context; "
                           f"use `with forward_ad.dual_level():`")
    return _levels[-1 if level is None else level]


def make_dual(tensor, tangent, *, level=None):
    """A tensor with tensor's values that carries `tangent` (of the same shape and
    dtype) through every op applied to it."""
    duals = _level(level, "make_dual")
    if tangent.shape != tensor.shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than "
                           f"that of the original Tensor, this is not supported. Tensor is "
                           f"of size {tuple(tensor.shape)} while the given forward gradient "
                           f"is of size {tuple(tangent.shape)}.")
    if not tensor.dtype.is_floating_point:
        raise ValueError(f"make_dual: expected a floating point primal, got {tensor.dtype}")
    dual = tensor.view_as(tensor) if tensor.requires_grad else \
        tensor.detach().requires_grad_(True)
    duals.append((dual, tangent.detach().to(tensor.dtype)))
    return dual


def unpack_dual(tensor, *, level=None):
    """(primal, tangent): the tangent is J tangent over every dual the tensor depends on,
    None when it depends on none."""
    duals = _level(level, "unpack_dual") if _levels else []
    for dual, tangent in duals:
        if dual is tensor:
            return UnpackedDualTensor(tensor.detach(), tangent)
    if not isinstance(tensor, Tensor) or not tensor.requires_grad or not duals:
        return UnpackedDualTensor(tensor, None)
    with enable_grad():
        probe = tensor.new_zeros(tensor.shape).requires_grad_(True)
        pulled = grad(tensor, [d for d, _ in duals], probe, retain_graph=True,
                      create_graph=True, allow_unused=True)
        pairs = [(g * t).sum() for g, (_, t) in zip(pulled, duals) if g is not None]
        if not pairs:
            return UnpackedDualTensor(tensor.detach(), None)
        inner = pairs[0]
        for p in pairs[1:]:
            inner = inner + p
        if not inner.requires_grad:  # J^T u does not depend on u: the JVP is zero
            return UnpackedDualTensor(tensor.detach(), tensor.new_zeros(tensor.shape))
        (tangent,) = grad(inner, [probe], retain_graph=True, allow_unused=True)
    if tangent is None:
        tangent = tensor.new_zeros(tensor.shape)
    return UnpackedDualTensor(tensor.detach(), tangent.detach())
