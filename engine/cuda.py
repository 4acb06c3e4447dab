"""`engine.cuda`: whether a GPU can be used from here."""
import functools


@functools.cache
def is_available():
    """True when numba finds a CUDA driver and at least one GPU (or its simulator)."""
    try:
        from numba import cuda
    except ImportError:  # pragma: no cover - numba is a dependency
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # numba raises various errors when no driver is installed
        return False


def device_count():
    if not is_available():
        return 0
    from numba import cuda

    return len(cuda.gpus)
