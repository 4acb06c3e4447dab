"""Elementwise kernels on the GPU: each scalar body in `kernels.scalar` in a strided loop.

For every pattern of operands an op meets (which are arrays and which numbers, and
how many dimensions), one kernel is generated from source and compiled by numba:
a flat loop when every array is contiguous in the output's shape, else a loop that
turns each flat index into per-operand offsets through shapes and strides, so that
broadcasts (stride 0), transposes and slices are read in place, never copied.
"""
import numbers

import numpy as np

from .. import scalar
from .array import CudaArray, empty
from .runtime import cuda, grid

_BOOL = np.dtype(np.bool_)


def _flat_source(kinds):
    args, reads = [], []
    for k, kind in enumerate(kinds):
        if kind == "a":
            args += [f"x{k}", f"p{k}"]
            reads.append(f"x{k}[p{k} + i]")
        else:
            args.append(f"x{k}")
            reads.append(f"x{k}")
    return (f"def kernel(out, o, {', '.join(args)}, n):\n"
            f"    i = cuda.grid(1)\n"
            f"    step = cuda.gridsize(1)\n"
            f"    while i < n:\n"
            f"        out[o + i] = fn({', '.join(reads)})\n"
            f"        i += step\n")


def _strided_source(kinds, ndim):
    args, reads = [], []
    arrays = [k for k, kind in enumerate(kinds) if kind == "a"]
    for k, kind in enumerate(kinds):
        if kind == "a":
            args += [f"x{k}", f"p{k}", f"s{k}"]
            reads.append(f"x{k}[q{k}]")
        else:
            args.append(f"x{k}")
            reads.append(f"x{k}")
    lines = [f"def kernel(out, o, os, {', '.join(args)}, shape, n):",
             "    i = cuda.grid(1)",
             "    step = cuda.gridsize(1)",
             "    while i < n:",
             "        r = i",
             "        at = o"]
    lines += [f"        q{k} = p{k}" for k in arrays]
    for d in reversed(range(ndim)):
        lines.append(f"        c = r % shape[{d}]" if d else "        c = r")
        if d:
            lines.append(f"        r //= shape[{d}]")
        lines.append(f"        at += c * os[{d}]")
        lines += [f"        q{k} += c * s{k}[{d}]" for k in arrays]
    lines += [f"        out[at] = fn({', '.join(reads)})", "        i += step"]
    return "\n".join(lines) + "\n"


def _compile(source, fn):
    namespace = {"cuda": cuda, "fn": fn}
    exec(compile(source, "<numbagrad elementwise kernel>", "exec"), namespace)
    return cuda.jit(namespace["kernel"])


def broadcast_shape(shapes):
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for d in range(-ndim, 0):
        sizes = {s[d] for s in shapes if -d <= len(s)} - {1}
        if len(sizes) > 1:
            raise ValueError(f"shapes {' and '.join(map(str, shapes))} cannot be broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def broadcast_strides(x, shape):
    """x's element strides seen in `shape` (0 along broadcast dimensions)."""
    lead = len(shape) - x.ndim
    return tuple(0 if d < lead or x.shape[d - lead] == 1 else x.strides[d - lead]
                 for d in range(len(shape)))


class Elementwise:
    """A scalar function from `kernels.scalar` as GPU kernels, generated per operand pattern."""

    def __init__(self, fn):
        self.__name__ = fn.__name__
        self.device_fn = cuda.jit(device=True)(fn)
        self.returns = fn.returns
        self.arg_types = fn.arg_types
        self._kernels = {}

    def _kernel(self, kinds, ndim):
        key = (kinds, ndim)
        kernel = self._kernels.get(key)
        if kernel is None:
            source = _flat_source(kinds) if ndim is None else _strided_source(kinds, ndim)
            kernel = self._kernels[key] = _compile(source, self.device_fn)
        return kernel

    def __call__(self, *args, out=None):
        arrays = [a for a in args if isinstance(a, CudaArray)]
        for a in args:
            if not isinstance(a, (CudaArray, numbers.Number, np.generic)):
                raise TypeError(f"{self.__name__}: the CUDA backend got a "
                                f"{type(a).__name__}; copy the data to the GPU first")
        dtype = next((a.dtype for a, t in zip(args, self.arg_types)
                      if t is None and isinstance(a, CudaArray)), None)
        if dtype is None:  # numbers only, or (logical_not) bool operands only
            generic = [a for a, t in zip(args, self.arg_types) if t is None]
            dtype = np.result_type(*generic) if generic else _BOOL
        shape = broadcast_shape([a.shape for a in arrays])
        if out is None:
            out = empty(shape, self.returns if isinstance(self.returns, np.dtype) else
                        _BOOL if self.returns == "bool" else dtype)
        elif broadcast_shape([out.shape, shape]) != out.shape:
            raise ValueError(f"{self.__name__}: operands of shape {shape} cannot be written "
                             f"into an output of shape {out.shape}")
        if out.size == 0:
            return out
        launch(self, args, dtype, out)
        return out


def launch(op, args, dtype, out):
    """Run `op` over `args` into `out`, flat when every layout allows it."""
    kinds = "".join("a" if isinstance(a, CudaArray) else "s" for a in args)
    flat = out.flags.c_contiguous and all(
        a.flags.c_contiguous and a.shape == out.shape for a in args if isinstance(a, CudaArray))
    values = []
    for a, t in zip(args, op.arg_types):
        if isinstance(a, CudaArray):
            values += ([a.buffer, a.offset] if flat else
                       [a.buffer, a.offset, broadcast_strides(a, out.shape) or (0,)])
        else:
            values.append((_BOOL if t == "bool" else dtype).type(a))
    blocks, threads = grid(out.size)
    if flat:
        op._kernel(kinds, None)[blocks, threads](out.buffer, out.offset, *values, out.size)
    else:
        shape = out.shape or (1,)
        op._kernel(kinds, len(shape))[blocks, threads](out.buffer, out.offset,
                                                       out.strides or (0,), *values, shape,
                                                       out.size)


for _name in scalar.NAMES:
    globals()[_name] = Elementwise(getattr(scalar, _name))


def _identity(x):
    return x


_identity.returns, _identity.arg_types = "same", (None,)
identity = Elementwise(_identity)


def _inplace(op):
    def apply(a, b):
        return op(a, b, out=a)

    return apply


add_ = _inplace(globals()["add"])
sub_ = _inplace(globals()["sub"])
mul_ = _inplace(globals()["mul"])
div_ = _inplace(globals()["div"])
__all__ = list(scalar.NAMES) + ["add_", "sub_", "mul_", "div_"]  # the backend's kernels
