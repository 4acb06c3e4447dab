"""Gradient clipping, in place on `.grad`, as a training loop calls it between backward()
and the optimizer step. In a compiled training step each call is one effect that the
replay repeats (engine.tracing.opaque), as the optimizer's step is."""
import math

import engine
from engine import tracing


def _params(parameters):
    return [parameters] if isinstance(parameters, engine.Tensor) else list(parameters)


def _grads(params):
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale every gradient by one factor so that their joint norm is at most `max_norm`.

    The joint norm is the `norm_type` norm of all gradients taken as one vector (of each
    gradient's norm, which is the same number); it is returned, measured before clipping.
    The factor is max_norm / (norm + 1e-6), capped at 1, so gradients already small
    enough are left as they are. `foreach` is accepted for PyTorch's signature.
    """
    params = _params(parameters)
    return tracing.opaque("clip_grad_norm_()",
                          lambda: _clip_norm(params, max_norm, float(norm_type),
                                             error_if_nonfinite),
                          lambda: _grads(params))


def _clip_norm(params, max_norm, norm_type, error_if_nonfinite):
    grads = _grads(params)
    if not grads:
        return engine.tensor(0.0)
    with engine.no_grad():
        norms = engine.stack([g.norm(norm_type) for g in grads])
        total = norms.norm(norm_type)
        if error_if_nonfinite and not math.isfinite(total.item()):
            raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                               f"gradients is {total.item()}, so they cannot be clipped; pass "
                               f"error_if_nonfinite=False to scale them by it anyway")
        factor = (max_norm / (total + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(factor.to(g.dtype))
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value]."""
    params = _params(parameters)
    tracing.opaque("clip_grad_value_()", lambda: _clip_value(params, clip_value),
                   lambda: _grads(params))


def _clip_value(params, clip_value):
    for g in _grads(params):
        g.clamp_(min=-clip_value, max=clip_value)
