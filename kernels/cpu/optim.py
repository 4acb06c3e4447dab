"""Optimizer updates: one pass over each parameter, updating it and its state in place.

Each reads the gradient once and writes the parameter and state once, where the
same update written with separate array ops would make 5-10 passes over memory.
Scalars arrive in the parameter's dtype, so a float32 model is updated in float32
arithmetic (as PyTorch does); loop-invariant factors are computed once, outside.
"""
import math

import numpy as np
from numba import njit

# Reassociation and contraction let LLVM vectorise the loops; NaN and inf keep their
# IEEE meaning (no nnan/ninf), so a NaN gradient still shows up in the parameters.
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}


@njit(cache=True, fastmath=_FAST)
def _sgd(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step):
    for i in range(p.size):
        d = -g[i] if maximize else g[i]
        if weight_decay != 0.0:
            d = d + weight_decay * p[i]
        if momentum != 0.0:
            b = d if first_step else momentum * buf[i] + (1.0 - dampening) * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] = p[i] - lr * d


@njit(cache=True, fastmath=_FAST)
def _adam(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
          maximize, step_size, root_bias2):
    for i in range(p.size):
        d = -g[i] if maximize else g[i]
        if weight_decay != 0.0:
            if decoupled:  # AdamW: shrink the weight itself
                p[i] = p[i] * (1.0 - lr * weight_decay)
            else:
                d = d + weight_decay * p[i]
        m[i] = m[i] + (1.0 - beta1) * (d - m[i])
        v[i] = v[i] * beta2 + (1.0 - beta2) * d * d
        if amsgrad:
            vmax[i] = max(vmax[i], v[i])
            denom = math.sqrt(vmax[i]) / root_bias2 + eps
        else:
            denom = math.sqrt(v[i]) / root_bias2 + eps
        p[i] = p[i] - step_size * m[i] / denom


@njit(cache=True, fastmath=_FAST)
def _adam_lean(p, g, m, v, shrink, keep1, take1, keep2, take2, eps, step_size, root_bias2):
    """Adam / AdamW without amsgrad, maximize or coupled decay: no branches, so it
    vectorises. shrink is 1 - lr * weight_decay for AdamW (1 for Adam)."""
    for i in range(p.size):
        d = g[i]
        mi = keep1 * m[i] + take1 * d
        vi = keep2 * v[i] + take2 * d * d
        m[i] = mi
        v[i] = vi
        p[i] = shrink * p[i] - step_size * mi / (math.sqrt(vi) / root_bias2 + eps)


@njit(cache=True, fastmath=_FAST)
def _adagrad(p, g, total, clr, weight_decay, eps, maximize):
    for i in range(p.size):
        d = -g[i] if maximize else g[i]
        if weight_decay != 0.0:
            d = d + weight_decay * p[i]
        total[i] = total[i] + d * d
        p[i] = p[i] - clr * d / (math.sqrt(total[i]) + eps)


@njit(cache=True, fastmath=_FAST)
def _rmsprop(p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum,
             centered, maximize):
    for i in range(p.size):
        d = -g[i] if maximize else g[i]
        if weight_decay != 0.0:
            d = d + weight_decay * p[i]
        square_avg[i] = square_avg[i] * alpha + (1.0 - alpha) * d * d
        if centered:
            grad_avg[i] = grad_avg[i] + (1.0 - alpha) * (d - grad_avg[i])
            avg = math.sqrt(square_avg[i] - grad_avg[i] * grad_avg[i]) + eps
        else:
            avg = math.sqrt(square_avg[i]) + eps
        if momentum > 0.0:
            buf[i] = buf[i] * momentum + d / avg
            p[i] = p[i] - lr * buf[i]
        else:
            p[i] = p[i] - lr * d / avg


_NONE = np.zeros(0, np.float32)


def _flat(x):
    """A flat view to write through (state arrays are created contiguous)."""
    if x is None:
        return _NONE
    if not x.flags.c_contiguous:
        raise ValueError("optimizer state and parameters must be contiguous to update in "
                         "place")
    return x.reshape(-1)


def _run(kernel, param, grad, states, *scalars):
    """Call kernel over flat views; a non-contiguous parameter is updated via a copy."""
    target = param if param.flags.c_contiguous else np.ascontiguousarray(param)
    kind = param.dtype.type
    scalars = [kind(x) if isinstance(x, float) else x for x in scalars]
    kernel(target.reshape(-1), np.ascontiguousarray(grad).reshape(-1),
           *[_flat(s) for s in states], *scalars)
    if target is not param:
        param[...] = target


def sgd_step(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov,
             maximize, first_step):
    _run(_sgd, param, grad, [momentum_buffer], float(lr), float(momentum), float(dampening),
         float(weight_decay), bool(nesterov), bool(maximize), bool(first_step))


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
              weight_decay, decoupled, amsgrad, maximize, step):
    step_size = lr / (1.0 - beta1 ** step)
    root_bias2 = math.sqrt(1.0 - beta2 ** step)
    if not amsgrad and not maximize and (decoupled or weight_decay == 0.0):
        _run(_adam_lean, param, grad, [exp_avg, exp_avg_sq], 1.0 - lr * weight_decay,
             float(beta1), 1.0 - beta1, float(beta2), 1.0 - beta2, float(eps),
             float(step_size), float(root_bias2))
        return
    _run(_adam, param, grad, [exp_avg, exp_avg_sq, max_exp_avg_sq], float(lr), float(beta1),
         float(beta2), float(eps), float(weight_decay), bool(decoupled), bool(amsgrad),
         bool(maximize), float(step_size), float(root_bias2))


def adagrad_step(param, grad, state_sum, lr, lr_decay, weight_decay, eps, maximize, step):
    clr = lr / (1.0 + (step - 1.0) * lr_decay)
    _run(_adagrad, param, grad, [state_sum], float(clr), float(weight_decay), float(eps),
         bool(maximize))


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps,
                 weight_decay, momentum, centered, maximize):
    _run(_rmsprop, param, grad, [square_avg, grad_avg, momentum_buffer], float(lr),
         float(alpha), float(eps), float(weight_decay), float(momentum), bool(centered),
         bool(maximize))
