"""Arranging tensors: the stacking variants, grids, broadcasting a list, repeats of each
element, and shapes taken from another tensor. All are reshapes, expands, cats and
index_selects, so their gradients come from those."""
import numpy as np

from ..creation import from_values
from .operands import broadcast_shapes
from .shape import cat
from .registry import public


@public(method=True)
def view_as(input, other):
    return input.view(other.shape)


@public(method=True)
def reshape_as(input, other):
    return input.reshape(other.shape)


@public()
def broadcast_tensors(*tensors):
    """Each tensor expanded (a view) to the shape all of them broadcast to."""
    shape = broadcast_shapes(*[tuple(t.shape) for t in tensors], op="broadcast_tensors")
    return tuple(t.expand(shape) for t in tensors)


def _at_least(t, n):
    """t with dims of size 1 added as PyTorch's atleast_1d/2d/3d add them."""
    if t.dim() >= n:
        return t
    if t.dim() == 0:
        return t.reshape((1,) * n)
    if n == 2:
        return t.unsqueeze(0)  # (k,) -> (1, k)
    return t.reshape(1, -1, 1) if t.dim() == 1 else t.unsqueeze(-1)  # to 3 dims


@public()
def hstack(tensors):
    """Joined along the columns: dim 1, or dim 0 for 1-d tensors."""
    tensors = [_at_least(t, 1) for t in tensors]
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1)


@public("row_stack")
def vstack(tensors):
    """Joined along the rows (1-d tensors become rows)."""
    return cat([_at_least(t, 2) for t in tensors], 0)




@public()
def dstack(tensors):
    """Joined along the third dim (1-d and 2-d tensors gain it)."""
    return cat([_at_least(t, 3) for t in tensors], 2)


@public()
def column_stack(tensors):
    """1-d tensors as columns, beside 2-d ones."""
    return hstack([t.reshape(-1, 1) if t.dim() <= 1 else t for t in tensors])


@public()
def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-d tensors: 'ij' gives grids of shape (len(a), len(b), ...),
    'xy' swaps the first two, as numpy's default does."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"torch.meshgrid: indexing must be one of 'xy' or 'ij', but "
                         f"received: {indexing}")
    if any(t.dim() > 1 for t in tensors):
        raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                           f"got shapes {[tuple(t.shape) for t in tensors]}")
    flat = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(flat) >= 2
    if swap:
        flat[0], flat[1] = flat[1], flat[0]
    shape = tuple(t.shape[0] for t in flat)
    grids = [t.reshape([-1 if d == i else 1 for d in range(len(flat))]).expand(shape)
             for i, t in enumerate(flat)]
    if swap:  # built with the first two inputs swapped; hand them back in input order
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


@public(method=True)
def repeat_interleave(input, repeats, dim=None, *, output_size=None):
    """Each element (each slice along dim) repeated `repeats` times in place; with no dim,
    over the flattened tensor."""
    x = input.reshape(-1) if dim is None else input
    d = 0 if dim is None else x._dim_index(dim)
    counts = repeats.tolist() if hasattr(repeats, "tolist") else repeats
    n = x.shape[d]
    counts = [counts] * n if isinstance(counts, int) else list(counts)
    if len(counts) == 1 and n != 1:
        counts = counts * n
    if len(counts) != n or any(c < 0 for c in counts):
        raise RuntimeError(f"repeat_interleave: repeats must have one non-negative entry per "
                           f"slice ({n}) along dim {d}, got {counts}")
    order = np.repeat(np.arange(n, dtype=np.int64), counts)
    return x.index_select(d, from_values(order, device=x.device))
