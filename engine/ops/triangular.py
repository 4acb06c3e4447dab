"""Triangles of matrices: `tril` and `triu`, over the last two dims of any batch.

The mask is a host array (np.tri), made once per call and moved to the tensor's
device; the kernels then only select. Each op's gradient is the same triangle of g.
"""
import numpy as np

from .primitive import Primitive as P
from .registry import public


def _triangle(K, x, diagonal, lower):
    rows, cols = x.shape[-2:]
    # np.tri(k) keeps j <= i + k: the lower triangle; its complement one below is triu.
    keep = np.tri(rows, cols, diagonal if lower else diagonal - 1, dtype=bool)
    return K.where(K.from_numpy(keep if lower else ~keep), x, K.full((), 0, x.dtype))


_tril = P("TrilBackward0", lambda K, x, *, diagonal: _triangle(K, x, diagonal, True),
          x=lambda g, diagonal: _tril(g, diagonal=diagonal))
_triu = P("TriuBackward0", lambda K, x, *, diagonal: _triangle(K, x, diagonal, False),
          x=lambda g, diagonal: _triu(g, diagonal=diagonal))


def _check(name, input, diagonal):
    if input.dim() < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions, got "
                           f"shape {tuple(input.shape)}")
    if not isinstance(diagonal, (int, np.integer)) or isinstance(diagonal, bool):
        raise TypeError(f"{name}(): argument 'diagonal' must be int, not "
                        f"{type(diagonal).__name__}")


@public(method=True, out=True, inplace="unary")
def tril(input, diagonal=0):
    """The lower triangle (j <= i + diagonal) of each matrix; the rest is zero."""
    _check("tril", input, diagonal)
    return _tril(input, diagonal=int(diagonal))


@public(method=True, out=True, inplace="unary")
def triu(input, diagonal=0):
    """The upper triangle (j >= i + diagonal) of each matrix; the rest is zero."""
    _check("triu", input, diagonal)
    return _triu(input, diagonal=int(diagonal))
