"""Run alone (one rank, MPI's singleton) by tests/test_distributed.py: each misuse is
refused at the call, in words that name what was wrong."""
import datetime

import pytest

import engine as torch
import engine.distributed as dist
from engine import nn
from engine.nn.parallel import DistributedDataParallel as DDP

with pytest.raises(RuntimeError, match="has not been initialized"):
    dist.get_rank()
with pytest.raises(RuntimeError, match="init_process_group"):
    DDP(nn.Linear(2, 2))
with pytest.raises(ValueError, match="backend='nccl' is not available.*'mpi'"):
    dist.init_process_group("nccl")
with pytest.raises(ValueError, match="init_method"):
    dist.init_process_group("mpi", init_method="tcp://127.0.0.1:23456")
with pytest.raises(TypeError, match="timedelta"):
    dist.init_process_group("mpi", timeout=30)
with pytest.raises(ValueError, match="world_size=4, but MPI started this process with "
                                     "world_size 1"):
    dist.init_process_group("mpi", world_size=4, rank=0)
assert dist.is_available() and not dist.is_initialized()
dist.init_process_group(backend="mpi", world_size=1, rank=0,
                        timeout=datetime.timedelta(seconds=5))
assert dist.is_initialized() and dist.get_backend() == "mpi"
assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
with pytest.raises(RuntimeError, match="twice"):
    dist.init_process_group("mpi")

t = torch.arange(6.0).reshape(2, 3)
with pytest.raises(ValueError, match=r"contiguous.*strides \(1, 3\) for shape \(3, 2\)"):
    dist.all_reduce(t.t())
with pytest.raises(ValueError, match=r"contiguous.*strides \(0,\)"):
    dist.all_reduce(torch.zeros(1).expand(3))
with pytest.raises(ValueError, match="AVG needs a floating-point tensor, got torch.int64"):
    dist.all_reduce(torch.arange(3), op=dist.ReduceOp.AVG)
with pytest.raises(ValueError, match="BXOR needs an integer"):
    dist.all_reduce(torch.zeros(3), op=dist.ReduceOp.BXOR)
with pytest.raises(TypeError, match="must be a ReduceOp"):
    dist.all_reduce(torch.zeros(3), op="sum")
with pytest.raises(TypeError, match="must be a Tensor, got list"):
    dist.all_reduce([1.0])
with pytest.raises(ValueError, match="src=1 is not a rank of a group of size 1"):
    dist.broadcast(torch.zeros(3), src=1)
with pytest.raises(ValueError, match=r"one tensor per rank \(1\), got 2 tensors"):
    dist.all_gather([torch.zeros(3), torch.zeros(3)], torch.zeros(3))
with pytest.raises(ValueError, match=r"tensor_list\[0\] must match.*\(\(3,\), 'float32'"):
    dist.all_gather([torch.zeros(4)], torch.zeros(3))
with pytest.raises(ValueError, match=r"shape \(5,\) must have world_size \(1\) times"):
    dist.all_gather_into_tensor(torch.zeros(5), torch.zeros(3))
with pytest.raises(ValueError, match="same dtype"):
    dist.reduce_scatter_tensor(torch.zeros(3), torch.zeros(3, dtype=torch.float64))
with pytest.raises(ValueError, match="device_ids is an option of NCCL"):
    dist.barrier(device_ids=[0])
with pytest.raises(ValueError, match="only the world group"):
    dist.all_reduce(torch.zeros(3), group=object())
with pytest.raises(RuntimeError, match="irecv: not finished after 0.2 s"):
    dist.irecv(torch.zeros(3), src=0, tag=99).wait(timeout=0.2)

with pytest.raises(ValueError, match="device_ids and output_device are for a module on one "
                                     "CUDA device"):
    DDP(nn.Linear(2, 2), device_ids=[0])
with pytest.raises(ValueError, match="mixed_precision is not supported"):
    DDP(nn.Linear(2, 2), mixed_precision=object())
with pytest.raises(TypeError, match="unexpected keyword argument 'bucket_size'"):
    DDP(nn.Linear(2, 2), bucket_size=3)
with pytest.raises(ValueError, match="dim only matters"):
    DDP(nn.Linear(2, 2), dim=1)
# forward twice with an unfinished backward in between: named, with the way out
model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
ddp = DDP(model)
loss = ddp(torch.ones(1, 2)).sum()
torch.autograd.grad(loss, [model[1].weight])  # reaches no accumulator: not a backward
ddp(torch.ones(1, 2))  # nothing was half done: a new forward is allowed

with pytest.raises(RuntimeError, match="register_post_accumulate_grad_hook|non-leaf"):
    (torch.ones(2, requires_grad=True) * 2).register_post_accumulate_grad_hook(print)
with pytest.raises(RuntimeError, match="no backward pass is running"):
    torch.autograd.graph.queue_callback(print)

dist.destroy_process_group()
assert not dist.is_initialized()
print("errors ok", flush=True)
