"""A small progress bar for training loops (stderr, redrawn in place, no dependencies)."""
import sys
import time


class Progress:
    """Wraps an iterable; `bar.note(loss=0.31)` shows values beside the bar."""

    def __init__(self, iterable, total=None, desc="", enabled=True, stream=None, width=24):
        self.iterable, self.desc, self.enabled = iterable, desc, enabled
        self.total = total if total is not None else (len(iterable) if hasattr(
            iterable, "__len__") else None)
        self.stream = stream or sys.stderr
        self.width, self.count, self.notes = width, 0, {}
        self.start = self.last = time.monotonic()

    def note(self, **values):
        self.notes.update(values)

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.count += 1
            now = time.monotonic()
            if self.enabled and (now - self.last > 0.1 or self.count == self.total):
                self.last = now
                self._draw(now)
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, now):
        elapsed = now - self.start
        notes = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                         for k, v in self.notes.items())
        if self.total:
            done = self.count / self.total
            bar = "#" * int(done * self.width)
            eta = elapsed / self.count * (self.total - self.count) if self.count else 0.0
            line = (f"\r{self.desc} [{bar:<{self.width}}] {self.count}/{self.total} "
                    f"{elapsed:.1f}s<{eta:.1f}s {notes}")
        else:
            line = f"\r{self.desc} {self.count} {elapsed:.1f}s {notes}"
        self.stream.write(line)
        self.stream.flush()


def progress(iterable, total=None, desc="", enabled=True):
    return Progress(iterable, total, desc, enabled)
