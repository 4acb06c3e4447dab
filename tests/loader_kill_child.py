"""Workers SIGKILLed at random moments while large batches are in flight, run as a
script so that a hang is bounded by the calling test's timeout.

    python tests/loader_kill_child.py SEED RUNS

Prints one JSON object: for each run, the seconds from the kill to the loader's error,
the error's text, and the worker pids still alive afterwards.
"""
import json
import os
import random
import signal
import sys
import threading
import time

import numpy as np

import data


class Large(data.Dataset):
    """3.2 MB samples: batches of 13 MB, far larger than a pipe's buffer, so that a
    kill most often lands while a worker is halfway through sending one."""

    def __len__(self):
        return 4096

    def __getitem__(self, i):
        return np.full(800_000, i, np.float32)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def one_run(rng):
    loader = data.DataLoader(Large(), batch_size=4, num_workers=2, timeout=5)
    it = iter(loader)
    pids = [w.pid for w in it.workers]
    killed = {}

    def kill():
        time.sleep(rng.uniform(0.05, 0.4))
        killed["at"] = time.monotonic()
        os.kill(rng.choice(pids), signal.SIGKILL)

    threading.Thread(target=kill, daemon=True).start()
    try:
        for _ in it:
            pass
        error = "no error"
    except RuntimeError as e:
        error = str(e)
    seconds = time.monotonic() - killed.get("at", time.monotonic())
    del it
    deadline = time.monotonic() + 5
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {"seconds": seconds, "error": error, "left": [p for p in pids if alive(p)]}


if __name__ == "__main__":
    rng = random.Random(int(sys.argv[1]))
    print(json.dumps([one_run(rng) for _ in range(int(sys.argv[2]))]))
