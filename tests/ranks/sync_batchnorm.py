"""Run under mpiexec by tests/test_distributed.py: SyncBatchNorm (converted from BatchNorm
by convert_sync_batchnorm) in DDP on N ranks with B/N examples each trains as BatchNorm
in one process on the whole batch: parameters, running statistics and the counter, for
(N, C) and (N, C, L) inputs, eagerly and with the whole step compiled; the differentiable
allreduce it rests on, eager and compiled; eval mode. With the argument `cuda`, the
allreduce alone, on CUDA tensors (numba's simulator is slow)."""
import sys
import warnings

import numpy as np

import engine as torch
from engine import nn, optim
from engine.distributed.nn.functional import all_reduce
from engine.nn.parallel import DistributedDataParallel as DDP
from replicas import close, rank, share, size, train_beside

# the differentiable allreduce: every rank's result is the sum, and the gradient of each
# rank's input sums what every rank's result received
device = sys.argv[1] if len(sys.argv) > 1 else "cpu"
x = torch.tensor([1.0, 2.0], requires_grad=True, device=device)
y = all_reduce(x * (rank + 1))
assert y.tolist() == [sum(r + 1 for r in range(size)) * v for v in (1.0, 2.0)], y
(y * (rank + 1)).sum().backward()
expected = (rank + 1) * sum(r + 1 for r in range(size))
assert x.grad.tolist() == [float(expected)] * 2, x.grad

# Compiled, it is an op of the graph that every replay runs, its backward too (a graph
# break is an error here). It is never merged with its twin, folded when its input is a
# constant, or dropped where this rank does not use its result: each would leave the
# other ranks waiting for it.
warnings.filterwarnings("error", message="engine.compile")
S = sum(r + 1 for r in range(size))


@torch.compile(fullgraph=True)
def statistics(x):
    y = all_reduce(x * (rank + 1))
    z = all_reduce(x * (rank + 1)) + all_reduce(torch.ones(2, device=device))  # y's twin,
    return y * z  # and a constant's


@torch.compile(fullgraph=True)
def used_on_rank0(x):
    unused = all_reduce(x)
    return x + unused if rank == 0 else x * 2


for i in range(3):
    x = torch.tensor([1.0, 2.0 + i], requires_grad=True, device=device)
    out = statistics(x)
    assert out.tolist() == [S * v * (S * v + size) for v in x.tolist()], (i, out)
    (out * (rank + 1)).sum().backward()
    assert x.grad.tolist() == [(rank + 1) * S * (2 * S * v + size) for v in x.tolist()], (
        i, x.grad)
    out = used_on_rank0(torch.ones(2, device=device) * i)
    assert out.tolist() == [i * (1 + size) if rank == 0 else 2 * i] * 2, (i, out)
graph = statistics.graphs[0]
ops = [graph.nodes[n]["op"].op_name for n in graph if graph.nodes[n]["kind"] == "op"]
assert ops.count("all_reduce") == 5, ops  # 3 forward, 2 backward
if device == "cuda":
    print(f"rank {rank} of {size}: on cuda: the differentiable allreduce ok", flush=True)
    sys.exit(0)


def models(seed):
    torch.manual_seed(seed)
    flat = nn.Sequential(nn.Linear(10, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
    sequence = nn.Sequential(nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4, momentum=None),
                             nn.Tanh(), nn.Flatten(), nn.Linear(4 * 5, 4))
    return flat, sequence


B = 6 * size
rng = np.random.default_rng(0)
for k, shape in enumerate([(10,), (2, 7)]):
    model, reference = models(seed=rank)[k], models(seed=0)[k]
    synced = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert synced is model and isinstance(model[1], nn.SyncBatchNorm), model
    ddp = DDP(model)
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    ref_opt = optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    data = [(torch.tensor(rng.standard_normal((B,) + shape) * 3 + 1, dtype=torch.float32),
             torch.tensor(rng.integers(0, 4, B))) for _ in range(4)]
    train_beside(ddp, opt, reference, ref_opt, data)

    @torch.compile(fullgraph=True)
    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(ddp(x), y)
        loss.backward()
        opt.step()
        return loss

    for x, y in data:  # the same batches again, now compiled whole (traced once)
        step(share(x), share(y))
        ref_opt.zero_grad()
        nn.functional.cross_entropy(reference(x), y).backward()
        ref_opt.step()
    assert step.n_entries == 1, step.explain()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        close(p, q, f"input {shape}: {name}")
    for name in ("running_mean", "running_var"):
        close(getattr(model[1], name), getattr(reference[1], name), f"input {shape}: {name}")
    assert model[1].num_batches_tracked.item() == reference[1].num_batches_tracked.item() == 8
    model.eval()
    reference.eval()
    x = data[0][0]
    close(model(share(x)), reference(share(x)), f"input {shape}: eval mode, running stats")

print(f"rank {rank} of {size}: SyncBatchNorm ok", flush=True)
