"""torch.distributed over MPI: the same collectives, run by mpi4py between processes
started with `mpiexec -n N python script.py` (or `numbagrad run NAME --nproc N`).

Nothing here loads MPI until `init_process_group` is called.
"""
from .collectives import (  # noqa: F401
    ReduceOp, all_gather, all_gather_into_tensor, all_gather_object, all_reduce, barrier,
    broadcast, broadcast_object_list, gather, irecv, isend, recv, reduce_scatter_tensor,
    scatter, send,
)
from .group import (  # noqa: F401
    GroupMember, ProcessGroup, destroy_process_group, get_backend, get_rank, get_world_size,
    group, init_process_group, is_available, is_initialized, is_mpi_available,
)
from .work import Work  # noqa: F401
