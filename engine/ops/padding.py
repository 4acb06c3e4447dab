"""F.pad: grow (or, by negative amounts, crop) the last dims of a tensor.

`pad` lists (before, after) amounts from the last dim backwards, as in PyTorch.
Constant padding concatenates blocks of the fill value. The other modes pick, for each
place of the padded dim, the index of the element it copies (reflect mirrors about the
edge without repeating it, replicate repeats the edge, circular wraps around), so one
index_select does the work and its gradient adds each copy back to its source.
"""
from .. import dtypes
from ..creation import full, tensor
from .indexing import index_select
from .shape import cat

_MODES = ("constant", "reflect", "replicate", "circular")


def pad(input, pad, mode="constant", value=None):
    """`input` padded by `pad`'s (before, after) amounts, last dim first (see above)."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise ValueError(f"pad: the padding length must be even (before, after pairs), got "
                         f"{len(pad)}")
    dims = len(pad) // 2
    if dims > input.dim():
        raise ValueError(f"pad: {len(pad)} amounts pad {dims} dims, but the input of shape "
                         f"{tuple(input.shape)} has {input.dim()}")
    if mode not in _MODES:
        raise NotImplementedError(f"pad: mode {mode!r} is not one of {', '.join(_MODES)}")
    if mode != "constant":
        if value:
            raise ValueError(f"pad: a fill value is only used by mode 'constant', not {mode!r}")
        if dims > 3 or input.dim() not in (dims + 1, dims + 2):
            raise NotImplementedError(f"pad: mode {mode!r} pads the last 1 to 3 dims of an "
                                      f"input with one or two more dims; got {len(pad)} "
                                      f"amounts for shape {tuple(input.shape)}")
    out = input
    for i in range(dims):
        dim = input.dim() - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        crops_first = mode in ("constant", "circular")  # as PyTorch does
        left = out.shape[dim] + (min(before, 0) + min(after, 0) if crops_first
                                 else before + after)
        if left < 0:
            raise ValueError(f"pad: ({before}, {after}) crops dim {dim} of size "
                             f"{out.shape[dim]} to {left} (input shape {tuple(input.shape)})")
        if crops_first:
            out = _crop(out, dim, -min(before, 0), -min(after, 0))
            before, after = max(before, 0), max(after, 0)
        if not before and not after:
            continue
        if mode == "constant":
            out = _constant(out, dim, before, after, 0 if value is None else value)
        else:  # reflect and replicate index the uncropped dim, circular what is left
            out = index_select(out, dim, _sources(mode, out, dim, before, after))
    return out


def _crop(x, dim, before, after):
    """x without `before` elements at the start of `dim` and `after` at its end."""
    if not before and not after:
        return x
    size = x.shape[dim]
    return x.narrow(dim, min(before, size), max(size - before - after, 0))


def _constant(x, dim, before, after, value):
    parts = []
    for amount in (before, None, after):
        if amount is None:
            parts.append(x)
        elif amount:
            shape = list(x.shape)
            shape[dim] = amount
            parts.append(full(shape, value, dtype=x.dtype, device=x.device))
    return cat(parts, dim)


def _sources(mode, x, dim, before, after):
    """For each place of the padded dim, the index along `dim` it copies."""
    size = x.shape[dim]
    limit = size - 1 if mode == "reflect" else size
    if size == 0 or (mode != "replicate" and max(before, after) > limit):
        raise ValueError(f"pad: {mode} padding of ({before}, {after}) must be at most "
                         f"{limit} for dim {dim} of size {size} (input shape "
                         f"{tuple(x.shape)})")
    places = range(-before, size + after)
    if mode == "reflect":
        index = [-j if j < 0 else 2 * (size - 1) - j if j >= size else j for j in places]
    elif mode == "replicate":
        index = [min(max(j, 0), size - 1) for j in places]
    else:
        index = [j % size for j in places]
    return tensor(index, dtype=dtypes.int64, device=x.device)
