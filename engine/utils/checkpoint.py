"""Activation checkpointing: trade compute for memory, as torch.utils.checkpoint does.

The forward runs without recording a graph, so none of its intermediate tensors are
kept; backward runs it again, recording, and backpropagates through that. Gradients of
the parameters the function uses accumulate into their .grad during that replay, as in
PyTorch's reentrant implementation. Every device's random state is restored for the
replay (when the function drew random numbers), so dropout drops the same elements
both times.
"""
from .. import random
from ..autograd import Function, backward, enable_grad
from ..tensor import Tensor


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, function, preserve_rng_state, *args):
        ctx.function, ctx.args = function, args
        draws = random.DRAWS[0]
        ctx.rng_state = random.snapshot() if preserve_rng_state else None
        out = function(*args)
        if random.DRAWS[0] == draws:  # it drew nothing: there is no state to put back (so
            ctx.rng_state = None      # a function without dropout compiles)
        if not isinstance(out, Tensor):
            raise TypeError(f"checkpoint: the function must return one tensor here, got "
                            f"{type(out).__name__}")
        return out

    @staticmethod
    def backward(ctx, grad):
        inputs = [a.detach().requires_grad_(a.requires_grad) if isinstance(a, Tensor) else a
                  for a in ctx.args]
        saved = None
        if ctx.rng_state is not None:
            saved = random.snapshot()
            random.restore(ctx.rng_state)
        try:
            with enable_grad():
                out = ctx.function(*inputs)
        finally:
            if saved is not None:
                random.restore(saved)
        if out.requires_grad:
            backward(out, grad)
        return (None, None) + tuple(
            a.grad if isinstance(a, Tensor) and a.requires_grad else None for a in inputs)


def checkpoint(function, *args, use_reentrant=None, context_fn=None, determinism_check="default",
               debug=False, preserve_rng_state=True, **kwargs):
    """function(*args), keeping no intermediate tensor for backward: they are recomputed.

    use_reentrant, determinism_check and debug choose between PyTorch's two
    implementations and their checks; this one behaves as the reentrant one, whatever
    is passed. context_fn and keyword arguments for `function` need the non-reentrant
    one, and are refused."""
    if context_fn is not None or kwargs:
        raise ValueError("checkpoint: context_fn and keyword arguments for the function are "
                         "not supported (they need PyTorch's non-reentrant checkpoint)")
    return _Checkpoint.apply(function, preserve_rng_state, *args)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run `functions` (an nn.Sequential or a list of modules) in `segments` checkpointed
    chunks; the last chunk runs normally, as in PyTorch."""
    functions = list(functions.children()) if hasattr(functions, "children") else \
        list(functions)
    size = len(functions) // segments
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        chunk = functions[start:end + 1]
        input = checkpoint(lambda x, chunk=chunk: _run(chunk, x), input, **kwargs)
    return _run(functions[end + 1:], input)


def _run(modules, x):
    for m in modules:
        x = m(x)
    return x
