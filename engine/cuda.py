"""`engine.cuda`: whether a GPU can be used from here, and the CUDA backend's controls.

Everything here works (and says "no GPU") on machines without CUDA: the backend is
imported only when a GPU, or numba's simulator (NUMBA_ENABLE_CUDASIM=1), is present.
"""
import functools

from . import amp as _amp
from .backends import submodule

amp = submodule(__name__, "amp", "PyTorch's older spellings of autocast('cuda') and "
                "GradScaler('cuda').", autocast=_amp.cuda_autocast,
                GradScaler=_amp.cuda_grad_scaler)


@functools.cache
def is_available():
    """True when numba finds a CUDA driver and at least one GPU (or its simulator)."""
    try:
        from kernels.cuda.runtime import cuda
    except ImportError:  # pragma: no cover - numba-cuda missing or broken
        return False
    try:
        return bool(cuda.is_available())
    except Exception:  # numba raises various errors when no driver is installed
        return False


def _backend():
    from .device import backend, canonical

    return backend(canonical("cuda"))


def device_count():
    if not is_available():
        return 0
    from kernels.cuda.runtime import cuda

    return len(cuda.gpus)


def current_device():
    _backend()
    return 0


def get_device_name(device=None):
    from kernels.cuda.runtime import SIMULATED, cuda

    _backend()
    return "numba CUDA simulator" if SIMULATED else cuda.get_current_device().name.decode()


def synchronize(device=None):
    """Wait until every kernel launched so far has finished (kernels run asynchronously)."""
    _backend().synchronize()


def manual_seed(seed):
    """Seed the GPU's default generator (engine.manual_seed seeds every device's).
    Without CUDA there is nothing to seed: ignored silently, as PyTorch documents."""
    from .device import canonical
    from .random import default_generator_for

    if is_available():
        default_generator_for(canonical("cuda")).manual_seed(seed)


manual_seed_all = manual_seed


def memory_allocated(device=None):
    """Bytes of GPU memory held by live tensors."""
    return _backend().memory_allocated() if is_available() else 0


def memory_reserved(device=None):
    """Bytes held from the driver: live tensors plus the allocator's cache."""
    return _backend().memory_reserved() if is_available() else 0


def empty_cache():
    """Give the allocator's cached, unused blocks back to the driver."""
    if is_available():
        _backend().empty_cache()
