"""Run under mpiexec by tests/test_distributed.py: DistributedDataParallel on N ranks, each
with its share of every batch, against one model trained on whole batches in this same
process. A failed check raises, which aborts the job with its rank.

`python ddp.py cuda` checks the CUDA path (staging through pinned memory) on one small
model only: the CUDA simulator runs each kernel launch in Python."""
import contextlib
import sys
import time


import engine as torch
import engine.distributed as dist
from engine import nn, optim
from engine.nn.parallel import DistributedDataParallel as DDP
from replicas import Branches, batches, close, rank, share, size, train_beside

device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 20
B = 12 * size


def make_model(seed):
    torch.manual_seed(seed)
    if device == "cuda":
        return nn.Sequential(nn.Linear(10, 4), nn.Linear(4, 4)).to(device)
    return nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 32), nn.ReLU(),
                         nn.Linear(32, 4)).to(device)


def same_parameters(model, reference, what):
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        close(p, q, f"{what}: {name}")


def train(bucket_cap_mb, **options):
    """steps of SGD, data-parallel and alone, from rank 0's initial weights."""
    model = make_model(seed=rank)  # each rank starts elsewhere: wrapping copies rank 0's
    ddp = DDP(model, bucket_cap_mb=bucket_cap_mb, **options)
    reference = make_model(seed=0)
    same_parameters(model, reference, "after wrapping")
    opt, ref_opt = optim.SGD(ddp.parameters(), lr=0.1), optim.SGD(reference.parameters(),
                                                                   lr=0.1)
    train_beside(ddp, opt, reference, ref_opt, batches(steps, B, device=device))
    same_parameters(model, reference, f"after {steps} steps, options {options}")
    return ddp


ddp = train(bucket_cap_mb=0.0001)
assert len(ddp.reducer.buckets) > 1, [len(b.params) for b in ddp.reducer.buckets]
if device == "cuda":
    print(f"rank {rank} of {size} on {device}: DistributedDataParallel ok", flush=True)
    sys.exit(0)
assert list(ddp.state_dict()) == ["module." + k for k in ddp.module.state_dict()]
assert repr(ddp).startswith("DistributedDataParallel(\n  (module): Sequential(")
train(bucket_cap_mb=None)  # the default: everything in a 1 MiB first bucket
train(bucket_cap_mb=0.0001, gradient_as_bucket_view=True)

# Overlap: the first bucket's allreduce starts before the first layer's gradient (the
# last one backward computes) exists.
events = []
real_all_reduce = dist.all_reduce


def recording_all_reduce(*args, **kwargs):
    events.append(("allreduce", time.perf_counter()))
    return real_all_reduce(*args, **kwargs)


model = make_model(0)
ddp = DDP(model, bucket_cap_mb=0.0001)
model[0].weight.register_post_accumulate_grad_hook(
    lambda p: events.append(("first layer's grad", time.perf_counter())))
dist.all_reduce = recording_all_reduce
x, y = next(batches(1, B, device=device))
nn.functional.cross_entropy(ddp(share(x)), share(y)).backward()
events.append(("backward returned", time.perf_counter()))
dist.all_reduce = real_all_reduce
kinds = [kind for kind, _ in events]
assert kinds[0] == "allreduce" and kinds.index("first layer's grad") > 0, kinds
assert kinds[-1] == "backward returned", kinds

# no_sync: two local accumulations, then a synchronised backward, equal whole-batch
# gradients summed over the three batches.
model, reference = make_model(0), make_model(0)
ddp = DDP(model)
data = list(batches(3, B, seed=1, device=device))
for i, (x, y) in enumerate(data):
    if i < 2:
        with ddp.no_sync():
            nn.functional.cross_entropy(ddp(share(x)), share(y)).backward()
        if i == 0:
            local = model[0].weight.grad.clone()
    else:
        nn.functional.cross_entropy(ddp(share(x)), share(y)).backward()
    nn.functional.cross_entropy(reference(x), y).backward()
for p, q in zip(model.parameters(), reference.parameters()):
    close(p.grad, q.grad, "no_sync accumulation")
locals_ = [torch.zeros_like(local) for _ in range(size)]
dist.all_gather(locals_, local)
assert size == 1 or not torch.equal(locals_[0], locals_[1]), "no_sync must not average"


torch.manual_seed(0)
branches = Branches().to(device)
ddp = DDP(branches, find_unused_parameters=True)
ddp(torch.ones(2, 4, device=device)).sum().backward()
assert branches.never.weight.grad is None, "a parameter no rank used keeps grad None"
torch.manual_seed(0)
alone = Branches().to(device)
alone.used_by_rank0(alone.trunk(torch.ones(2, 4, device=device))).sum().backward()
close(branches.used_by_rank0.weight.grad, alone.used_by_rank0.weight.grad / size,
      "a parameter used on one rank: its gradient averaged with the others' zeros")
# ... and after a local step inside no_sync (which looks for no unused parameters), the
# synchronised step averages the sum
branches.zero_grad()
alone.zero_grad()
for sync in (False, True):
    with contextlib.nullcontext() if sync else ddp.no_sync():
        ddp(torch.ones(2, 4, device=device)).sum().backward()
    alone.used_by_rank0(alone.trunk(torch.ones(2, 4, device=device))).sum().backward()
assert branches.never.weight.grad is None
close(branches.used_by_rank0.weight.grad, alone.used_by_rank0.weight.grad / size,
      "no_sync and then a synchronised step, with find_unused_parameters")

ddp = DDP(Branches().to(device))
try:
    ddp(torch.ones(2, 4, device=device)).sum().backward()
except RuntimeError as error:
    assert "never.weight" in str(error) and "find_unused_parameters=True" in str(error), error
else:
    raise AssertionError("an unused parameter without find_unused_parameters must raise")

# Buffers: rank 0's running statistics reach every rank at the next forward.
torch.manual_seed(0)
bn = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3)).to(device)
ddp = DDP(bn)
ddp(torch.randn(8, 3, device=device) + rank)  # each rank's statistics move its own way
statistics = [torch.zeros(3, device=device) for _ in range(size)]
dist.all_gather(statistics, bn[1].running_mean)
assert size == 1 or not torch.equal(statistics[0], statistics[1])
ddp.eval()
ddp(torch.randn(8, 3, device=device))  # starts by copying rank 0's buffers
close(bn[1].running_mean, statistics[0], "buffers broadcast from rank 0", rtol=0)

# Every rank must wrap the same model.
try:
    DDP(nn.Linear(3, 3 + rank).to(device))
except RuntimeError as error:
    assert size == 1 or "differs" in str(error), error
else:
    assert size == 1, "different models on different ranks must be refused"

print(f"rank {rank} of {size} on {device}: DistributedDataParallel ok", flush=True)
