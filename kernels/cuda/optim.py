"""Optimizer updates on the GPU: one kernel per parameter, updating it and its state in place.

The update rules are the CPU backend's (kernels/cpu/optim.py), element by element;
each thread reads the gradient once and writes the parameter and its state once.
"""
import math

from .layout import contiguous
from .runtime import cuda, grid


@cuda.jit
def _sgd(p, g, buf, lr, momentum, dampening, weight_decay, nesterov, maximize, first_step, n):
    i = cuda.grid(1)
    while i < n:
        d = -g[i] if maximize else g[i]
        if weight_decay != 0.0:
            d = d + weight_decay * p[i]
        if momentum != 0.0:
            b = d if first_step else momentum * buf[i] + (1.0 - dampening) * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        p[i] = p[i] - lr * d
        i += cuda.gridsize(1)


@cuda.jit
def _adam(p, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad,
          maximize, step_size, root_bias2, n):
    i = cuda.grid(1)
    while i < n:
        d = -g[i] if maximize else g[i]
        if weight_decay != 0.0:
            if decoupled:  # AdamW: shrink the weight itself
                p[i] = p[i] * (1.0 - lr * weight_decay)
            else:
                d = d + weight_decay * p[i]
        m[i] = m[i] + (1.0 - beta1) * (d - m[i])
        v[i] = v[i] * beta2 + (1.0 - beta2) * d * d
        if amsgrad:
            vmax[i] = v[i] if v[i] > vmax[i] else vmax[i]
            denom = math.sqrt(vmax[i]) / root_bias2 + eps
        else:
            denom = math.sqrt(v[i]) / root_bias2 + eps
        p[i] = p[i] - step_size * m[i] / denom
        i += cuda.gridsize(1)


@cuda.jit
def _adagrad(p, g, total, clr, weight_decay, eps, maximize, n):
    i = cuda.grid(1)
    while i < n:
        d = -g[i] if maximize else g[i]
        if weight_decay != 0.0:
            d = d + weight_decay * p[i]
        total[i] = total[i] + d * d
        p[i] = p[i] - clr * d / (math.sqrt(total[i]) + eps)
        i += cuda.gridsize(1)


@cuda.jit
def _rmsprop(p, g, square_avg, grad_avg, buf, lr, alpha, eps, weight_decay, momentum,
             centered, maximize, n):
    i = cuda.grid(1)
    while i < n:
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
        i += cuda.gridsize(1)


def _flat(x, like):
    """The buffer to write through, from element 0 (state arrays are created contiguous)."""
    if x is None:
        return like  # an unused state: any array of the right type will do
    if not x.flags.c_contiguous:
        raise ValueError("optimizer state and parameters must be contiguous to update in "
                         "place")
    return x.buffer if x.offset == 0 else x.buffer[x.offset:]


def _run(kernel, param, grad, states, *scalars):
    """Launch over flat buffers; a non-contiguous parameter is updated through a copy."""
    from .memory import copy_into

    target = contiguous(param)
    grad = contiguous(grad)  # referenced until the launch: see loss._fresh
    kind = param.dtype.type
    scalars = [kind(x) if isinstance(x, float) else x for x in scalars]
    flat = _flat(target, None)
    if target.size:
        kernel[grid(target.size)](flat, _flat(grad, None), *[_flat(s, flat) for s in states],
                                  *scalars, target.size)
    if target is not param:
        copy_into(param, target)


def sgd_step(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay, nesterov,
             maximize, first_step):
    _run(_sgd, param, grad, [momentum_buffer], float(lr), float(momentum), float(dampening),
         float(weight_decay), bool(nesterov), bool(maximize), bool(first_step))


def adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
              weight_decay, decoupled, amsgrad, maximize, step):
    _run(_adam, param, grad, [exp_avg, exp_avg_sq, max_exp_avg_sq], float(lr), float(beta1),
         float(beta2), float(eps), float(weight_decay), bool(decoupled), bool(amsgrad),
         bool(maximize), float(lr / (1.0 - beta1 ** step)),
         float(math.sqrt(1.0 - beta2 ** step)))


def adagrad_step(param, grad, state_sum, lr, lr_decay, weight_decay, eps, maximize, step):
    clr = lr / (1.0 + (step - 1.0) * lr_decay)
    _run(_adagrad, param, grad, [state_sum], float(clr), float(weight_decay), float(eps),
         bool(maximize))


def rmsprop_step(param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps,
                 weight_decay, momentum, centered, maximize):
    _run(_rmsprop, param, grad, [square_avg, grad_avg, momentum_buffer], float(lr),
         float(alpha), float(eps), float(weight_decay), float(momentum), bool(centered),
         bool(maximize))
