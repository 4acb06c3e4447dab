"""Gradient clipping, in place on `.grad`, as a training loop calls it between backward()
and the optimizer step."""
import math

import engine


def _grads(parameters):
    if isinstance(parameters, engine.Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale every gradient by one factor so that their joint norm is at most `max_norm`.

    The joint norm is the `norm_type` norm of all gradients taken as one vector (of each
    gradient's norm, which is the same number); it is returned, measured before clipping.
    The factor is max_norm / (norm + 1e-6), capped at 1, so gradients already small
    enough are left as they are. `foreach` is accepted for PyTorch's signature.
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
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
    for g in _grads(parameters):
        g.clamp_(min=-clip_value, max=clip_value)
