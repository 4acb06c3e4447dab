"""searchsorted and bucketize (a binary-search kernel), and diff (engine ops).

A value's place in a sorted row is found by binary search (`kernels/search.py`), the
steps PyTorch's search takes, so rows that are not quite sorted (a NaN, a sorter that
does not sort) give PyTorch's answers too: O(log n) per value, no matrix of
comparisons.
"""
import math

from .. import dtypes
from ..tensor import Tensor
from .operands import promote
from .primitive import Primitive as P
from .registry import public
from .shape import cat

_search = P("searchsorted", lambda K, rows, values, *, right: K.searchsorted(rows, values, right))


def _refuse(message):
    raise RuntimeError(f"torch.searchsorted(): {message}")


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
    if not isinstance(sorted_sequence, Tensor):
        raise TypeError(f"searchsorted(): sorted_sequence must be a Tensor, got "
                        f"{type(sorted_sequence).__name__}")
    rows = sorted_sequence
    if rows.dim() == 0:
        _refuse("boundaries tensor should have positive dimension, but got 0 dimension")
    if sorter is not None:
        if tuple(sorter.shape) != tuple(rows.shape):
            _refuse(f"boundary and sorter must have the same size, but got boundary tensor "
                    f"{list(rows.shape)} and sorter tensor {list(sorter.shape)}")
        if sorter.dtype is not dtypes.int64:
            _refuse(f"sorter must be a tensor of long dtype but got {sorter.dtype}")
        if sorter.numel() and not (0 <= sorter.min().item() and
                                   sorter.max().item() < rows.shape[-1]):
            _refuse("sorter index out of range")
        rows = rows.gather(-1, sorter)
    rows, values = promote("searchsorted", rows, input)
    if values.dim() == 0 and rows.dim() > 1:
        _refuse(f"input value can be a scalar only when boundaries tensor dimension is 1, "
                f"but we got boundaries tensor dim({rows.dim()}) and input value's "
                f"dim(0) numel(1)")
    if rows.dim() > 1 and tuple(rows.shape[:-1]) != tuple(values.shape[:-1]):
        _refuse(f"boundaries tensor should be 1 dimension or the first N-1 dimensions of "
                f"boundaries tensor and input value tensor must match, but we got boundaries "
                f"tensor {list(rows.shape)} and input value tensor {list(values.shape)}")
    if rows.dtype is dtypes.bool_:
        raise NotImplementedError("searchsorted: not implemented for 'Bool'")
    count = math.prod(rows.shape[:-1])  # a 1-d sequence is one row for every value
    places = _search(rows.reshape(count, rows.shape[-1]),
                     values.reshape(count, values.numel() // count if count else 0),
                     right=right).reshape(values.shape)
    return places if not out_int32 else places.to(dtypes.int32)


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
