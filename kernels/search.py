"""Binary search in a sorted row, written once for the CPU loop and the GPU kernel.

`place` is PyTorch's search, step for step, so that the rows it was never promised
agree too: a NaN value compares true with nothing, so it is sent past every entry (to
the row's end); a NaN entry, which sorts last, is passed over the same way.
"""


def place(row, start, n, value, right):
    """Where `value` goes in row[start:start + n] to keep it sorted: before the first
    entry at or above it (after the last equal one, `right`)."""
    lo = 0
    hi = n
    while lo < hi:
        mid = lo + (hi - lo) // 2
        entry = row[start + mid]
        if entry > value or (not right and entry == value):
            hi = mid
        else:
            lo = mid + 1
    return lo
