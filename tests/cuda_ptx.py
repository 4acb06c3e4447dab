"""Compile every GPU kernel that the CUDA tests launch to PTX for a real GPU (sm_90).

The simulator runs kernels as Python, so it cannot see code that a real GPU compiler
would reject (a type it cannot unify, an unsupported call). This script, in two
processes, closes that gap without a GPU:

  record   run under the simulator, noting every kernel launched and the numba types
           of its arguments (the suite's conftest.py records its own session's
           launches the same way, so that the CUDA tests need not run twice);
  compile  import the backend for real (no GPU needed to compile), rebuild each
           recorded kernel and compile it with NVVM for the recorded types; `--part
           i/n` compiles every n-th entry from the i-th, so that n processes share it.

Usage: python tests/cuda_ptx.py record OUT.json -- PYTEST_ARGS...
       python tests/cuda_ptx.py compile OUT.json [--part I/N]   (needs CUDA_HOME)
"""
import importlib
import json
import os
import sys


def _type_of(value):
    """A numba type as JSON: its str() (parsed back by _parse), or a list for a tuple."""
    import numba
    import numpy as np
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

    if isinstance(value, tuple):
        return [_type_of(v) for v in value]
    if isinstance(value, FakeCUDAArray):
        array = value._ary
        layout = "C" if array.flags.c_contiguous else "A"
        return str(numba.types.Array(numba.from_dtype(array.dtype), array.ndim, layout))
    if isinstance(value, np.ndarray):
        return _type_of(FakeCUDAArray(value))
    return str(numba.typeof(value))


def _identity(kernel, args):
    """How to rebuild the kernel in a real-CUDA process."""
    from kernels.cuda import elementwise, fused

    fn = kernel.fn
    module = sys.modules.get(fn.__module__)
    for name, value in (vars(module) if module else {}).items():
        if isinstance(value, dict) and any(k is kernel for k in value.values()):
            # a table of kernels made at import (one per optimizer rule)
            return ["table", fn.__module__, name,
                    next(key for key, k in value.items() if k is kernel)]
    for op in vars(elementwise).values():
        if isinstance(op, elementwise.Elementwise):
            for (kinds, ndim), k in op._kernels.items():
                if k is kernel:
                    return ["elementwise", op.__name__, kinds, ndim]
    for op in fused._loaded.values():  # engine.compile's generated kernels
        for (kinds, ndim), k in op._kernels.items():
            if k is kernel:
                return ["fused", op.program, kinds, ndim]
    if any(k is kernel for k in fused._sums.values()):
        return ["fused_sum", kernel.program]
    if "<locals>" in fn.__qualname__:  # a per-dtype factory, keyed by its first array's dtype
        dtype = next(a.dtype for a in args if hasattr(a, "dtype"))
        return ["factory", fn.__module__, fn.__qualname__.split(".")[0], str(dtype),
                fn.__name__]
    return ["static", fn.__module__, fn.__name__]


LAUNCHED = {}  # (kernel id, argument types) -> (kernel, arguments), while recording


def start_recording():
    """Note every simulated kernel launch in LAUNCHED from now on."""
    from numba.cuda.simulator import kernel as simulated

    call = simulated.FakeCUDAKernel.__call__
    if getattr(call, "records", False):
        return

    def noting(self, *args):
        if not getattr(self, "_device", False) and not self._device:
            LAUNCHED[id(self), json.dumps([_type_of(a) for a in args])] = (self, args)
        return call(self, *args)

    noting.records = True
    simulated.FakeCUDAKernel.__call__ = noting


def save_recording(path):
    """The distinct (kernel, argument types) launched so far, as JSON at `path`."""
    seen = {json.dumps([_identity(k, args), json.loads(types)])
            for (_, types), (k, args) in LAUNCHED.items()}
    with open(path, "w") as f:
        json.dump([json.loads(s) for s in sorted(seen)], f, indent=0)
    return len(seen)


def record(path, pytest_args):
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    import pytest

    start_recording()
    code = pytest.main(pytest_args)
    save_recording(path)
    return code


def _rebuild(identity):
    import numpy as np

    kind = identity[0]
    if kind == "elementwise":
        from kernels.cuda import elementwise

        _, name, kinds, ndim = identity
        op = elementwise.identity if name == "_identity" else getattr(elementwise, name)
        return op._kernel(kinds, ndim)
    if kind == "fused":
        from kernels.cuda import fused

        (steps, n_inputs, dtype, types), kinds, ndim = identity[1:]
        steps = [(name, [tuple(a) if isinstance(a, list) else a for a in args])
                 for name, args in steps]
        types = None if types is None else tuple(map(tuple, types))
        return fused.kernel(steps, n_inputs, dtype, types)._kernel(kinds, ndim)
    if kind == "fused_sum":
        from kernels.cuda import fused

        steps, n_inputs, dtype, scalars, keep = identity[1]
        steps = [(name, [tuple(a) if isinstance(a, list) else a for a in args])
                 for name, args in steps]
        return fused.sum_launcher(steps, n_inputs, dtype, scalars, keep)
    module = importlib.import_module(identity[1])
    if kind == "table":
        return getattr(module, identity[2])[identity[3]]
    if kind == "factory":
        made = getattr(module, identity[2])(np.dtype(identity[3]))
        made = made if isinstance(made, tuple) else (made,)
        return next(k for k in made if k.py_func.__name__ == identity[4])
    return getattr(module, identity[2])


def _parse(text):
    """A numba type back from _type_of's JSON: arrays, scalars, tuples and records."""
    import numba
    from numba.cuda.random import xoroshiro128p_type

    if isinstance(text, list):
        return numba.types.BaseTuple.from_types([_parse(t) for t in text])
    names = dict(vars(numba.types))
    names["array"] = lambda dtype, ndim, layout: numba.types.Array(dtype, ndim, layout)
    if text.startswith("array(Record"):
        return numba.types.Array(xoroshiro128p_type, 1, "C")
    for n in range(1, 9):
        text = text.replace(f", {n}d, C)", f", {n}, 'C')").replace(f", {n}d, A)", f", {n}, 'A')")
    return eval(text, names)


def compile_all(path, part="0/1"):
    os.environ["NUMBA_ENABLE_CUDASIM"] = "0"
    import types

    import numba.cuda.dispatcher
    from numba import cuda

    # Device functions compile for the current GPU's compute capability; there is none.
    hopper = types.SimpleNamespace(compute_capability=(9, 0))
    numba.cuda.dispatcher.get_current_device = lambda: hopper

    failures = []
    first, step = map(int, part.split("/"))
    entries = json.load(open(path))[first::step]
    for identity, arg_types in entries:
        kernel = _rebuild(identity)
        signature = tuple(_parse(t) for t in arg_types)
        try:
            cuda.compile_ptx(kernel.py_func, signature, cc=(9, 0))
        except Exception as e:  # noqa: BLE001 - collected and reported below
            failures.append(f"{identity} {arg_types}: {type(e).__name__}: "
                            f"{str(e).strip().splitlines()[-1][:300]}")
    print(f"compiled {len(entries) - len(failures)} of {len(entries)} kernel signatures")
    for f in failures:
        print("FAILED", f)
    return 1 if failures else 0


if __name__ == "__main__":
    if sys.argv[1] == "record":
        sys.exit(record(sys.argv[2], sys.argv[4:]))
    sys.exit(compile_all(sys.argv[2], *sys.argv[4:5]))
