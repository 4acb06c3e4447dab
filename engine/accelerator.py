"""`engine.accelerator`: PyTorch's device-agnostic accelerator query (the quickstart's
`torch.accelerator.current_accelerator().type if torch.accelerator.is_available()`)."""
from . import cuda
from .device import device


def is_available():
    return cuda.is_available()


def current_accelerator(check_available=False):
    """device('cuda') when a GPU is usable, else None."""
    return device("cuda") if cuda.is_available() else None


def device_count():
    return cuda.device_count()
