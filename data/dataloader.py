"""`DataLoader`: batches from a dataset, in this process or in worker processes."""
import itertools
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
import weakref

import engine

from . import worker as _worker
from .collate import default_collate, default_convert, pin_memory as _pin
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

_POLL_SECONDS = 0.2


class _InfiniteConstantSampler:
    """The sampler of an IterableDataset: the dataset itself decides what comes next."""

    def __iter__(self):
        while True:
            yield None


class DataLoader:
    """Combines a dataset and a sampler and iterates over batches, optionally using
    `num_workers` worker processes that prefetch `prefetch_factor` batches each."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False,
                 timeout=0, worker_init_fn=None, multiprocessing_context=None, generator=None,
                 *, prefetch_factor=None, persistent_workers=False, pin_memory_device=""):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:
            if iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.dataset, self.batch_size, self.drop_last = dataset, batch_size, drop_last
        self.sampler, self.batch_sampler = sampler, batch_sampler
        self.num_workers, self.prefetch_factor = num_workers, prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        # Without a GPU there is nothing to pin for; PyTorch likewise skips it.
        self._pin = pin_memory and engine.cuda.is_available()
        self.timeout, self.worker_init_fn = timeout, worker_init_fn
        self.multiprocessing_context, self.generator = multiprocessing_context, generator
        self.persistent_workers = persistent_workers
        self.collate_fn = collate_fn or (default_collate if self._auto_collation
                                         else default_convert)
        self._iterable = iterable
        self._iterator = None

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self):
        if self.num_workers == 0:
            batches = _SingleProcessIter(self)
        elif self.persistent_workers:
            if self._iterator is None:
                self._iterator = _MultiProcessIter(self)
            else:
                self._iterator.reset()
            batches = self._iterator
        else:
            batches = _MultiProcessIter(self)
        return map(_pin, batches) if self._pin else batches


def _not_in_a_trace():
    """A batch is new data at each call, which a compiled function's replay would not
    fetch: next() on a loader's iterator ends a trace (load outside, pass the batch in)."""
    engine.tracing.graph_break("next() on a DataLoader's iterator (a replay would reuse the "
                               "first batch: load batches outside the compiled function "
                               "and pass them in)")


class _SingleProcessIter:
    def __init__(self, loader):
        self.loader = loader
        if loader._iterable:
            self.stream = iter(loader.dataset)
        else:
            self.indices = iter(loader._index_sampler)

    def __iter__(self):
        return self

    def __next__(self):
        _not_in_a_trace()
        loader = self.loader
        if loader._iterable:
            batch = _worker._next_batch(self.stream, loader.collate_fn, loader._auto_collation,
                                        loader.batch_size, loader.drop_last)
            if batch is _worker._END:
                raise StopIteration
            return batch
        index = next(self.indices)
        if loader._auto_collation:
            return loader.collate_fn([loader.dataset[i] for i in index])
        return loader.collate_fn(loader.dataset[index])


def _shutdown(workers, index_queues, results):
    """Stop every worker: close the result pipes (a worker blocked sending a batch
    nobody will read then fails at once), ask politely, then terminate what still runs."""
    for connection in results:
        connection.close()
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + 2.0
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
        if w.is_alive():
            w.terminate()
            w.join(timeout=1.0)
    for q in index_queues:
        q.cancel_join_thread()
        q.close()


class _MultiProcessIter:
    """Workers fed round-robin through one index queue each; results are put back in
    task order, so batches come out in the sampler's order whatever the timing.

    Each worker sends its results through a pipe of its own, whose write end only that
    worker holds. A worker that dies, even halfway through sending a batch, is then an
    end of file on its pipe, seen at once; with one queue shared by all workers, a
    worker killed while writing left the reader waiting forever for the rest of its
    message, and the other workers waiting for the lock it held.
    """

    def __init__(self, loader):
        self.loader = loader
        context = multiprocessing.get_context(loader.multiprocessing_context)
        n = loader.num_workers
        self.base_seed = int(engine.randint(0, 2 ** 62, (1,), generator=loader.generator).item())
        self.index_queues, self.results, self.workers = [], [], []
        forked = context.get_start_method() == "fork"
        for worker_id in range(n):
            index_queue = context.Queue()
            reader, writer = context.Pipe(duplex=False)
            # A forked worker inherits the read ends made so far and closes them, so that
            # when the loader closes its own, a worker still sending gets an error at once.
            inherited = (*self.results, reader) if forked else ()
            w = context.Process(
                target=_worker.worker_loop, daemon=True,
                args=(loader.dataset, index_queue, writer, inherited, loader.collate_fn,
                      loader._auto_collation, loader.batch_size, loader.drop_last,
                      self.base_seed, worker_id, n, loader.worker_init_fn, os.getpid()))
            w.start()
            writer.close()  # the worker's copy is the only one: its death ends the pipe
            self.index_queues.append(index_queue)
            self.results.append(reader)
            self.workers.append(w)
        self._finalizer = weakref.finalize(self, _shutdown, self.workers, self.index_queues,
                                           self.results)
        self._first_epoch = True
        self.next_task = 0
        self.reset()

    def reset(self):
        """Start an epoch (again, for persistent workers). Task ids keep counting across
        epochs, so results still arriving from an epoch left early are recognised (their
        ids are below first_task) and dropped, instead of being served as this one's."""
        loader = self.loader
        if not self._first_epoch and loader._iterable:
            for q in self.index_queues:
                q.put(("reset", None))
        self._first_epoch = False
        self.tasks = None if loader._iterable else iter(loader._index_sampler)
        self.first_task = self.next_result = self.next_task
        self.waiting = {}
        self.active = list(range(loader.num_workers))
        self.turn = itertools.cycle(range(loader.num_workers))
        for _ in range(loader.prefetch_factor * loader.num_workers):
            self._send()

    def _send(self):
        if self.tasks is not None:
            indices = next(self.tasks, None)
            if indices is None:
                return
            worker_id = next(self.turn)
        else:
            if not self.active:
                return
            worker_id = next(w for w in self.turn if w in self.active)
            indices = None
        self.index_queues[worker_id].put((self.next_task, indices))
        self.next_task += 1

    def __iter__(self):
        return self

    def __next__(self):
        _not_in_a_trace()
        while True:
            if self.next_result == self.next_task:
                if not self.loader.persistent_workers:
                    self.shutdown()
                raise StopIteration
            if self.next_result not in self.waiting:
                task_id, data = self._receive()
                if task_id >= self.first_task:
                    self.waiting[task_id] = data
                continue
            data = self.waiting.pop(self.next_result)
            self.next_result += 1
            if isinstance(data, _worker._Exhausted):
                if data.worker_id in self.active:
                    self.active.remove(data.worker_id)
                continue
            self._send()
            if isinstance(data, _worker._Failure):
                self.shutdown()
                data.reraise()
            return data

    def _receive(self):
        """The next (task id, data) from whichever worker has one. A dead worker, however
        it ended, is an error raised here at once; `timeout` bounds each wait."""
        timeout = self.loader.timeout
        deadline = time.monotonic() + timeout if timeout else None
        while True:
            wait = _POLL_SECONDS if deadline is None else max(
                0.0, min(_POLL_SECONDS, deadline - time.monotonic()))
            for connection in multiprocessing.connection.wait(self.results, wait):
                try:
                    return connection.recv()
                except (EOFError, OSError):  # an end of file, maybe within a message
                    self._lost(self.workers[self.results.index(connection)])
            for w in self.workers:
                if w.exitcode is not None:
                    self._lost(w)
            if deadline is not None and time.monotonic() >= deadline:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")

    def _lost(self, worker):
        """Raise for a worker that ended while the loader still needed it; only the
        loader ends workers, so any exit, status 0 included, is unexpected."""
        worker.join(timeout=1.0)  # its pipe can close an instant before it is reaped
        code = worker.exitcode
        self.shutdown()
        if code is not None and code < 0:
            raise RuntimeError(f"DataLoader worker (pid {worker.pid}) is killed by signal: "
                               f"{signal.Signals(-code).name}.")
        raise RuntimeError(f"DataLoader worker (pid {worker.pid}) exited unexpectedly with "
                           f"exit code {code}.")

    def shutdown(self):
        self._finalizer()

    def __del__(self):
        self._finalizer()
