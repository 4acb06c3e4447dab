"""What the DistributedDataParallel rank scripts share: joining the MPI job (this rank
and the job's size), batches of whole data, this rank's share of one, a model with a
branch that only rank 0 takes, and a comparison that raises naming the rank."""
import numpy as np

import engine as torch
import engine.distributed as dist
from engine import nn

dist.init_process_group("mpi")
rank, size = dist.get_rank(), dist.get_world_size()


def batches(n, rows, seed=0, device="cpu"):
    """n batches of `rows` examples of 10 features, with targets among 4 classes."""
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield (torch.tensor(rng.standard_normal((rows, 10)), dtype=torch.float32, device=device),
               torch.tensor(rng.integers(0, 4, rows), device=device))


def share(t):
    """This rank's rows of a whole batch."""
    rows = t.shape[0]
    return t[rank * rows // size:(rank + 1) * rows // size]


def close(a, b, what, rtol=1e-5):
    a, b = a.detach().cpu().numpy(), b.detach().cpu().numpy()
    if not np.allclose(a, b, rtol=rtol, atol=rtol * np.abs(b).max()):
        raise AssertionError(f"rank {rank} {what}: largest difference "
                             f"{np.abs(a - b).max()} (of {np.abs(b).max()})")


def train_beside(model, opt, reference, ref_opt, data):
    """SGD steps of `model` (DDP) on this rank's share of each batch, beside the same
    steps of `reference` on the whole batch."""
    for x, y in data:
        opt.zero_grad()
        nn.functional.cross_entropy(model(share(x)), share(y)).backward()
        opt.step()
        ref_opt.zero_grad()
        nn.functional.cross_entropy(reference(x), y).backward()
        ref_opt.step()


class Branches(nn.Module):
    """`used_by_rank0` takes part on rank 0 only; `never` on no rank."""

    def __init__(self):
        super().__init__()
        self.trunk, self.used_by_rank0, self.never = (nn.Linear(4, 4), nn.Linear(4, 4),
                                                      nn.Linear(4, 4))

    def forward(self, x):
        x = self.trunk(x)
        return self.used_by_rank0(x) if rank == 0 else x
