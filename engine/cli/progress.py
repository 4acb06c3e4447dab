"""A small progress bar for training loops (stderr, no dependencies).

On a terminal it is redrawn in place with carriage returns; elsewhere (a log file, a
pipe, CI) that would leave a smear of partial lines, so only the final line is written,
once."""
import sys
import time


class Progress:
    """Wraps an iterable; `bar.note(loss=0.31)` shows values beside the bar."""

    def __init__(self, iterable, total=None, desc="", enabled=True, stream=None, width=24):
        self.iterable, self.desc, self.enabled = iterable, desc, enabled
        self.total = total if total is not None else (len(iterable) if hasattr(
            iterable, "__len__") else None)
        self.stream = stream or sys.stderr
        self.live = _is_terminal(self.stream)
        self.width, self.count, self.notes = width, 0, {}
        self.start = self.last = time.monotonic()

    def note(self, **values):
        self.notes.update(values)

    def __iter__(self):
        for item in self.iterable:
            yield item
            self.count += 1
            now = time.monotonic()
            if self.live and self.enabled and (now - self.last > 0.1
                                               or self.count == self.total):
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
            line = (f"{self.desc} [{bar:<{self.width}}] {self.count}/{self.total} "
                    f"{elapsed:.1f}s<{eta:.1f}s {notes}")
        else:
            line = f"{self.desc} {self.count} {elapsed:.1f}s {notes}"
        self.stream.write("\r" + line if self.live else line)
        self.stream.flush()


def _is_terminal(stream):
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def progress(iterable, total=None, desc="", enabled=True):
    return Progress(iterable, total, desc, enabled)
