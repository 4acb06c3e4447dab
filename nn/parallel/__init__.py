"""torch.nn.parallel: data-parallel training over engine.distributed's MPI ranks."""
from .distributed import DistributedDataParallel  # noqa: F401
