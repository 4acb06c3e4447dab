"""The handle of a collective under way: `async_op=True` returns it, `wait()` finishes it."""
import time


class Work:
    """MPI requests plus what must happen once they complete (copying a staged result
    back to the GPU, dividing a sum for AVG, filling a list of tensors).

    wait() polls the requests rather than blocking in MPI, so that a rank that never
    joins the collective ends the job after the group's timeout instead of hanging it.
    """

    def __init__(self, name, requests, finish=None, timeout=None, status=None):
        self._name, self._requests, self._finish = name, list(requests), finish
        self._timeout, self._status = timeout, status  # status: filled in by a receive
        self._done = False

    def is_completed(self):
        if not self._done and all(r.Test(self._status) for r in self._requests):
            self._complete()
        return self._done

    def wait(self, timeout=None):
        """Block until the collective has finished; True, as PyTorch's Work.wait."""
        if self._done:
            return True
        for request in self._requests:
            wait_for(request, self._name, timeout if timeout is not None else self._timeout,
                     self._status)
        self._complete()
        return True

    def _complete(self):
        self._done = True
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()

    def __repr__(self):
        return f"<Work {self._name} {'completed' if self._done else 'pending'}>"


def wait_for(request, name, limit, status=None):
    """Poll one MPI request until it completes, or raise once `limit` (seconds or a
    timedelta; None: no limit) has passed. The clock is read only every 4096 polls: a
    small collective finishes within the first few, at no more than MPI's own Wait."""
    spins = 0
    while not request.Test(status):  # each Test also advances MPI's progress
        spins += 1
        if spins % 4096 == 0 and limit is not None:
            if spins == 4096:
                deadline = time.monotonic() + _seconds(limit)
            elif time.monotonic() > deadline:
                raise RuntimeError(f"{name}: not finished after {_seconds(limit):g} s "
                                   f"(timeout); another rank may have failed or not called "
                                   f"{name}")


def _seconds(limit):
    return limit.total_seconds() if hasattr(limit, "total_seconds") else float(limit)
