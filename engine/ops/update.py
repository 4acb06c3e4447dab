"""Fused optimizer updates on tensors: the engine's door to the backends' update kernels.

`optim` calls these rather than kernels (it may only import `engine`). Each updates a
parameter and its state tensors in place, outside autograd, in one kernel pass; inside
`together()` the updates wait and then run as the backends' multi-tensor updates.
"""
import contextlib
import threading

from ..tensor import version_counter
from ..tracing import graph_break

_open = threading.local()  # .calls: {backend: [(step name, arguments)]} in together()


@contextlib.contextmanager
def together():
    """Run the updates made inside as few multi-tensor updates as the backends can (on a
    GPU, one launch per rule and 8 parameters instead of one per parameter), when the
    block ends; each update is checked as it is made. PyTorch's `foreach` updates."""
    outer = getattr(_open, "calls", None)
    calls = _open.calls = {} if outer is None else outer
    try:
        yield
    finally:
        _open.calls = outer
    if outer is None:  # the outermost block runs what all collected
        for backend, steps in calls.items():
            backend.update_many(steps)


def _check(param, grad, states):
    """Same device, shape and dtype as the parameter, checked on the raw fields: this
    runs for every parameter of every step. (The backend checks shapes and dtypes again
    on the arrays, whoever calls it.)"""
    device, shape, dtype = param._device, param._data.shape, param._dtype
    for t in (grad, *states):
        if t is None:
            continue
        if t._device is not device and t._device != device:
            raise RuntimeError(f"optimizer: the parameter is on {param.device} but its "
                               f"gradient or state is on {t.device}")
        if t._data.shape != shape:
            raise RuntimeError(f"optimizer: the parameter has shape {tuple(param.shape)} but "
                               f"its gradient or state has shape {tuple(t.shape)}")
        if t._dtype is not dtype:
            raise RuntimeError(f"optimizer: the parameter is {dtype} but its gradient or "
                               f"state is {t.dtype}")


def _data(t):
    return None if t is None else t._data


def _bump(param, states):
    graph_break("an optimizer step (in-place updates of parameters and state)")
    for t in (param, *states):
        if t is not None:
            version_counter(t).value += 1


def _fused(kernel_name, param, grad, states, *scalars):
    """The common shape of the updates below: check, run the backend's step, bump."""
    _check(param, grad, states)
    args = (param._data, grad._data, *map(_data, states), *scalars)
    calls = getattr(_open, "calls", None)
    if calls is not None:
        calls.setdefault(param._backend, []).append((kernel_name, args))
    else:
        getattr(param._backend, kernel_name)(*args)
    _bump(param, states)


def sgd_(param, grad, momentum_buffer, *, lr, momentum, dampening, weight_decay, nesterov,
         maximize, first_step):
    _fused("sgd_step", param, grad, (momentum_buffer,), lr, momentum, dampening, weight_decay,
           nesterov, maximize, first_step)


def adam_(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, lr, beta1, beta2, eps,
          weight_decay, decoupled, amsgrad, maximize, step):
    _fused("adam_step", param, grad, (exp_avg, exp_avg_sq, max_exp_avg_sq), lr, beta1, beta2,
           eps, weight_decay, decoupled, amsgrad, maximize, step)


def adagrad_(param, grad, state_sum, *, lr, lr_decay, weight_decay, eps, maximize, step):
    _fused("adagrad_step", param, grad, (state_sum,), lr, lr_decay, weight_decay, eps,
           maximize, step)


def rmsprop_(param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps,
             weight_decay, momentum, centered, maximize):
    _fused("rmsprop_step", param, grad, (square_avg, grad_avg, momentum_buffer), lr, alpha,
           eps, weight_decay, momentum, centered, maximize)



def adamax_(param, grad, exp_avg, exp_inf, *, lr, beta1, beta2, eps, weight_decay, maximize,
            step):
    _fused("adamax_step", param, grad, (exp_avg, exp_inf), lr, beta1, beta2, eps,
           weight_decay, maximize, step)


def nadam_(param, grad, exp_avg, exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay,
           decoupled, maximize, step, mu, mu_next, mu_product):
    _fused("nadam_step", param, grad, (exp_avg, exp_avg_sq), lr, beta1, beta2, eps,
           weight_decay, decoupled, maximize, step, mu, mu_next, mu_product)


def radam_(param, grad, exp_avg, exp_avg_sq, *, lr, beta1, beta2, eps, weight_decay,
           decoupled, maximize, step):
    _fused("radam_step", param, grad, (exp_avg, exp_avg_sq), lr, beta1, beta2, eps,
           weight_decay, decoupled, maximize, step)


def adadelta_(param, grad, square_avg, acc_delta, *, lr, rho, eps, weight_decay, maximize):
    _fused("adadelta_step", param, grad, (square_avg, acc_delta), lr, rho, eps, weight_decay,
           maximize)
