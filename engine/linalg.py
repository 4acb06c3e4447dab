"""`torch.linalg`: inverses, solves, determinants, Cholesky and symmetric eigen-
decompositions with gradients, and the vector and matrix norms.

The factorisations are LAPACK's (numpy links it, as it links BLAS for GEMM); each
derivative is written in engine ops beside its forward, as every op's is, so second
derivatives come from the same formulas. Matrices are the last two dimensions; any
leading ones are a batch.
"""
import collections
import functools
import math

import numpy as np

from .creation import eye
from .ops import amax, amin, where
from .ops.linalg import matmul
from .ops.primitive import Primitive as P
from .ops.reduction import norm as _norm
from .tensor import Tensor

SlogdetResult = collections.namedtuple("slogdet", "sign logabsdet")
EighResult = collections.namedtuple("eigh", "eigenvalues eigenvectors")


def _mT(x):
    return x.transpose(-2, -1)


def _guarded(name, forward, why):
    """forward(K, ...) with LAPACK's error made PyTorch's: a RuntimeError naming the op.
    (wraps keeps forward's signature, from which the primitive reads its inputs.)"""
    @functools.wraps(forward)
    def run(K, *arrays, **attrs):
        try:
            return forward(K, *arrays, **attrs)
        except np.linalg.LinAlgError as e:
            raise RuntimeError(f"linalg.{name}: {why} ({e})") from None

    return run


_SINGULAR = "the input matrix is singular, so it has no inverse"

_inv = P("LinalgInvExBackward0", _guarded("inv", lambda K, a: K.inv(a), _SINGULAR),
         a=lambda g, out: -(_mT(out) @ g @ _mT(out)))
_solve = P("LinalgSolveExBackward0", _guarded("solve", lambda K, a, b: K.solve(a, b),
                                              _SINGULAR),
           a=lambda g, a, out: -(solve(_mT(a), g) @ _mT(out)),
           b=lambda g, a: solve(_mT(a), g))
_det = P("LinalgDetBackward0", lambda K, a: K.det(a),
         a=lambda g, a, out: (g * out).unsqueeze(-1).unsqueeze(-1) * _mT(inv(a)))


def _slogdet_forward(K, a):
    sign, logabs = K.slogdet(a)
    return logabs, {"sign": sign}


_logabsdet = P("LinalgSlogdetBackward0", _slogdet_forward,
               a=lambda g, a: g.unsqueeze(-1).unsqueeze(-1) * _mT(inv(a)))
_cholesky = P("LinalgCholeskyExBackward0",
              _guarded("cholesky", lambda K, a: K.cholesky(a),
                       "the input is not positive-definite"),
              a=lambda g, out: _cholesky_backward(g, out))
def _eigh_forward(K, a, *, upper, part):
    if upper:  # LAPACK is told to read the lower triangle: give it the upper one there
        a = K.permute(a, tuple(range(a.ndim - 2)) + (a.ndim - 1, a.ndim - 2))
    w, v = K.eigh(a)
    return (w, {"vectors": v}) if part == "values" else (v, {"values": w})


# One LAPACK call a part: values and vectors are two ops, each keeping the other part
# for its derivative.
_eigvalsh = P("LinalgEighBackward0", _eigh_forward, extras=("vectors",),
              a=lambda g, vectors: _symmetric(vectors @ (g.unsqueeze(-1) * _mT(vectors))))
_eigvecsh = P("LinalgEighBackward0", _eigh_forward, extras=("values",),
              a=lambda g, out, values: _eigh_vectors_backward(g, values, out))


def _square(name, a):
    if not isinstance(a, Tensor) or a.dim() < 2 or a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{name}: A must be batches of square matrices, but they "
                           f"are {' by '.join(map(str, a.shape[-2:]))} matrices"
                           if isinstance(a, Tensor) and a.dim() >= 2 else
                           f"linalg.{name}: the input must have at least 2 dimensions")
    if not a.dtype.is_floating_point:
        raise RuntimeError(f"linalg.{name}: Expected a floating point tensor as input. Got "
                           f"{a.dtype}")
    return a


# ---- the public functions ----------------------------------------------------------------

def inv(A):
    return _inv(_square("inv", A))


def solve(A, B, *, left=True):
    """X with A X = B (left=False: X A = B). B may be a vector (..., n) or matrices
    (..., n, k), as PyTorch decides it: a vector when B has one dimension fewer than A."""
    _square("solve", A)
    if not left:
        return _mT(solve(_mT(A), _mT(B)))
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and B.shape == A.shape[:-1])
    X = _solve(A, B.unsqueeze(-1) if vector else B)
    return X.squeeze(-1) if vector else X


def det(A):
    return _det(_square("det", A))


def slogdet(A):
    logabs, extras = _logabsdet(_square("slogdet", A))
    return SlogdetResult(Tensor._make(extras["sign"], A.device), logabs)


def cholesky(A, *, upper=False):
    L = _cholesky(_square("cholesky", A))
    return _mT(L) if upper else L


def eigh(A, UPLO="L"):
    """Ascending eigenvalues and orthonormal eigenvectors (columns) of symmetric A, read
    from its UPLO triangle."""
    upper = _upper(_square("eigh", A), UPLO)
    return EighResult(_eigvalsh(A, upper=upper, part="values")[0],
                      _eigvecsh(A, upper=upper, part="vectors")[0])


def eigvalsh(A, UPLO="L"):
    return _eigvalsh(A, upper=_upper(_square("eigvalsh", A), UPLO), part="values")[0]


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    return _norm(x, ord, dim, keepdim, dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """'fro' (the default), or inf, -inf, 1, -1 (the largest or smallest row or column
    sum of |A|). The spectral ones ('nuc', 2, -2) need an SVD, which is not here yet."""
    if dtype is not None:
        A = A.to(dtype)
    if ord == "fro":
        return _norm(A, 2, dim, keepdim)
    if ord in (math.inf, -math.inf, 1, -1):
        rows, cols = (A._dim_index(d) for d in dim)
        summed = A.abs().sum(cols if abs(ord) == math.inf else rows, keepdim=True)
        pick = amax if ord > 0 else amin
        out = pick(summed, dim=(rows, cols), keepdim=True)
        return out if keepdim else out.squeeze(max(rows, cols)).squeeze(min(rows, cols))
    raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} needs a singular value "
                              f"decomposition, which numbagrad does not have yet")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):
    """PyTorch's dispatch: a vector norm over one dim (or all of them when ord is None),
    a matrix norm over two."""
    if dim is None and ord is not None:
        dim = tuple(range(A.dim())) if A.dim() <= 2 else None
        if dim is None:
            raise RuntimeError("linalg.norm: input must be 1-D or 2-D when dim is None and "
                               "ord is not None")
    if isinstance(dim, int) or (dim is not None and len(dim) == 1) or \
            (dim is None and ord is None):
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)


# ---- derivatives that take more than a line ------------------------------------------

def _cholesky_backward(gL, L):
    """For A = L L^T: with P = tril(L^T gL), its diagonal halved, the gradient is
    L^-T P L^-1, symmetrised (A's two triangles are one variable)."""
    n = L.shape[-1]
    half = 1.0 - 0.5 * eye(n, dtype=L.dtype, device=L.device)
    P = (_mT(L) @ gL).tril() * half
    Linv = inv(L)
    gA = _mT(Linv) @ P @ Linv
    return 0.5 * (gA + _mT(gA))


def _eigh_vectors_backward(gV, w, V):
    """For A = V diag(w) V^T: V ((V^T gV) / (w_j - w_i)) V^T off the diagonal
    (distinct eigenvalues assumed, as PyTorch assumes them), symmetrised."""
    gap = w.unsqueeze(-2) - w.unsqueeze(-1)
    off = gap != 0
    inner = where(off, (_mT(V) @ gV) / where(off, gap, 1.0), 0.0)
    return _symmetric(V @ inner @ _mT(V))


def _symmetric(g):
    return 0.5 * (g + _mT(g))


def _upper(A, UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO == "U"


__all__ = ["inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "vector_norm",
           "matrix_norm", "norm", "matmul"]
