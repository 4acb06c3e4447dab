"""Neural-network building blocks with PyTorch's API. Built on engine ops only."""
from . import functional  # noqa: F401
