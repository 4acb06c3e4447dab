"""Running sums: `cumsum`, whose gradient is the running sum taken from the other end."""
from .. import dtypes
from .reorder import flip
from .primitive import Primitive as P
from .registry import public

_cumsum = P("CumsumBackward0", lambda K, x, *, dim: K.cumsum(x, dim),
            x=lambda g, dim: flip(_cumsum(flip(g, dim), dim=dim), dim))


@public(method=True, out=True)
def cumsum(input, dim, *, dtype=None):
    """out[i] = input[0] + ... + input[i] along `dim`. Integers and bools sum as int64,
    as in PyTorch, unless `dtype` says otherwise."""
    d = input._dim_index(dim)
    if dtype is None and not input.dtype.is_floating_point:
        dtype = dtypes.int64
    x = input.to(dtype) if dtype is not None and dtype is not input.dtype else input
    if x.dim() == 0:
        return _cumsum(x.reshape(1), dim=0).reshape(())
    return _cumsum(x, dim=d)
