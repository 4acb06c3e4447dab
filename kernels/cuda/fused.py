"""Fused elementwise kernels on the GPU: a program of scalar functions of `kernels.scalar`
(the same programs kernels/cpu/fused.py compiles for the CPU) composed into one device
function, launched by the elementwise machinery: one launch and one pass over memory for
a whole chain, broadcasting and strided operands read in place as for any elementwise op.

Each step's value is rounded to the dtype, as the separate kernels would round it. The
kernels live for the process: numba's CUDA target compiles them on first launch.

`sum_kernel` is a program whose result is summed over some axes as it is computed, in
the separate sum kernel's order (kernels/cuda/reduce.py), so the values are never stored
(or, with `keep`, stored on the way, for ops that read them beside the sum).
"""
import numba
import numpy as np

from .. import program
from ..reduction import kept_shape
from . import elementwise
from .array import empty
from .blockreduce import block_sum
from .elementwise import Elementwise
from .layout import reshape
from .reduce import RT, _rows, as_akb
from .runtime import cuda

_loaded = {}  # program text -> its elementwise op
_sums = {}  # (program text, number inputs, keep) -> its fused sum's kernel
_devices = {}  # program text -> its device function


def source(steps, n_inputs, dtype, types=None):
    """The device function's text for a program."""
    lines = [f"def fused({', '.join(f'x{i}' for i in range(n_inputs))}):"]
    lines += program.lines(steps, dtype, types, [f"x{i}" for i in range(n_inputs)], "    ")
    lines.append(f"    return t{len(steps) - 1}")
    return "\n".join(lines) + "\n"


def _device_fn(steps, n_inputs, dtype, types):
    """The program as a Python function calling the scalar device functions."""
    text = source(steps, n_inputs, dtype, types)
    namespace = {"np": np}
    namespace.update({name: getattr(elementwise, name).device_fn for name, _ in steps
                      if name != "astype"})
    exec(compile(text, "<numbagrad fused CUDA kernel>", "exec"), namespace)
    return namespace["fused"]


def device_function(steps, n_inputs, dtype):
    """The program (of one dtype) as a CUDA device function, made once per program: what
    a fused sum's or a GEMM's kernel calls on each value."""
    text = source(steps, n_inputs, dtype)
    fn = _devices.get(text)
    if fn is None:
        fn = _devices[text] = cuda.jit(device=True)(_device_fn(steps, n_inputs, dtype, None))
    return fn


def kernel(steps, n_inputs, dtype, types=None):
    """The fused op for a program: called with the group's input arrays, as a CPU ufunc."""
    text = source(steps, n_inputs, dtype, types)
    op = _loaded.get(text)
    if op is None:
        fn = _device_fn(steps, n_inputs, dtype, types)
        # the result's dtype: the inputs' (one dtype), or the last step's
        fn.returns = "same" if types is None else program.result_dtype(dtype, types)
        fn.arg_types = (None,) * n_inputs
        op = _loaded[text] = Elementwise(fn)
        op.program = (steps, n_inputs, np.dtype(dtype).name, types)  # to make it again
    return op


def _sum_source(n_inputs, scalars, keep):
    """One block per (a, b) row of the (A, K, B) views: each thread sums its stride of K,
    the block adds the threads' sums. A number input (in `scalars`) is read at its
    offset; the others at the same place of their views, where `keep` also writes the
    value into `values` (fresh, at offset 0)."""
    reads = ", ".join(f"x{i}[o{i}]" if i in scalars else f"x{i}[o{i} + at]"
                      for i in range(n_inputs))
    params = ", ".join(["out"] + ["values"] * keep + ["A, K, B"] +
                       [f"x{i}, o{i}" for i in range(n_inputs)])
    return "\n".join([
        f"def kernel({params}):",
        "    buf = cuda.shared.array(RT, kind)",
        "    for row in range(cuda.blockIdx.x, A * B, cuda.gridDim.x):",
        "        base = (row // B) * K * B + row % B",
        "        acc = kind(0)",
        "        for k in range(cuda.threadIdx.x, K, cuda.blockDim.x):",
        "            at = base + k * B",
        f"            value = fused({reads})"] + [
        "            values[at] = value"] * keep + [
        "            acc += value",
        "        total = block_sum(buf, acc)",
        "        if cuda.threadIdx.x == 0:",
        "            out[row] = total"]) + "\n"


def sum_launcher(steps, n_inputs, dtype, scalars, keep=False):
    """The kernel of a fused sum, made once per program."""
    dtype = np.dtype(dtype)
    key = (source(steps, n_inputs, dtype), tuple(sorted(scalars)), keep)
    launch = _sums.get(key)
    if launch is None:
        namespace = {"cuda": cuda, "RT": RT, "kind": numba.from_dtype(dtype),
                     "block_sum": block_sum,
                     "fused": device_function(steps, n_inputs, dtype)}
        exec(compile(_sum_source(n_inputs, scalars, keep), "<numbagrad fused CUDA sum>",
                     "exec"), namespace)
        launch = _sums[key] = cuda.jit(namespace["kernel"])
        launch.program = (steps, n_inputs, dtype.name, sorted(scalars), keep)  # to remake it
    return launch


def sum_kernel(steps, n_inputs, dtype, axes, keepdims, scalars, keep=False):
    """sum(program(inputs), axes) in one launch, for inputs of one shape and dtype but
    the 0-d ones whose indices are `scalars`: the arguments the CPU's sum_kernel takes
    (with `keep`, adjacent axes only: (the program's values, their sum))."""
    dtype = np.dtype(dtype)
    if keep and axes[-1] - axes[0] + 1 != len(axes):  # values are written through an
        # (A, K, B) view of a fresh array: a reshape only when the summed axes are adjacent
        raise ValueError(f"fused sum: keeping the values needs adjacent axes, got {axes}")
    launch = sum_launcher(steps, n_inputs, dtype, scalars, keep)
    full = next(i for i in range(n_inputs) if i not in scalars)

    def run(*arrays):
        shape = program.check_sum_inputs(arrays, scalars, dtype)
        views = [a if i in scalars else as_akb(a, axes) for i, a in enumerate(arrays)]
        A, K, B = views[full].shape
        out = empty((A, B), dtype)
        values = empty(shape, dtype) if keep else None
        if out.size:
            launch[_rows(views[full])](out.buffer, *([values.buffer] if keep else []), A, K, B,
                                       *[v for view in views for v in (view.buffer, view.offset)])
        total = reshape(out, kept_shape(shape, axes, keepdims))
        return (values, total) if keep else total

    return run
