"""`torch.cpu`: the CPU as a device module, beside `torch.cuda` (programs written for
either call these without asking which they have)."""
import types

from . import amp as _amp

amp = types.SimpleNamespace(autocast=_amp.cpu_autocast, GradScaler=_amp.GradScaler)


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def synchronize(device=None):
    """CPU kernels finish before they return: nothing to wait for."""
