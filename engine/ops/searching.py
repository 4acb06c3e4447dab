"""searchsorted, bucketize and diff, in engine ops (no kernels of their own).

A value's place in a sorted row is how many of the row's entries lie below it (or at
or below it, side="right"): one comparison of every value with every entry, then a sum.
That costs values x entries, fine for the bin edges and class boundaries programs pass;
a binary-search kernel would be the step up for long sorted rows.
"""
from .. import dtypes
from ..tensor import Tensor
from .operands import scalar
from .registry import public
from .shape import cat


@public(out=True)
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Where each value of `input` would go in the last dimension of `sorted_sequence`
    (leading dimensions match, or the sequence is 1-d) to keep it sorted."""
    if side is not None:
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise RuntimeError("searchsorted: side and right can't be set to opposites, got "
                               "side of left while right was True")
        right = side == "right"
    values = input if isinstance(input, Tensor) else scalar(input, sorted_sequence.dtype,
                                                             sorted_sequence.device)
    if sorter is not None:
        sorted_sequence = sorted_sequence.gather(-1, sorter)
    if sorted_sequence.dim() > 1 and tuple(sorted_sequence.shape[:-1]) != \
            tuple(values.shape[:-1]):
        raise RuntimeError(f"searchsorted: the leading dimensions of sorted_sequence "
                           f"{tuple(sorted_sequence.shape)} and input {tuple(values.shape)} "
                           f"must match")
    rows, columns = sorted_sequence.unsqueeze(-2), values.unsqueeze(-1)  # (.., 1, n), (.., m, 1)
    places = (rows <= columns if right else rows < columns).sum(-1)
    if values.dim() == 0 and places.dim():
        places = places.reshape(())
    return places.to(dtypes.int32 if out_int32 else dtypes.int64)


@public(out=True)
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value: i with boundaries[i-1] < x <= boundaries[i] (right=True:
    boundaries[i-1] <= x < boundaries[i])."""
    if boundaries.dim() != 1:
        raise RuntimeError(f"bucketize: boundaries must be 1-d, got shape "
                           f"{tuple(boundaries.shape)}")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


@public(method=True)
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """Differences of neighbours along `dim`, n times (after joining prepend and append);
    for bools, whether neighbours differ."""
    parts = [t for t in (prepend, input, append) if t is not None]
    x = cat(parts, dim) if len(parts) > 1 else input
    d = x._dim_index(dim)
    for _ in range(n):
        length = x.shape[d]
        if length == 0:
            break
        later, earlier = x.narrow(d, 1, length - 1), x.narrow(d, 0, length - 1)
        x = later != earlier if x.dtype is dtypes.bool_ else later - earlier
    return x
