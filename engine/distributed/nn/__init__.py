"""Collectives autograd differentiates, as torch.distributed.nn."""
from . import functional  # noqa: F401
