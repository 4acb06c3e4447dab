"""Optimizer updates on the GPU: one kernel per parameter, updating it and its state in place.

Each rule of `kernels.update_rules` becomes a device function run by a grid-stride
loop; each thread reads the gradient once and writes the parameter and its state once.
"""
from .. import update_rules
from .layout import contiguous
from .runtime import cuda, grid


def _kernel(rule):
    at = cuda.jit(device=True)(rule)

    @cuda.jit
    def kernel(n, p, g, states, scalars):
        i = cuda.grid(1)
        while i < n:
            at(i, p, g, states, scalars)
            i += cuda.gridsize(1)

    return kernel


_KERNELS = {rule.__name__: _kernel(rule) for rule in update_rules.RULES}


def _flat(x, like):
    """The buffer to write through, from element 0 (state arrays are created contiguous)."""
    if x is None:
        return like  # an unused state: any array of the right type will do
    if not x.flags.c_contiguous:
        raise ValueError("optimizer state and parameters must be contiguous to update in "
                         "place")
    return x.buffer if x.offset == 0 else x.buffer[x.offset:]


def _run(rule, param, grad, states, scalars):
    """Launch over flat buffers; a non-contiguous parameter is updated through a copy."""
    from .memory import copy_into

    target = contiguous(param)
    grad = contiguous(grad)  # referenced until the launch: see loss._fresh
    kind = param.dtype.type
    scalars = tuple(kind(x) if isinstance(x, float) else x for x in scalars)
    flat = _flat(target, None)
    if target.size:
        _KERNELS[rule.__name__][grid(target.size)](
            target.size, flat, _flat(grad, None), tuple(_flat(s, flat) for s in states),
            scalars)
    if target is not param:
        copy_into(param, target)


(sgd_step, adam_step, adagrad_step, rmsprop_step, adamax_step, nadam_step, radam_step,
 adadelta_step) = update_rules.steps(_run)
