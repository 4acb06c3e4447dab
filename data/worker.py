"""The worker side of a multi-process DataLoader.

Each worker owns an index queue and the write end of a result pipe. A task is (task id,
list of indices) for a map-style dataset, or (task id, None) meaning "your next batch"
for an iterable one. Results go back as (task id, batch) or (task id, _Failure); an
iterable worker that has run dry answers (task id, _Exhausted(worker id)).
"""
import collections
import os
import queue
import random
import sys
import traceback
from multiprocessing.reduction import ForkingPickler

import numpy as np

import engine

WorkerInfo = collections.namedtuple("WorkerInfo", ["id", "num_workers", "seed", "dataset"])
_info = None
_POLL_SECONDS = 1.0


def get_worker_info():
    """In a worker: its id, the worker count, its seed and its dataset copy. Else None."""
    return _info


class _Failure:
    """An exception from a worker, carried back to be re-raised with the same type."""

    def __init__(self, exc, worker_id):
        self.exc_type = type(exc)
        self.worker_id = worker_id
        self.message = (f"Caught {type(exc).__name__} in DataLoader worker process "
                        f"{worker_id}.\nOriginal {''.join(traceback.format_exception(exc))}")

    def reraise(self):
        try:
            error = self.exc_type(self.message)
        except Exception:  # an exception class whose constructor wants other arguments
            error = RuntimeError(self.message)
        raise error


class _Exhausted:
    def __init__(self, worker_id):
        self.worker_id = worker_id


def seed_worker(base_seed, worker_id):
    """Seed Python's, numpy's and the engine's generators for one worker."""
    seed = base_seed + worker_id
    random.seed(seed)
    np.random.seed(seed % 2 ** 32)
    engine.manual_seed(seed)
    return seed


def _send(results, task_id, data, worker_id):
    """Pickle first, so that a batch that cannot be pickled is reported as a failure
    of its task rather than breaking the pipe."""
    try:
        payload = ForkingPickler.dumps((task_id, data))
    except Exception as exc:
        payload = ForkingPickler.dumps((task_id, _Failure(exc, worker_id)))
    results.send_bytes(payload)


def worker_loop(dataset, index_queue, results, inherited, collate_fn, auto_collation,
                batch_size, drop_last, base_seed, worker_id, num_workers, worker_init_fn,
                parent_pid):
    global _info
    for connection in inherited:  # the loader's read ends, copied here by fork
        connection.close()
    seed = seed_worker(base_seed, worker_id)
    _info = WorkerInfo(worker_id, num_workers, seed, dataset)
    stream = None
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception as exc:  # reported with the first task, as PyTorch does
        init_failure = _Failure(exc, worker_id)
    else:
        init_failure = None
    while True:
        try:
            task = index_queue.get(timeout=_POLL_SECONDS)
        except queue.Empty:
            if os.getppid() != parent_pid:  # the main process is gone: so are we
                return
            continue
        if task is None:
            return
        task_id, indices = task
        if task_id == "reset":  # a new epoch for a persistent iterable worker
            stream = None
            continue
        if init_failure is not None:
            _send(results, task_id, init_failure, worker_id)
            continue
        try:
            if indices is not None:  # map-style: a list of indices, or one without batching
                batch = (collate_fn([dataset[i] for i in indices]) if auto_collation
                         else collate_fn(dataset[indices]))
            else:
                if stream is None:
                    stream = iter(dataset)
                batch = _next_batch(stream, collate_fn, auto_collation, batch_size, drop_last)
                if batch is _END:
                    batch = _Exhausted(worker_id)
        except Exception as exc:
            batch = _Failure(exc, worker_id)
        try:
            _send(results, task_id, batch, worker_id)
        except OSError:  # the loader closed its end: it is shutting down, or gone
            return
        sys.stdout.flush()


_END = object()


def _next_batch(stream, collate_fn, auto_collation, batch_size, drop_last):
    """The next batch from an iterable dataset's iterator, or _END."""
    if not auto_collation:
        for sample in stream:
            return collate_fn(sample)
        return _END
    samples = []
    for sample in stream:
        samples.append(sample)
        if len(samples) == batch_size:
            return collate_fn(samples)
    if samples and not drop_last:
        return collate_fn(samples)
    return _END
