"""Run under mpiexec by tests/test_distributed.py: every collective against numpy on data
each rank can predict. A failed check raises, which aborts the job with its rank."""
import os
import sys

import numpy as np

import engine as torch
import engine.distributed as dist
from engine.tensor import version_counter

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()


def mine(r, dtype=np.float64, n=5):
    """What rank r contributes: known to every rank."""
    return (np.arange(n) * (r + 1) + r).astype(dtype)


def on(array):
    t = torch.tensor(array, device=device)
    assert t.device.type == device, t.device
    return t


def check(tensor, expected, what):
    got = tensor.cpu().numpy()
    if got.shape != np.shape(expected) or not np.allclose(got, expected, rtol=1e-6):
        raise AssertionError(f"rank {rank} {what} on {device}: got {got}, expected {expected}")


every = [mine(r) for r in range(size)]
reductions = {"SUM": np.sum(every, 0), "AVG": np.mean(every, 0), "MAX": np.max(every, 0),
              "MIN": np.min(every, 0), "PRODUCT": np.prod(every, 0)}
for dtype in (np.float32, np.float64):
    for name, expected in reductions.items():
        for async_op in (False, True):
            t = on(mine(rank, dtype))
            work = dist.all_reduce(t, op=getattr(dist.ReduceOp, name), async_op=async_op)
            if async_op:
                assert work.wait() is True and work.is_completed()
            else:
                assert work is None
            check(t, expected.astype(dtype), f"all_reduce {name} {dtype.__name__}")

t = on(mine(rank, np.int64))
dist.all_reduce(t, op=dist.ReduceOp.BXOR)
check(t, np.bitwise_xor.reduce([mine(r, np.int64) for r in range(size)]), "all_reduce BXOR")
t = on(mine(rank, np.int64))
version = version_counter(t).value  # as a tensor saved for backward holds it
dist.all_reduce(t)
assert version_counter(t).value > version, "all_reduce must bump the version counter"
for async_op in (False, True):  # autograd sees the write: the saved value is stale
    w = on(np.ones(3))
    w.requires_grad_(True)
    t = on(np.ones(3))
    product = w * t
    work = dist.all_reduce(t, async_op=async_op)
    if async_op:
        work.wait()
    try:
        product.sum().backward()
        raise AssertionError("backward used a tensor that all_reduce overwrote")
    except RuntimeError as error:
        assert "modified by an inplace operation" in str(error), error

for src in range(size):
    t = on(mine(rank))
    dist.broadcast(t, src=src)
    check(t, mine(src), f"broadcast from {src}")

out = [on(np.zeros(5)) for _ in range(size)]
dist.all_gather(out, on(mine(rank)))
for r in range(size):
    check(out[r], mine(r), f"all_gather [{r}]")

flat = on(np.zeros(5 * size))
dist.all_gather_into_tensor(flat, on(mine(rank)))
check(flat, np.concatenate(every), "all_gather_into_tensor (concatenated)")
stacked = on(np.zeros((size, 5)))
dist.all_gather_into_tensor(stacked, on(mine(rank)), async_op=True).wait()
check(stacked, np.stack(every), "all_gather_into_tensor (stacked)")

whole = [mine(r, n=3 * size) for r in range(size)]
for name, combine in (("SUM", np.sum), ("AVG", np.mean), ("MAX", np.max)):
    part = on(np.zeros(3))
    dist.reduce_scatter_tensor(part, on(whole[rank]), op=getattr(dist.ReduceOp, name))
    check(part, combine(whole, 0)[3 * rank:3 * rank + 3], f"reduce_scatter_tensor {name}")

for dst in range(size):
    gathered = [on(np.zeros(5)) for _ in range(size)] if rank == dst else None
    dist.gather(on(mine(rank)), gathered, dst=dst)
    if rank == dst:
        for r in range(size):
            check(gathered[r], mine(r), f"gather to {dst} [{r}]")

for src in range(size):
    t = on(np.zeros(5))
    parts = [on(mine(r) * 10) for r in range(size)] if rank == src else None
    dist.scatter(t, parts, src=src)
    check(t, mine(rank) * 10, f"scatter from {src}")

# point to point: a ring, each rank sending to the next
right, left = (rank + 1) % size, (rank - 1) % size
sending = dist.isend(on(mine(rank)), right, tag=7)
t = on(np.zeros(5))
assert dist.recv(t, tag=7) == left
sending.wait()
check(t, mine(left), "send/recv around the ring")
t = on(np.zeros(5))
receiving = dist.irecv(t, src=left, tag=8)
dist.send(on(mine(rank) + 1), right, tag=8)
receiving.wait()
check(t, mine(left) + 1, "isend/irecv around the ring")

objects = [None] * size
dist.all_gather_object(objects, {"rank": rank})
assert objects == [{"rank": r} for r in range(size)], objects
items = [rank, "x"] if rank == 1 % size else [None, None]
dist.broadcast_object_list(items, src=1 % size)
assert items == [1 % size, "x"], items

dist.barrier()
work = dist.barrier(async_op=True)
work.wait()
print(f"rank {rank} of {size} on {device}: collectives ok", flush=True)
if os.environ.get("NUMBAGRAD_TEST_DESTROY"):
    dist.destroy_process_group()
    assert not dist.is_initialized()
