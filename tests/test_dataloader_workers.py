"""DataLoader worker processes: order, seeding, and every fault the issue names."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import data
import engine


class Slow(data.Dataset):
    """Odd indices are slow, so workers finish out of order."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        time.sleep(0.02 * (i % 2))
        return i


class Failing(data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise KeyError(f"no sample {i}")
        return i


class Killed(data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Stalled(data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 2:
            time.sleep(30)
        return i


class Draws(data.Dataset):
    """What a worker's generators produce, and who it is."""

    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = data.get_worker_info()
        return {"worker": info.id, "pid": os.getpid(), "numpy": float(np.random.rand()),
                "engine": engine.rand(1).item(), "seed": info.seed}


def test_order_is_kept_whatever_the_timing():
    loader = data.DataLoader(Slow(), batch_size=2, num_workers=3, prefetch_factor=3)
    assert [b.tolist() for b in loader] == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]


def test_worker_exception_is_reraised_with_type_worker_and_traceback():
    loader = data.DataLoader(Failing(), batch_size=2, num_workers=2)
    with pytest.raises(KeyError) as info:
        list(loader)
    text = str(info.value)
    assert "Caught KeyError in DataLoader worker process 0" in text
    assert "no sample 5" in text and "Traceback" in text and "__getitem__" in text


def test_worker_killed_by_signal_is_an_error_not_a_hang():
    loader = data.DataLoader(Killed(), batch_size=1, num_workers=2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+\) is killed by "
                                           r"signal: SIGKILL"):
        list(loader)
    assert time.monotonic() - start < 10


def test_timeout_raises_after_that_many_seconds():
    loader = data.DataLoader(Stalled(), batch_size=1, num_workers=1, timeout=1)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="DataLoader timed out after 1 seconds"):
        list(loader)
    assert time.monotonic() - start < 8


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); look at its state
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def test_no_worker_outlives_its_loader():
    loader = data.DataLoader(Draws(), batch_size=1, num_workers=2)
    it = iter(loader)
    pids = {next(it)["pid"][0].item(), next(it)["pid"][0].item()}
    workers = [w.pid for w in it.workers]
    del it  # abandoned half-way through the epoch
    deadline = time.monotonic() + 5
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(p) for p in workers)
    assert pids <= set(workers)
    finished = iter(data.DataLoader(Draws(), batch_size=1, num_workers=2))
    list(finished)
    assert not any(w.is_alive() for w in finished.workers)


def test_each_worker_draws_different_numbers_and_seeds_repeat():
    def run(seed):
        loader = data.DataLoader(Draws(), batch_size=None, num_workers=2,
                                 generator=engine.Generator().manual_seed(seed))
        return list(loader)

    first = run(5)
    by_worker = {s["worker"]: s for s in first[:2]}
    assert by_worker[0]["numpy"] != by_worker[1]["numpy"]
    assert by_worker[0]["engine"] != by_worker[1]["engine"]
    assert by_worker[1]["seed"] == by_worker[0]["seed"] + 1
    again = run(5)
    assert [(s["numpy"], s["engine"]) for s in again] == [(s["numpy"], s["engine"])
                                                          for s in first]
    assert [s["numpy"] for s in run(6)] != [s["numpy"] for s in first]


def test_worker_init_fn_runs_in_each_worker():
    def init(worker_id):
        np.random.seed(1000 + worker_id)

    loader = data.DataLoader(Draws(), batch_size=None, num_workers=2, worker_init_fn=init)
    draws = {}
    for s in loader:
        draws.setdefault(s["worker"], []).append(s["numpy"])
    assert draws[0] == list(np.random.RandomState(1000).rand(2))
    assert draws[1] == list(np.random.RandomState(1001).rand(2))


def test_persistent_workers_survive_epochs():
    loader = data.DataLoader(Draws(), batch_size=None, num_workers=2, persistent_workers=True)
    first = {s["pid"] for s in loader}
    second = {s["pid"] for s in loader}
    assert first == second and len(first) == 2
    pids = [w.pid for w in loader._iterator.workers]
    loader._iterator.shutdown()
    assert not any(_alive(p) for p in pids)


def test_pin_memory_without_cuda_is_a_no_op():
    batches = list(data.DataLoader(data.TensorDataset(engine.arange(4)), batch_size=2,
                                   pin_memory=True))
    assert [b[0].tolist() for b in batches] == [[0, 1], [2, 3]]


# ---- faults met in a hostile-input run ---------------------------------------------------

@pytest.mark.slow
def test_workers_killed_while_sending_large_batches_never_hang_the_loader():
    """20 runs, each SIGKILLing a random worker at a random moment while 13 MB batches
    are in flight: an error naming the signal within seconds, and no worker left."""
    child = Path(__file__).with_name("loader_kill_child.py")
    run = subprocess.run([sys.executable, str(child), "3", "20"], capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    runs = json.loads(run.stdout)
    assert len(runs) == 20
    for r in runs:
        assert re.fullmatch(r"DataLoader worker \(pid \d+\) is killed by signal: SIGKILL\.",
                            r["error"]), r
        assert r["seconds"] < 3 and r["left"] == [], r


class Exits(data.Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3:
            sys.exit(0)
        return i


def test_a_worker_exiting_with_status_0_is_an_error():
    loader = data.DataLoader(Exits(), batch_size=1, num_workers=2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+\) exited "
                                           r"unexpectedly with exit code 0"):
        list(loader)
    assert time.monotonic() - start < 10


class Unpicklable(data.Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return (lambda: i) if i == 2 else i


def test_a_batch_that_cannot_be_pickled_fails_its_task():
    loader = data.DataLoader(Unpicklable(), batch_size=None, num_workers=2,
                             collate_fn=lambda x: x)
    it = iter(loader)
    assert [next(it), next(it)] == [0, 1]
    with pytest.raises(Exception, match="Caught .* in DataLoader worker process 0"):
        next(it)


class Numbered(data.Dataset):
    def __len__(self):
        return 40

    def __getitem__(self, i):
        time.sleep(0.002)
        return i


def test_persistent_shuffled_workers_start_each_epoch_afresh_after_a_break():
    loader = data.DataLoader(Numbered(), batch_size=4, shuffle=True, num_workers=2,
                             persistent_workers=True, prefetch_factor=4)
    for i, _ in enumerate(loader):
        if i == 1:
            break  # batches of this epoch are still in flight
    for _ in range(2):
        seen = [int(v) for batch in loader for v in batch]
        assert sorted(seen) == list(range(40))
    loader._iterator.shutdown()
