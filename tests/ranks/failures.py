"""Run under mpiexec by tests/test_distributed.py, in one of three ways (argv[1]):

raise     rank 1 raises while the others wait in a collective: the job must end, naming it
mismatch  with NUMBAGRAD_DISTRIBUTED_DEBUG=1, ranks reduce tensors of different shapes:
          every rank gets an error naming both shapes
timeout   rank 1 never joins a barrier: the others give up after the group's timeout
blocked   rank 1 never joins a blocking all_reduce, which waits inside MPI: the group's
          watchdog ends the job after the timeout
"""
import datetime
import sys
import time

import engine as torch
import engine.distributed as dist

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=2))
rank = dist.get_rank()
if mode == "raise":
    if rank == 1:
        raise ValueError("rank 1 met bad data")
    dist.barrier()  # never completes: rank 1 is gone
elif mode == "mismatch":
    try:
        dist.all_reduce(torch.zeros(3 + rank))
    except RuntimeError as error:
        print(f"rank {rank} refused: {error}", flush=True)
    dist.all_reduce(torch.zeros(3))  # the ranks still agree afterwards
elif mode == "timeout":
    if rank == 1:
        time.sleep(30)
    dist.barrier()
elif mode == "blocked":
    if rank == 1:
        time.sleep(30)
    dist.all_reduce(torch.ones(1024))
