"""A caching allocator: freed device memory is kept for the next request of its size.

cudaMalloc and cudaFree synchronise the device and cost tens of microseconds each; a
training step allocates the same sizes every iteration, so after the first step every
request is served from the cache. Sizes are rounded up (to 512 bytes, then to a
quarter of the next power of two) so that nearby sizes share blocks. Blocks are kept
per dtype, already typed, so that reusing one builds no new numba array object.
"""
from .runtime import cuda

_free = {}           # (dtype, rounded size in bytes) -> list of free typed device arrays
_stats = {"allocated": 0, "reserved": 0}


def _rounded(nbytes):
    if nbytes <= 512:
        return 512
    quarter = 1 << max(9, (nbytes - 1).bit_length() - 3)
    return -(-nbytes // quarter) * quarter


class Block:
    """A raw device allocation on loan; it returns to the cache when garbage collected."""

    __slots__ = ("array", "key")

    def __init__(self, dtype, count):
        size = _rounded(max(count, 1) * dtype.itemsize)
        self.key = (dtype, size)
        pool = _free.get(self.key)
        if pool:
            self.array = pool.pop()
        else:
            try:
                self.array = cuda.device_array(size // dtype.itemsize, dtype=dtype)
            except Exception:  # out of memory: give back what the cache holds, then retry
                empty_cache()
                self.array = cuda.device_array(size // dtype.itemsize, dtype=dtype)
            _stats["reserved"] += size
        _stats["allocated"] += size

    def __del__(self):
        try:
            _stats["allocated"] -= self.key[1]
            _free.setdefault(self.key, []).append(self.array)
        except (TypeError, AttributeError):  # interpreter shutdown: module globals are gone
            pass


def memory_allocated():
    """Bytes held by live arrays (rounded as allocated)."""
    return _stats["allocated"]


def memory_reserved():
    """Bytes held from the driver: live arrays plus the cache."""
    return _stats["reserved"]


def empty_cache():
    """Return every cached block to the driver."""
    for (_, size), pool in _free.items():
        _stats["reserved"] -= size * len(pool)
        pool.clear()
