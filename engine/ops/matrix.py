"""Matrix helpers built from indexing and products: diag, diagonal, trace, inner,
baddbmm and cdist. Their gradients come from the ops they are made of."""
from ..creation import arange, zeros
from .linalg import matmul
from .operands import broadcast_shapes
from .primitive import Primitive as P
from .shape import _as_view
from .registry import public
from ..amp import full_precision, lower_precision


def _diagonal_scatter(g, shape, offset, dim1, dim2):
    """Zeros of `shape` with g on the (dim1, dim2) diagonal `offset`: diagonal's
    gradient, as indexing's (an op, so it has a gradient and traces)."""
    from .indexing import _index_backward, _normalize

    rest = [d for d in range(len(shape)) if d not in (dim1, dim2)]
    order = rest + [dim1, dim2]
    steps = arange(g.shape[-1], device=g.device)
    index, _ = _normalize((Ellipsis, steps + max(-offset, 0), steps + max(offset, 0)),
                          g.device)
    out = _index_backward(g, index=index, shape=tuple(shape[d] for d in order),
                          dtype=g.dtype.numpy)
    return out.permute([order.index(d) for d in range(len(shape))])


_diagonal = P("DiagonalBackward0",
              lambda K, x, *, offset, dim1, dim2: K.diagonal(x, offset, dim1, dim2),
              x=lambda g, x_shape, offset, dim1, dim2:
                  _diagonal_scatter(g, x_shape, offset, dim1, dim2))


@public(method=True)
def diagonal(input, offset=0, dim1=0, dim2=1):
    """The elements (i, i + offset) of the (dim1, dim2) planes, as the last dim: a view,
    as in PyTorch (x.diagonal().fill_(1) writes x)."""
    d1, d2 = input._dim_index(dim1), input._dim_index(dim2)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return _as_view(_diagonal(input, offset=offset, dim1=d1, dim2=d2), input)


@public(method=True)
def diag(input, diagonal=0):
    """A 1-d input on the `diagonal` of a square matrix, or a 2-d input's diagonal."""
    if input.dim() == 2:
        return globals()["diagonal"](input, diagonal)
    if input.dim() != 1:
        raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D (shape "
                           f"{tuple(input.shape)})")
    n = input.shape[0] + abs(diagonal)
    steps = arange(input.shape[0], device=input.device)
    rows, cols = steps + max(-diagonal, 0), steps + max(diagonal, 0)
    flat = zeros(n * n, dtype=input.dtype, device=input.device)
    return flat.index_add(0, rows * n + cols, input).reshape(n, n)


@public(method=True)
@full_precision
def trace(input):
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    return diagonal(input).sum()


@public(method=True)
def kron(input, other):
    """The Kronecker product: block (i, j, ...) is input[i, j, ...] * other, over as many
    dims as the longer operand has (the shorter gains leading ones)."""
    n = max(input.dim(), other.dim())
    a = input.reshape((1,) * (n - input.dim()) + tuple(input.shape))
    b = other.reshape((1,) * (n - other.dim()) + tuple(other.shape))
    spread = a.reshape([m for s in a.shape for m in (s, 1)])  # each dim of a, then room
    tiles = b.reshape([m for s in b.shape for m in (1, s)])   # for one copy of b
    return (spread * tiles).reshape([s * t for s, t in zip(a.shape, b.shape)])


@public(method=True)
def inner(input, other):
    """Sum over the last dims of every pair: shape input.shape[:-1] + other.shape[:-1]."""
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    k = input.shape[-1]
    out = matmul(input.reshape(-1, k), other.reshape(-1, k).t())
    return out.reshape(tuple(input.shape[:-1]) + tuple(other.shape[:-1]))


@public(method=True)
@lower_precision
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """beta * input + alpha * (batch1 @ batch2), batch by batch."""
    product = matmul(batch1, batch2)
    product = product * alpha if alpha != 1 else product
    return product if beta == 0 else (input * beta if beta != 1 else input) + product


@public()
@full_precision
def cdist(x1, x2, p=2.0, compute_mode=None):
    """The p-norm distance between each row of x1 and each row of x2 (batched):
    (..., P, M) and (..., R, M) give (..., P, R)."""
    if x1.dim() < 2 or x2.dim() < 2 or x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"cdist: X1 and X2 must have the same number of columns, got "
                           f"shapes {tuple(x1.shape)} and {tuple(x2.shape)}")
    broadcast_shapes(tuple(x1.shape[:-2]), tuple(x2.shape[:-2]), op="cdist (batch dims)")
    return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).norm(p=p, dim=-1)
