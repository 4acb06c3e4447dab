"""Run under mpiexec by tests/test_distributed.py: DistributedDataParallel inside
engine.compile, on N ranks with B/N examples each, against one model trained on whole
batches in this same process. A failed check raises, which aborts the job with its rank.

A compiled step replays DDP's Python (arming the reducer, its gradient hooks, the wait at
the end of backward, the buffer broadcast) as effects, so every replay averages; the
checks run several steps past the traced one, where a replay that skipped them would
leave each rank with its own gradients."""
import sys
import warnings


import engine as torch
import engine.distributed as dist
from engine import nn, optim
from engine.nn.parallel import DistributedDataParallel as DDP
from replicas import Branches, batches, close, rank, share, size, train_beside

warnings.filterwarnings("error", message="engine.compile")  # a graph break fails the job
device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
steps = 6 if device == "cpu" else 2
B = 8 * size


def make_model(seed):
    torch.manual_seed(seed)
    if device == "cuda":  # the simulator is slow
        return nn.Sequential(nn.Linear(10, 4), nn.ReLU(), nn.Linear(4, 4)).to(device)
    return nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 4))


def check_compiled(fn, what):
    assert fn.eager_reason is None and fn.n_entries == 1, (what, fn.explain())


# 1. The whole step compiled: zero_grad, forward, loss, backward (the hooks start each
# bucket's allreduce, the end of backward waits for them) and the optimizer's step.
# Gradients as bucket views are kept by zero_grad (as bench.distributed runs them):
# backward then adds into the buckets (the replay decides, as eager backward does).
# On CUDA (`ddp_compiled.py cuda`: tensors staged through host memory) this part only,
# with buckets: the simulator runs each launch in Python.
for options in ({"bucket_cap_mb": 0.0001}, {"gradient_as_bucket_view": True})[
        :1 if device == "cuda" else 2]:
    views = options.get("gradient_as_bucket_view", False)
    model, reference = make_model(seed=rank), make_model(seed=0)
    ddp = DDP(model, **options)
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)

    @torch.compile(fullgraph=True)
    def step(x, y):
        opt.zero_grad(set_to_none=not views)
        loss = nn.functional.cross_entropy(ddp(x), y)
        loss.backward()
        opt.step()
        return loss

    for x, y in batches(steps, B, device=device):
        step(share(x), share(y))
        ref_opt.zero_grad()
        nn.functional.cross_entropy(reference(x), y).backward()
        ref_opt.step()
    check_compiled(step, "the whole step")
    for p, q in zip(model.parameters(), reference.parameters()):
        close(p, q, f"compiled step, {options}, after {steps} steps")
    graph = step.graphs[0]
    actions = [graph.nodes[n].get("action", "") for n in sorted(graph, key=lambda n: n[1])]
    hooks = sum(a.startswith("post-accumulate-grad hooks") for a in actions)
    assert hooks == len(list(model.parameters())), actions
    assert len(ddp.reducer.buckets) > 1 or views
    assert not views or all(p.grad._base is not None for p in model.parameters())

if device == "cuda":
    print(f"rank {rank} of {size} on cuda: compiled DistributedDataParallel ok", flush=True)
    sys.exit(0)

# 2. The DDP module compiled, backward and step eager.
model, reference = make_model(seed=rank), make_model(seed=0)
ddp = DDP(model)
compiled = torch.compile(ddp)
opt, ref_opt = (optim.SGD(model.parameters(), lr=0.1),
                optim.SGD(reference.parameters(), lr=0.1))
train_beside(compiled, opt, reference, ref_opt, batches(steps, B, seed=1))
check_compiled(ddp.forward, "the module")  # compile(module) compiles its forward
for p, q in zip(model.parameters(), reference.parameters()):
    close(p, q, f"compiled module, after {steps} steps")

# 3. no_sync is read at each replay: a step traced inside it accumulates locally there,
# and averages once called outside it.
model, reference = make_model(0), make_model(0)
ddp = DDP(model)


@torch.compile
def accumulate(x, y):
    nn.functional.cross_entropy(ddp(x), y).backward()


for i, (x, y) in enumerate(batches(3, B, seed=2)):
    if i < 2:
        with ddp.no_sync():
            accumulate(share(x), share(y))
    else:
        accumulate(share(x), share(y))
    nn.functional.cross_entropy(reference(x), y).backward()
check_compiled(accumulate, "no_sync")
for p, q in zip(model.parameters(), reference.parameters()):
    close(p.grad, q.grad, "compiled no_sync accumulation")

# 4. Buffers: each replay's forward starts from rank 0's running statistics, which
# this rank's batch then moves (momentum 0.1); a replay that skipped the broadcast
# would start from this rank's own.
torch.manual_seed(0)
bn = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
ddp = DDP(bn)
forward = torch.compile(lambda x: ddp(x).sum().backward())
for i in range(4):
    x = torch.randn(8, 3) + rank
    rank0 = bn[1].running_mean.clone()
    dist.broadcast(rank0, src=0)
    with torch.no_grad():
        expected = 0.9 * rank0 + 0.1 * bn[0](x).mean(0)
    forward(x)
    close(bn[1].running_mean, expected, f"running mean after compiled call {i}")
check_compiled(forward, "buffers")

# 5. find_unused_parameters: the parameters a traced step reaches are those of every
# replay (its graph is the traced one); a parameter no rank uses keeps no gradient.
torch.manual_seed(0)
branches = Branches()
ddp = DDP(branches, find_unused_parameters=True)
backward = torch.compile(lambda x: ddp(x).sum().backward(), fullgraph=True)
torch.manual_seed(0)
alone = Branches()
for i in range(3):
    branches.zero_grad()
    alone.zero_grad()
    backward(torch.ones(2, 4) * i)
    alone.used_by_rank0(alone.trunk(torch.ones(2, 4) * i)).sum().backward()
    assert branches.never.weight.grad is None, "a parameter no rank used keeps grad None"
    close(branches.used_by_rank0.weight.grad, alone.used_by_rank0.weight.grad / size,
          f"compiled call {i}: a parameter used on one rank, averaged with the others' zeros")
check_compiled(backward, "find_unused_parameters")

# 6. A collective the function calls itself stops the trace (MPI writes behind its back,
# and a replay would skip the collective on this rank while the others wait for it):
# the function runs eagerly, saying why, and every call is right.
def total(x):
    y = x * 2
    dist.all_reduce(y)
    return y


with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    summed = torch.compile(total)
    for i in range(3):
        assert summed(torch.ones(3) * (rank + i)).tolist() == [
            2.0 * sum(r + i for r in range(size))] * 3
assert any("torch.distributed.all_reduce(), a collective" in str(w.message) for w in caught)

print(f"rank {rank} of {size}: compiled DistributedDataParallel ok", flush=True)
