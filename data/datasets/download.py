"""Downloading dataset files: mirrors in turn, resumed partial files, checksums, progress.

A file is fetched to `<name>.part` and only renamed to `<name>` once its md5 matches,
so a corrupt or truncated download never sits where a good file is expected. A
`.part` left by an interrupted run is resumed with an HTTP Range request.

Servers are not trusted to behave: every download has an overall deadline (a server
dripping one byte at a time cannot hold it forever) and a size cap (an endless body is
cut off as soon as it passes the cap), and any failure of one mirror, whatever its
kind, moves on to the next.
"""
import hashlib
import os
import sys
import time

CHUNK = 1 << 16


def md5_of(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def check_integrity(path, md5=None, size=None):
    return (os.path.isfile(path) and (size is None or os.path.getsize(path) == size)
            and (md5 is None or md5_of(path) == md5))


class _Progress:
    """A one-line text progress bar on stderr (no dependency). Redrawn in place on a
    terminal; elsewhere only the final line is written, once."""

    def __init__(self, name, total, stream=None):
        self.name, self.total, self.done = name, total, 0
        self.stream = stream or sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.live = bool(isatty and isatty())
        self.last = 0.0

    def update(self, n):
        self.done += n
        now = time.monotonic()
        if self.live and (now - self.last >= 0.1 or (self.total and self.done >= self.total)):
            self.last = now
            self._draw()

    def _draw(self):
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            text = f"{self.name}: [{bar:<30}] {frac:6.1%} of {self.total / 1e6:.1f} MB"
        else:
            text = f"{self.name}: {self.done / 1e6:.1f} MB"
        self.stream.write("\r" + text if self.live else text)
        self.stream.flush()

    def close(self):
        self._draw()
        self.stream.write("\n")


class _Refused(Exception):
    """A mirror's answer that trying it again cannot fix (too large, wrong checksum)."""


class _Part:
    """The `.part` file and the mirror whose bytes it holds (None: an earlier run's)."""

    def __init__(self, path):
        self.path, self.source = path, None


def _fetch(url, part, timeout, deadline, limit):
    """Append url's remaining bytes to `part`, until `deadline` (time.monotonic) and no
    further than `limit` bytes in all; returns the expected total size or None. Bytes
    another mirror wrote are never continued: that mirror's file may differ."""
    import urllib.request  # here, not at the top: `import engine` need not load HTTP (~25 ms)

    mine = part.source in (None, url) and os.path.exists(part.path)
    have = os.path.getsize(part.path) if mine else 0
    request = urllib.request.Request(url, headers={"User-Agent": "numbagrad"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=_remaining(deadline, timeout)) as response:
        resumed = response.status == 206
        if have and not resumed:  # the server ignored Range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        if total is not None and total > limit:
            raise _Refused(f"the server announces {total} bytes, more than the {limit} "
                           f"expected")
        progress = _Progress(os.path.basename(part.path)[:-5], total)
        progress.update(have)
        part.source = url
        with open(part.path, "ab" if resumed else "wb") as out:
            while True:
                # read1 returns what has arrived (one wait of at most `timeout`), so the
                # deadline is checked between waits, never only after the whole body.
                block = response.read1(CHUNK)
                if not block:
                    break
                _remaining(deadline, timeout)
                out.write(block)
                progress.update(len(block))
                if progress.done > limit:
                    raise _Refused(f"the body goes on past the {limit} bytes expected")
        progress.close()
    return total


def _remaining(deadline, timeout):
    """The socket timeout for the next wait: `timeout`, or less as the deadline nears."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the transfer's deadline passed")
    return min(timeout, left)


def download_url(urls, folder, filename, md5=None, size=None, attempts=3, timeout=30,
                 deadline=300, max_bytes=1 << 30):
    """Fetch `filename` into `folder` from the first of `urls` that delivers it intact.

    Intact means the md5 matches, and the size where one is known (some datasets publish
    only that). The mirrors are tried in turn; a mirror whose transfer broke off is
    tried again (resuming it) only after the others, for up to `attempts` rounds, and
    one that sent a wrong or oversized file is not tried again. `timeout` bounds each
    wait for the network, `deadline` each transfer from one mirror in seconds (so the
    whole download takes at most attempts x mirrors x deadline), and `max_bytes` (or
    `size`, when known) the bytes accepted. Raises RuntimeError listing every failure
    if no mirror works.
    """
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, filename)
    if check_integrity(target, md5, size):
        return target
    part = _Part(target + ".part")
    limit = size if size is not None else max_bytes
    failures, refused = [], set()
    for _ in range(attempts):
        for url in urls:
            if url in refused:
                continue
            resumed = part.source in (None, url) and os.path.exists(part.path)
            try:
                total = _fetch(url, part, timeout, time.monotonic() + deadline, limit)
                _verify(part.path, md5, size, total)
            except _Refused as e:
                failures.append(f"{url}: {e}")
                if os.path.exists(part.path):
                    os.remove(part.path)
                if not resumed:  # a fresh transfer of the wrong file: a bad mirror
                    refused.add(url)
                continue
            except Exception as e:  # noqa: BLE001 - any broken transfer: the next mirror
                failures.append(f"{url}: {type(e).__name__}: {e}")
                continue
            os.replace(part.path, target)
            return target
    raise RuntimeError(f"could not download {filename}:\n  " + "\n  ".join(failures))


def _verify(part, md5, size, total):
    have = os.path.getsize(part)
    expected = size if size is not None else total
    if expected is not None and have < expected:
        raise EOFError(f"truncated ({have} of {expected} bytes)")
    if (size is not None and have != size) or (md5 is not None and md5_of(part) != md5):
        raise _Refused("checksum mismatch")
