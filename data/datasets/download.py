"""Downloading dataset files: mirrors in turn, resumed partial files, checksums, progress.

A file is fetched to `<name>.part` and only renamed to `<name>` once its md5 matches,
so a corrupt or truncated download never sits where a good file is expected. A
`.part` left by an interrupted run is resumed with an HTTP Range request.
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
    """A one-line text progress bar on stderr (no dependency, and quiet when not a tty)."""

    def __init__(self, name, total, stream=None):
        self.name, self.total, self.done = name, total, 0
        self.stream = stream or sys.stderr
        self.last = 0.0

    def update(self, n):
        self.done += n
        now = time.monotonic()
        if now - self.last >= 0.1 or (self.total and self.done >= self.total):
            self.last = now
            self._draw()

    def _draw(self):
        if self.total:
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            text = f"\r{self.name}: [{bar:<30}] {frac:6.1%} of {self.total / 1e6:.1f} MB"
        else:
            text = f"\r{self.name}: {self.done / 1e6:.1f} MB"
        self.stream.write(text)
        self.stream.flush()

    def close(self):
        self._draw()
        self.stream.write("\n")


def _fetch(url, part, timeout):
    """Append url's remaining bytes to `part`; returns the expected total size or None."""
    import urllib.request  # here, not at the top: `import engine` need not load HTTP (~25 ms)

    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"User-Agent": "numbagrad"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = response.status == 206
        if have and not resumed:  # the server ignored Range: start again
            have = 0
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        progress = _Progress(os.path.basename(part)[:-5], total)
        progress.update(have)
        with open(part, "ab" if resumed else "wb") as out:
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                progress.update(len(block))
        progress.close()
    return total


def download_url(urls, folder, filename, md5=None, size=None, attempts=3, timeout=30):
    """Fetch `filename` into `folder` from the first of `urls` that delivers it intact.

    Intact means the md5 matches, and the size where one is known (some datasets publish
    only that). Each mirror gets `attempts` tries; a truncated transfer is resumed on the
    next try. Raises RuntimeError listing every failure if no mirror works.
    """
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, filename)
    if check_integrity(target, md5, size):
        return target
    part = target + ".part"
    failures = []
    for url in urls:
        for _ in range(attempts):
            try:
                total = _fetch(url, part, timeout)
            except OSError as e:  # urllib's URLError included
                failures.append(f"{url}: {e}")
                continue
            have = os.path.getsize(part)
            expected = size if size is not None else total
            if expected is not None and have < expected:
                failures.append(f"{url}: truncated ({have} of {expected} bytes)")
                continue
            if (size is not None and have != size) or (md5 is not None and md5_of(part) != md5):
                failures.append(f"{url}: checksum mismatch")
                os.remove(part)  # a complete but wrong file: resuming cannot fix it
                continue
            os.replace(part, target)
            return target
    raise RuntimeError(f"could not download {filename}:\n  " + "\n  ".join(failures))
