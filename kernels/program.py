"""The body of a fused elementwise program as source text, shared by the CPU and CUDA
code generators. A program is a list of steps `(name, args)`, each a call of a
`kernels.scalar` function (or `astype`, a conversion of its one argument) whose args
are inputs `("in", i)`, earlier steps `("step", j)` or numbers. Each step's value is
cast to its dtype, as the separate kernels would round it, and its numbers to the dtype
of its operands, as the separate kernels would read them.

`types`, where a program mixes dtypes (a comparison, a conversion), names the dtype of
each input, of each step's result and of each step's operands; None: every value has
the program's one dtype."""
import numpy as np


def lines(steps, dtype, types, inputs, indent):
    """One assignment `t<j> = ...` per step; `inputs` is the text that reads each input."""
    if types is None:
        casts = [(_cast(dtype), _cast(dtype))] * len(steps)
    else:
        casts = list(zip(map(_cast, types[1]), map(_cast, types[2])))
    out = []
    for j, ((name, args), (result, operand)) in enumerate(zip(steps, casts)):
        values = [_argument(a, operand, inputs) for a in args]
        call = values[0] if name == "astype" else f"{name}({', '.join(values)})"
        out.append(f"{indent}t{j} = {result}({call})")
    return out


def result_dtype(dtype, types):
    return np.dtype(dtype if types is None else types[1][-1])


def _cast(dtype):
    """The cast function's text; none for bool (comparisons already give one)."""
    dtype = np.dtype(dtype)
    return "" if dtype == np.bool_ else f"np.{dtype.name}"


def _argument(arg, cast, inputs):
    if isinstance(arg, tuple):
        return inputs[arg[1]] if arg[0] == "in" else f"t{arg[1]}"
    return f"{cast}({arg!r})"


def check_sum_inputs(arrays, scalars, dtype):
    """The shape of a fused sum's full inputs, after checking that each input has it
    (or is 0-d, at the indices `scalars`) and the program's dtype: the kernel reads every
    input at every index."""
    shape = next(a.shape for i, a in enumerate(arrays) if i not in scalars)
    for i, a in enumerate(arrays):
        if a.shape != (() if i in scalars else shape) or a.dtype != dtype:
            raise ValueError(f"fused sum: input {i} is {a.dtype} of shape {a.shape}, "
                             f"the program needs {np.dtype(dtype)} of shape "
                             f"{() if i in scalars else shape}")
    return shape
