"""`torch.get_num_threads` and kin: the threads numba's parallel kernels use, and the
switches programs set for reproducibility.

numbagrad's CPU kernels are deterministic (no atomics, a fixed summation order), so
`use_deterministic_algorithms(True)` asks nothing they do not already do; the flag is
kept for programs that read it back.
"""
import numba

_deterministic = {"mode": False, "warn_only": False}
_interop = [1]


def get_num_threads():
    return numba.get_num_threads()


def set_num_threads(n):
    """Threads for numba's parallel kernels, at most NUMBA_NUM_THREADS (set before the
    first import to allow more). BLAS keeps its own setting (OPENBLAS_NUM_THREADS)."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {n!r}")
    numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))


def get_num_interop_threads():
    return _interop[0]


def set_num_interop_threads(n):
    """numbagrad runs one op at a time; the number is kept, as PyTorch keeps it."""
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"set_num_interop_threads: expected a positive integer, got {n!r}")
    _interop[0] = n


def use_deterministic_algorithms(mode, *, warn_only=False):
    _deterministic.update(mode=bool(mode), warn_only=bool(warn_only))


def are_deterministic_algorithms_enabled():
    return _deterministic["mode"]


def is_deterministic_algorithms_warn_only_enabled():
    return _deterministic["warn_only"]
