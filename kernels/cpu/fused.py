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

from .. import scalar
from . import revision
from .elementwise import _numba_name

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


def source(steps, n_inputs, dtype):
    """The generated module's text for a program."""
    name = _numba_name(dtype)
    used = sorted({step_name for step_name, _ in steps})
    params = ", ".join(f"x{i}" for i in range(n_inputs))
    lines = [f"# numbagrad fused kernel; kernels/scalar.py revision {revision.of(scalar)}",
             "import numba", "import numpy as np", "from numba.extending import register_jitable",
             "from kernels import scalar", ""]
    lines += [f"{f} = register_jitable(scalar.{f})" for f in used]
    lines += ["", "", f"@numba.vectorize(['{name}({', '.join([name] * n_inputs)})'], cache=True)",
              f"def kernel({params}):"]
    for j, (step_name, args) in enumerate(steps):
        text = ", ".join(_argument(a, name) for a in args)
        lines.append(f"    t{j} = np.{name}({step_name}({text}))")
    lines.append(f"    return t{len(steps) - 1}")
    return "\n".join(lines) + "\n"


def _argument(arg, name):
    if isinstance(arg, tuple):
        return f"x{arg[1]}" if arg[0] == "in" else f"t{arg[1]}"
    return f"np.{name}({arg!r})"


def kernel(steps, n_inputs, dtype):
    """The fused numpy ufunc for a program. Like every numba ufunc it reports overflow
    and NaN through numpy's error flags (see quiet.py), and gives a numpy scalar, not an
    array, when all its inputs are 0-d."""
    text = source(steps, n_inputs, dtype)
    key = hashlib.sha256(text.encode()).hexdigest()[:20]
    ufunc = _loaded.get(key)
    if ufunc is None:
        # the numpy ufunc inside numba's DUFunc: its Python-level __call__ costs ~3 us
        ufunc = _loaded[key] = _import(key, text).kernel.ufunc
    return ufunc


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

