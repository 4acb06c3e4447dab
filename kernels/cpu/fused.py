"""Fused elementwise kernels: several scalar functions of `kernels.scalar` composed into
one numpy ufunc, so that a chain like `tanh(a * b + c)` reads and writes memory once.

A program is a list of steps `(name, args)`, each arg an input index `("in", i)`, an
earlier step `("step", j)` or a number; the last step is the result. Each step's value
is rounded to the dtype, as the separate kernels would round it, so fused and unfused
results agree. The generated source is written to a cache folder under a name that is
the hash of its text (which includes a digest of kernels/scalar.py), and imported from
there, so numba's disk cache serves the compiled ufunc to the next process.
"""
import hashlib
import importlib.util
import os
import sys
import tempfile

import numpy as np

from .. import program, scalar
from ..reduction import kept_shape
from . import revision
from .elementwise import _numba_name
from .reduce import as_akb, sum as sum_axes

_loaded = {}


def folder():
    """Where generated kernel sources live: $NUMBAGRAD_COMPILE_CACHE, else the user's
    cache folder, else a temporary folder for this process."""
    root = os.environ.get("NUMBAGRAD_COMPILE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"),
        "numbagrad", "compiled")
    try:
        os.makedirs(root, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=root)
        probe.close()
    except OSError:
        root = tempfile.mkdtemp(prefix="numbagrad-compiled-")
    return root


def source(steps, n_inputs, dtype, types=None):
    """The generated module's text for a program: an elementwise ufunc."""
    inputs = [dtype] * n_inputs if types is None else types[0]
    signature = (f"{_numba_name(program.result_dtype(dtype, types))}"
                 f"({', '.join(map(_numba_name, inputs))})")
    params = ", ".join(f"x{i}" for i in range(n_inputs))
    lines = _header(steps)
    lines += ["", "", f"@numba.vectorize(['{signature}'], cache=True)",
              f"def kernel({params}):"]
    lines += program.lines(steps, dtype, types, [f"x{i}" for i in range(n_inputs)], "    ")
    lines.append(f"    return t{len(steps) - 1}")
    return "\n".join(lines) + "\n"


def sum_source(steps, n_inputs, dtype, scalars):
    """The generated module's text for a program whose result is summed: each input seen
    as (A, K, B) with the summed axes as K (the inputs in `scalars` as one element),
    summed over K in the order of the separate `sum` kernel (kernels/cpu/reduce.py), so
    the chain's values are never stored.

    Two kernels: `rows` (B == 1: every value of a row into one sum) reassociates, as the
    sum kernel's row loop does to vectorise, so its order of additions is LLVM's and may
    differ from the sum kernel's in the last bit; `columns` (B > 1: a bias gradient's
    sum over the batch) adds each column in order, as the sum kernel does, and is
    compiled without fast-math, so that it gives the chain's values and their sums to
    the bit (fast-math would contract the chain's multiplies and adds)."""
    params = ", ".join(f"x{i}" for i in range(n_inputs))
    full = next(i for i in range(n_inputs) if i not in scalars)
    lines = _header(steps)
    for name, flags in (("rows", ", fastmath={'reassoc', 'contract', 'nsz'}"),
                        ("columns", "")):
        lines += ["", "", f"@numba.njit(cache=True{flags})",
                  f"def {name}(out, {params}):",
                  f"    A, K, B = x{full}.shape",
                  "    for a in range(A):",
                  "        for k in range(K):",
                  "            for b in range(B):"]
        lines += program.lines(steps, dtype, None, [
            f"x{i}[0, 0, 0]" if i in scalars else f"x{i}[a, k, b]" for i in range(n_inputs)],
            " " * 16)
        lines.append(f"                out[a, b] += t{len(steps) - 1}")
    return "\n".join(lines) + "\n"


def _header(steps):
    used = sorted({step_name for step_name, _ in steps} - {"astype"})
    lines = [f"# numbagrad fused kernel; kernels/scalar.py revision {revision.of(scalar)}",
             "import numba", "import numpy as np", "from numba.extending import register_jitable",
             "from kernels import scalar", ""]
    return lines + [f"{f} = register_jitable(scalar.{f})" for f in used]


def kernel(steps, n_inputs, dtype, types=None):
    """The fused numpy ufunc for a program. Like every numba ufunc it reports overflow
    and NaN through numpy's error flags (see quiet.py), and gives a numpy scalar, not an
    array, when all its inputs are 0-d."""
    # the numpy ufunc inside numba's DUFunc: its Python-level __call__ costs ~3 us
    return _load(source(steps, n_inputs, dtype, types)).kernel.ufunc


def sum_kernel(steps, n_inputs, dtype, axes, keepdims, scalars, keep=False):
    """sum(program(inputs), axes) in one pass, for inputs of one shape but the 0-d ones
    whose indices are `scalars` (numbers made tensors). With `keep`, (the program's
    values, their sum): the program's ufunc, then the sum kernel, since the values are
    seen and the one-pass loop's fast-math may round the chain otherwise."""
    if keep:
        return _values_and_sum(kernel(steps, n_inputs, dtype), axes, keepdims)
    module = _load(sum_source(steps, n_inputs, dtype, scalars))
    full = next(i for i in range(n_inputs) if i not in scalars)

    def run(*arrays):
        shape = program.check_sum_inputs(arrays, scalars, dtype)
        views = [a.reshape(1, 1, 1) if i in scalars else
                 as_akb(a if a.flags.c_contiguous else np.ascontiguousarray(a), axes)
                 for i, a in enumerate(arrays)]
        out = np.zeros((views[full].shape[0], views[full].shape[2]), dtype)
        if views[full].size:
            (module.rows if views[full].shape[2] == 1 else module.columns)(out, *views)
        return out.reshape(kept_shape(shape, axes, keepdims))

    return run


def _values_and_sum(ufunc, axes, keepdims):
    def run(*arrays):
        values = ufunc(*arrays)
        return values, sum_axes(values, axes, keepdims)

    return run


def _load(text):
    key = hashlib.sha256(text.encode()).hexdigest()[:20]
    module = _loaded.get(key)
    if module is None:
        module = _loaded[key] = _import(key, text)
    return module


def _import(key, text):
    path = os.path.join(folder(), f"fused_{key}.py")
    if not os.path.exists(path):
        fd, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(temporary, path)  # whole or not at all, if two processes race
    spec = importlib.util.spec_from_file_location(f"numbagrad_fused_{key}", path)
    module = importlib.util.module_from_spec(spec)
    # registered first: numba's cached code names its module, and imports it on loading
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module

