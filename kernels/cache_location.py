"""Somewhere numba can cache compiled kernels, found once, before any kernel is defined.

numba caches a kernel beside its source (`__pycache__`), else in the user's cache
folder; with neither writable (a read-only install and home: a container, a shared
cluster image) it refuses to define any `cache=True` function, so `import engine`
would fail. Then the kernels are cached in a temporary folder for this process, with
one warning saying how to keep them.
"""
import tempfile
import warnings

import numba
from numba import njit


def _probe():
    return 0


def ensure():
    try:
        njit(cache=True)(_probe)  # numba looks for a cache location right here
    except RuntimeError as e:
        if "no locator available" not in str(e):
            raise
        numba.config.CACHE_DIR = tempfile.mkdtemp(prefix="numbagrad-kernels-")
        warnings.warn(f"numba can write its cache neither beside numbagrad's kernels nor in "
                      f"the user's cache folder, so compiled kernels are cached in "
                      f"{numba.config.CACHE_DIR} for this process only; set NUMBA_CACHE_DIR "
                      f"to a writable folder to keep them between runs", RuntimeWarning,
                      stacklevel=2)


ensure()
