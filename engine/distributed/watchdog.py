"""A thread that ends the job when a blocking collective outlives the group's timeout.

Most collectives poll MPI's non-blocking calls and raise once the timeout has passed
(work.wait_for). The hottest one cannot afford that: a blocking all_reduce of a small
CPU tensor (gradients, metrics) costs 10-20% more through Iallreduce and polling than
through MPI's blocking Allreduce, which MPICH runs with a cheaper algorithm. A call
blocked inside MPI cannot raise, so this thread watches it instead, as PyTorch's NCCL
watchdog watches its collectives, and aborts the job with the same words a polled
collective would have raised.

The collective pays two attribute writes before MPI and one after; no clock is read.
"""
import threading


class Watchdog:
    """`started` counts the watched calls and `running` names the one under way (None
    between calls). The thread looks every `tick` seconds; the same call seen running
    for `limit` seconds is a timeout. A new call always changes `started`, so a fast
    call that ends and another that begins are never mistaken for one slow call."""

    def __init__(self, limit, on_timeout):
        self.started, self.running = 0, None
        self._limit, self._on_timeout = limit, on_timeout
        self._tick = min(1.0, limit / 4)
        self._stop = threading.Event()
        self._thread = None

    def start(self):
        self._thread = threading.Thread(target=self._watch, daemon=True,
                                        name="engine.distributed watchdog")
        self._thread.start()

    def stop(self):
        self._stop.set()

    def _watch(self):
        seen, waited = None, 0.0
        while not self._stop.wait(self._tick):
            now = (self.started, self.running)
            if now[1] is None or now != seen:
                seen, waited = now, 0.0
                continue
            waited += self._tick
            if waited >= self._limit:
                self._on_timeout(f"RuntimeError: {now[1]}: not finished after "
                                 f"{self._limit:g} s (timeout); another rank may have "
                                 f"failed or not called {now[1]}")
                return
