"""`torch.cpu`: the CPU as a device module, beside `torch.cuda` (programs written for
either call these without asking which they have)."""
from . import amp as _amp
from .backends import submodule

amp = submodule(__name__, "amp", "PyTorch's older spelling of autocast('cpu').",
                autocast=_amp.cpu_autocast, GradScaler=_amp.GradScaler)


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    """CPU kernels finish before they return: nothing to wait for."""
