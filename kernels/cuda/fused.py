"""Fused elementwise kernels on the GPU: a program of scalar functions of `kernels.scalar`
(the same programs kernels/cpu/fused.py compiles for the CPU) composed into one device
function, launched by the elementwise machinery: one launch and one pass over memory for
a whole chain, broadcasting and strided operands read in place as for any elementwise op.

Each step's value is rounded to the dtype, as the separate kernels would round it. The
kernels live for the process: numba's CUDA target compiles them on first launch.
"""
import numpy as np

from .. import program
from . import elementwise
from .elementwise import Elementwise

_loaded = {}


def source(steps, n_inputs, dtype, types=None):
    """The device function's text for a program."""
    lines = [f"def fused({', '.join(f'x{i}' for i in range(n_inputs))}):"]
    lines += program.lines(steps, dtype, types, [f"x{i}" for i in range(n_inputs)], "    ")
    lines.append(f"    return t{len(steps) - 1}")
    return "\n".join(lines) + "\n"


def kernel(steps, n_inputs, dtype, types=None):
    """The fused op for a program: called with the group's input arrays, as a CPU ufunc."""
    text = source(steps, n_inputs, dtype, types)
    op = _loaded.get(text)
    if op is None:
        namespace = {"np": np}
        namespace.update({name: getattr(elementwise, name).device_fn for name, _ in steps
                          if name != "astype"})
        exec(compile(text, "<numbagrad fused CUDA kernel>", "exec"), namespace)
        fn = namespace["fused"]
        # the result's dtype: the inputs' (one dtype), or the last step's
        fn.returns = "same" if types is None else program.result_dtype(dtype, types)
        fn.arg_types = (None,) * n_inputs
        op = _loaded[text] = Elementwise(fn)
        op.program = (steps, n_inputs, np.dtype(dtype).name, types)  # to make it again
    return op
