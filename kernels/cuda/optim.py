"""Optimizer updates on the GPU: one kernel per parameter, updating it and its state in place,
or one per update_rules.CHUNK parameters (`update_many`, PyTorch's foreach updates).

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


def _kernel_over_many(rule):
    """Row y of the grid updates parameter y of the tuples, whose sizes are `sizes`
    (buffers can be longer than their tensors); the grid has a row per parameter, not
    per padding entry."""
    at = cuda.jit(device=True)(rule)

    @cuda.jit
    def kernel(sizes, ps, gs, states, scalars):
        k = cuda.blockIdx.y
        p, g, s, n = ps[k], gs[k], states[k], sizes[k]
        i = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
        while i < n:
            at(i, p, g, s, scalars)
            i += cuda.gridDim.x * cuda.blockDim.x

    return kernel


_KERNELS = {rule.__name__: _kernel(rule) for rule in update_rules.RULES}
_MANY = {rule.__name__: _kernel_over_many(rule) for rule in update_rules.RULES}


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
    grad = contiguous(grad)  # referenced until the launch: see layout.at_zero
    kind = param.dtype.type
    scalars = tuple(kind(x) if isinstance(x, float) else x for x in scalars)
    flat = _flat(target, None)
    if target.size:
        _KERNELS[rule.__name__][grid(target.size)](
            target.size, flat, _flat(grad, None), tuple(_flat(s, flat) for s in states),
            scalars)
    if target is not param:
        copy_into(param, target)


def _run_many(rule, items, scalars):
    """Contiguous parameters of one dtype in one launch, the tuples padded to CHUNK with
    the first parameter's buffers at size 0."""
    kind = items[0][0].dtype.type
    scalars = tuple(kind(x) if isinstance(x, float) else x for x in scalars)
    grads = [contiguous(grad) for _, grad, _ in items]  # referenced until the launch
    flats = [_flat(param, None) for param, _, _ in items]
    pad = update_rules.CHUNK - len(items)
    states = tuple(tuple(_flat(s, flat) for s in item[2]) for flat, item in zip(flats, items))
    blocks, threads = grid(max(param.size for param, _, _ in items))
    _MANY[rule.__name__][(blocks, len(items)), threads](
        tuple(param.size for param, _, _ in items) + (0,) * pad,
        tuple(flats) + (flats[0],) * pad,
        tuple(_flat(g, None) for g in grads) + (flats[0],) * pad,
        states + (states[0],) * pad, scalars)


update_many = update_rules.many(_run, _run_many)
(sgd_step, adam_step, adagrad_step, rmsprop_step, adamax_step, nadam_step, radam_step,
 adadelta_step) = update_rules.steps(_run)
