"""Products along a dim: prod and cumprod, as log-depth compositions of multiplies.

prod multiplies the halves of the dim together until one slice is left; cumprod is a
Hillis-Steele scan (each step multiplies in the partial product from 2^k places back).
Both are only multiplies, slices and cats, so the chain rule gives the exact gradient,
zeros included (the product of the other elements), where a division by x would not.
"""
from .. import dtypes
from .shape import cat
from .registry import public
from ..amp import full_precision


def _int64_unless(input, dtype):
    if dtype is not None:
        return input.to(dtype)
    return input if input.dtype.is_floating_point else input.to(dtypes.int64)


def _prod_along(x, d):
    """The product over dim d, kept as a dim of size 1."""
    if x.shape[d] == 0:  # the empty product, 1, still joined to the graph
        return x.sum(d, keepdim=True) * 0 + 1
    while x.shape[d] > 1:
        half = x.shape[d] // 2
        pairs = x.narrow(d, 0, half) * x.narrow(d, half, half)
        x = cat([pairs, x.narrow(d, 2 * half, 1)], d) if x.shape[d] % 2 else pairs
    return x


@public(method=True)
@full_precision
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """The product of all elements, or over `dim` (ints and bools multiply as int64)."""
    x = _int64_unless(input, dtype)
    if dim is None:
        return _prod_along(x.reshape(-1), 0).reshape(())
    d = x._dim_index(dim)
    if x.dim() == 0:
        return x.clone()
    out = _prod_along(x, d)
    return out if keepdim else out.squeeze(d)


@public(method=True)
def cumprod(input, dim, *, dtype=None):
    """out[i] = input[0] * ... * input[i] along `dim`."""
    x = _int64_unless(input, dtype)
    if x.dim() == 0:
        return x.clone()
    d = x._dim_index(dim)
    n, step = x.shape[d], 1
    while step < n:
        x = cat([x.narrow(d, 0, step), x.narrow(d, step, n - step) * x.narrow(d, 0, n - step)],
                d)
        step *= 2
    return x
