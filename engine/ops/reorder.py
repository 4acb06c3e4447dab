"""Reordering along dims: `flip` and `roll`. Each is a gather along one dim at a time by
an index made on the host, and each one's gradient is the reverse reordering of g."""
import numpy as np

from .primitive import Primitive as P
from .registry import public


def _along(K, x, dim, order):
    """x with its elements along `dim` taken in `order` (a host int64 array)."""
    return K.getitem(x, (slice(None),) * dim + (K.from_numpy(order),))


def _flip_forward(K, x, *, dims):
    for d in dims:
        x = _along(K, x, d, np.arange(x.shape[d] - 1, -1, -1, dtype=np.int64))
    return x if dims else K.copy(x)


def _roll_forward(K, x, *, shifts, dims):
    for shift, d in zip(shifts, dims):
        x = _along(K, x, d, (np.arange(x.shape[d], dtype=np.int64) - shift) % max(x.shape[d],
                                                                                    1))
    return x


_flip = P("FlipBackward0", _flip_forward,
          x=lambda g, dims: _flip(g, dims=dims))
_roll = P("RollBackward0", _roll_forward,
          x=lambda g, shifts, dims: _roll(g, shifts=tuple(-s for s in shifts), dims=dims))


def _dims(input, dims):
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    found = tuple(input._dim_index(d) for d in dims)
    if len(set(found)) != len(found):
        raise RuntimeError(f"dims {dims} name a dim more than once (shape "
                           f"{tuple(input.shape)})")
    return found


@public(method=True)
def flip(input, *dims):
    """The elements in reverse order along each of `dims` (a copy, as in PyTorch); dims
    come as one list or, as for the method, one by one."""
    if len(dims) == 1 and not isinstance(dims[0], int):
        dims = dims[0]
    return _flip(input, dims=_dims(input, dims))


@public(method=True)
def rot90(input, k=1, dims=(0, 1)):
    """Each plane of `dims` turned by k quarter turns, from the first dim toward the
    second: flips and a transpose."""
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.dim() < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.dim()}")
    first, second = (input._dim_index(d) for d in dims)
    if first == second:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {first} "
                           f"and dim1 = {second}")
    k %= 4
    if k == 1:
        return flip(input, second).transpose(first, second)
    if k == 2:
        return flip(input, (first, second))
    if k == 3:
        return flip(input, first).transpose(first, second)
    return input.clone()


@public(method=True)
def roll(input, shifts, dims=None):
    """Elements shifted by `shifts` along `dims`, those pushed off one end coming back in
    at the other; with no dims, over the flattened tensor."""
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: without dims, shifts must be one number, got "
                               f"{shifts}")
        return _roll(input.flatten(), shifts=shifts, dims=(0,)).view(input.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims: {len(dims)}")
    return _roll(input, shifts=shifts, dims=tuple(input._dim_index(d) for d in dims))
