"""Optimizer updates: one pass over each parameter, updating it and its state in place.

Each reads the gradient once and writes the parameter and state once, where the
same update written with separate array ops would make 5-10 passes over memory.
Scalars are float64; arrays keep their own dtype.
"""
import math

import numpy as np
from numba import njit


@njit(cache=True)
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


@njit(cache=True)
def _adam(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
          maximize, step):
    bias1 = 1.0 - beta1 ** step
    root_bias2 = math.sqrt(1.0 - beta2 ** step)
    step_size = lr / bias1
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


@njit(cache=True)
def _adagrad(p, g, total, lr, lr_decay, weight_decay, eps, maximize, step):
    clr = lr / (1.0 + (step - 1.0) * lr_decay)
    for i in range(p.size):
        d = -g[i] if maximize else g[i]
        if weight_decay != 0.0:
            d = d + weight_decay * p[i]
        total[i] = total[i] + d * d
        p[i] = p[i] - clr * d / (math.sqrt(total[i]) + eps)


@njit(cache=True)
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
    _run(_adam, param, grad, [exp_avg, exp_avg_sq, max_exp_avg_sq], float(lr), float(beta1),
         float(beta2), float(eps), float(weight_decay), bool(decoupled), bool(amsgrad),
         bool(maximize), float(step))


def adagrad_step(param, grad, state_sum, lr, lr_decay, weight_decay, eps, maximize, step):
    _run(_adagrad, param, grad, [state_sum], float(lr), float(lr_decay), float(weight_decay),
         float(eps), bool(maximize), float(step))


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps,
                 weight_decay, momentum, centered, maximize):
    _run(_rmsprop, param, grad, [square_avg, grad_avg, momentum_buffer], float(lr),
         float(alpha), float(eps), float(weight_decay), float(momentum), bool(centered),
         bool(maximize))
