"""DistributedSampler: each rank's share of a dataset, the same split on every rank."""
import math

import numpy as np

from .sampler import Sampler


def torch_permutation(n, seed):
    """The permutation PyTorch's CPU `randperm(n)` gives from a generator seeded with
    `seed`: its swap loop over a Mersenne Twister (MT19937) stream.

    Every rank must compute the same order without talking, and computing PyTorch's
    means a job's shards are also the shards PyTorch would give, sample for sample.
    numpy's RandomState seeds MT19937 exactly as PyTorch does (from the low 32 bits).
    """
    if n >= 2 ** 32 // 20:  # where PyTorch switches to 64-bit draws
        raise ValueError(f"DistributedSampler: shuffling {n} samples (2**32 / 20 or more) is "
                         f"not supported")
    order = list(range(n))
    draws = np.random.RandomState(seed & 0xFFFFFFFF).randint(
        0, 2 ** 32, size=max(n - 1, 0), dtype=np.uint32).tolist()
    for i, draw in enumerate(draws):
        j = i + draw % (n - i)
        order[i], order[j] = order[j], order[i]
    return order


class DistributedSampler(Sampler):
    """Rank `rank`'s indices: every num_replicas-th of a (shuffled) order that is padded
    by repeating its start, or cut (`drop_last`), to a multiple of num_replicas.

    Call `set_epoch(epoch)` before each epoch: the shuffle is seeded by seed + epoch.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        if num_replicas is None or rank is None:
            from engine import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: pass num_replicas and rank, or call "
                                   "engine.distributed.init_process_group() first")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset, self.num_replicas, self.rank = dataset, num_replicas, rank
        self.shuffle, self.seed, self.drop_last, self.epoch = shuffle, seed, drop_last, 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self):
        n = len(self.dataset)
        order = torch_permutation(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if self.drop_last:
            order = order[:self.total_size]
        elif order:
            repeats = math.ceil(self.total_size / n)
            order = (order * repeats)[:self.total_size]
        return iter(order[self.rank:self.total_size:self.num_replicas])

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        self.epoch = epoch
