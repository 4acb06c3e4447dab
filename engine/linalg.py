"""`torch.linalg`: inverses, solves, determinants, Cholesky, QR, SVD and symmetric eigen-
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
from .amp import full_precision
from .autograd.grad_mode import no_grad as _no_grad

SlogdetResult = collections.namedtuple("slogdet", "sign logabsdet")
EighResult = collections.namedtuple("eigh", "eigenvalues eigenvectors")
SvdResult = collections.namedtuple("svd", "U S Vh")
QrResult = collections.namedtuple("qr", "Q R")
GeqrfResult = collections.namedtuple("geqrf", "a tau")


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


def _svd_forward(K, a, *, part):
    U, S, Vh = K.svd(a)
    parts = {"U": U, "S": S, "Vh": Vh}
    return parts.pop(part), parts


# As with eigh, one op a part, each keeping the other parts for its derivative.
_svd_U = P("LinalgSvdBackward0", _svd_forward, extras=("S", "Vh"),
           a=lambda g, out, S, Vh: _svd_backward(g, None, None, out, S, Vh))
_svd_S = P("LinalgSvdBackward0", _svd_forward, extras=("U", "Vh"),
           a=lambda g, out, U, Vh: _svd_backward(None, g, None, U, out, Vh))
_svd_Vh = P("LinalgSvdBackward0", _svd_forward, extras=("U", "S"),
            a=lambda g, out, U, S: _svd_backward(None, None, g, U, S, out))


def _qr_forward(K, a, *, part):
    Q, R = K.qr(a)
    return (Q, {"R": R}) if part == "Q" else (R, {"Q": Q})


_qr_Q = P("LinalgQrBackward0", _qr_forward, extras=("R",),
          a=lambda g, out, R: _qr_backward(g, None, out, R))
_qr_R = P("LinalgQrBackward0", _qr_forward, extras=("Q",),
          a=lambda g, out, Q: _qr_backward(None, g, Q, out))


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

@full_precision
def inv(A):
    return _inv(_square("inv", A))


@full_precision
def solve(A, B, *, left=True):
    """X with A X = B (left=False: X A = B). B may be a vector (..., n) or matrices
    (..., n, k), as PyTorch decides it: a vector when B has one dimension fewer than A."""
    _square("solve", A)
    if not left:
        return _mT(solve(_mT(A), _mT(B)))
    vector = B.dim() == 1 or (B.dim() == A.dim() - 1 and B.shape == A.shape[:-1])
    X = _solve(A, B.unsqueeze(-1) if vector else B)
    return X.squeeze(-1) if vector else X


@full_precision
def det(A):
    return _det(_square("det", A))


@full_precision
def slogdet(A):
    logabs, extras = _logabsdet(_square("slogdet", A))
    return SlogdetResult(Tensor._make(extras["sign"], A.device), logabs)


@full_precision
def cholesky(A, *, upper=False):
    L = _cholesky(_square("cholesky", A))
    return _mT(L) if upper else L


@full_precision
def eigh(A, UPLO="L"):
    """Ascending eigenvalues and orthonormal eigenvectors (columns) of symmetric A, read
    from its UPLO triangle."""
    upper = _upper(_square("eigh", A), UPLO)
    return EighResult(_eigvalsh(A, upper=upper, part="values")[0],
                      _eigvecsh(A, upper=upper, part="vectors")[0])


@full_precision
def eigvalsh(A, UPLO="L"):
    return _eigvalsh(A, upper=_upper(_square("eigvalsh", A), UPLO), part="values")[0]


def _matrices(name, A):
    if not isinstance(A, Tensor) or A.dim() < 2:
        raise RuntimeError(f"linalg.{name}: the input must have at least 2 dimensions")
    if not A.dtype.is_floating_point:
        raise RuntimeError(f"linalg.{name}: Expected a floating point tensor as input. Got "
                           f"{A.dtype}")
    return A


@full_precision
def svd(A, full_matrices=True, *, driver=None):
    """U, S, Vh with A = U diag(S) Vh, singular values descending. Only the reduced
    factorisation (full_matrices=False) is computed; PyTorch's default, full matrices,
    is refused rather than silently reduced."""
    _matrices("svd", A)
    if full_matrices and A.shape[-1] != A.shape[-2]:
        raise NotImplementedError("linalg.svd: full_matrices=True (the complete U or Vh of "
                                  "a non-square matrix) is not supported; pass "
                                  "full_matrices=False")
    if driver is not None:
        raise ValueError("linalg.svd: driver is a CUDA (cuSOLVER) option; pass None")
    return SvdResult(*(op(A, part=part)[0] for op, part in
                       ((_svd_U, "U"), (_svd_S, "S"), (_svd_Vh, "Vh"))))


@full_precision
def svdvals(A, *, driver=None):
    if driver is not None:
        raise ValueError("linalg.svdvals: driver is a CUDA (cuSOLVER) option; pass None")
    return _svd_S(_matrices("svdvals", A), part="S")[0]


@full_precision
def qr(A, mode="reduced"):
    """Q with orthonormal columns and upper-triangular R, A = Q R (mode 'reduced', or
    'r' for R alone; 'complete' is refused)."""
    _matrices("qr", A)
    if mode not in ("reduced", "r", "complete"):
        raise RuntimeError(f"linalg.qr: qr received unrecognized mode '{mode}' but expected "
                           f"one of 'reduced' (default), 'r', or 'complete'")
    if mode == "complete" and A.shape[-2] > A.shape[-1]:
        raise NotImplementedError("linalg.qr: mode='complete' for tall matrices is not "
                                  "supported; use 'reduced'")
    R = _qr_R(A, part="R")[0]
    if mode == "r":
        return QrResult(Tensor._make(A._backend.full((0,), 0, A._data.dtype), A.device), R)
    return QrResult(_qr_Q(A, part="Q")[0], R)


def matrix_exp(A):
    """exp(A) of square matrices by scaling and squaring: A / 2^s has norm at most 1/2,
    where a degree-18 Taylor series (Horner's form) is exact to double precision, and
    squaring s times undoes the scaling. Engine ops throughout, so the gradient is the
    series' own, to any order."""
    _square("matrix_exp", A)
    n = A.shape[-1]
    if A.numel() == 0:
        return A.clone()
    with _no_grad():
        size = float(A.abs().sum(-1).amax())  # the largest row sum bounds the norm
    squarings = max(0, math.ceil(math.log2(size)) + 1) if size > 0 else 0
    X = A / 2.0 ** squarings
    identity = eye(n, dtype=A.dtype, device=A.device)
    E = identity
    for k in range(18, 0, -1):  # I + X/1 (I + X/2 (I + ... (I + X/18)))
        E = identity + matmul(X, E) / k
    for _ in range(squarings):
        E = matmul(E, E)
    return E


def householder_product(A, tau):
    """The first n columns of H_1 H_2 ... H_k, H_i = I - tau_i v_i v_i^T, where v_i is
    column i of A below its diagonal with a 1 on it (LAPACK's reflectors, as geqrf
    leaves them). Applied to the identity's columns from the last reflector back."""
    m, n = A.shape[-2], A.shape[-1]
    k = tau.shape[-1]
    if m < n or k > n:
        raise RuntimeError(f"linalg.householder_product: expected input of shape (..., m, n) "
                           f"with m >= n and tau (..., k) with k <= n, got {tuple(A.shape)} "
                           f"and {tuple(tau.shape)}")
    reflectors = A.tril(-1) + eye(m, n, dtype=A.dtype, device=A.device)
    Q = eye(m, n, dtype=A.dtype, device=A.device).expand(*A.shape[:-2], m, n)
    for i in reversed(range(k)):
        v = reflectors[..., :, i:i + 1]
        Q = Q - tau[..., i:i + 1].unsqueeze(-1) * matmul(v, matmul(_mT(v), Q))
    return Q


def geqrf(A):
    """LAPACK's QR in its packed form: (a, tau), R on and above a's diagonal and the
    reflectors below it (householder_product(a, tau) gives Q). No gradient, as in
    PyTorch."""
    _matrices("geqrf", A)
    array = A.detach().cpu().numpy()
    flat = array.reshape(-1, *array.shape[-2:])
    packed, taus = [], []
    for matrix in flat:
        h, tau = np.linalg.qr(matrix, mode="raw")  # h is the packed matrix, transposed
        packed.append(h.T)
        taus.append(tau)
    a = np.stack(packed).reshape(array.shape).astype(array.dtype)
    tau = np.stack(taus).reshape(array.shape[:-2] + (min(array.shape[-2:]),))
    return GeqrfResult(Tensor._make(a).to(A.device),
                       Tensor._make(tau.astype(array.dtype)).to(A.device))


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):
    return _norm(x, ord, dim, keepdim, dtype)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):
    """'fro' (the default); inf, -inf, 1, -1 (the largest or smallest row or column
    sum of |A|); 'nuc', 2, -2 (the sum, largest or smallest of the singular values)."""
    if dtype is not None:
        A = A.to(dtype)
    if ord == "fro":
        return _norm(A, 2, dim, keepdim)
    if ord in ("nuc", 2, -2):
        rows, cols = (A._dim_index(d) for d in dim)
        rest = [d for d in range(A.dim()) if d not in (rows, cols)]
        S = svdvals(A.permute(*rest, rows, cols))
        out = S.sum(-1) if ord == "nuc" else (S.amax(-1) if ord == 2 else S.amin(-1))
        if keepdim:
            out = out.unsqueeze(min(rows, cols)).unsqueeze(max(rows, cols))
        return out
    if ord in (math.inf, -math.inf, 1, -1):
        rows, cols = (A._dim_index(d) for d in dim)
        summed = A.abs().sum(cols if abs(ord) == math.inf else rows, keepdim=True)
        pick = amax if ord > 0 else amin
        out = pick(summed, dim=(rows, cols), keepdim=True)
        return out if keepdim else out.squeeze(max(rows, cols)).squeeze(min(rows, cols))
    raise RuntimeError(f"linalg.matrix_norm: Order {ord!r} not supported.")


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


def _svd_backward(gU, gS, gVh, U, S, Vh):
    """For A = U diag(S) Vh (reduced, distinct nonzero singular values assumed, as
    PyTorch assumes them), with F_ij = 1 / (s_j^2 - s_i^2) off the diagonal:
    gA = U [diag(gS) + (F o (U^T gU - gU^T U)) S + S (F o (V^T gV - gV^T V))] Vh
         + (I - U U^T) gU S^-1 Vh + U S^-1 gV^T (I - V V^T)."""
    k = S.shape[-1]
    s2 = S * S
    gap = s2.unsqueeze(-2) - s2.unsqueeze(-1)
    off = gap != 0
    F = where(off, 1.0 / where(off, gap, 1.0), 0.0)
    inner = (gS.unsqueeze(-1) * eye(k, dtype=S.dtype, device=S.device)
             if gS is not None else 0.0)
    gA = 0.0
    if gU is not None:
        UtgU = _mT(U) @ gU
        inner = inner + (F * (UtgU - _mT(UtgU))) * S.unsqueeze(-2)
        if U.shape[-2] > k:
            gA = gA + ((gU - U @ UtgU) / S.unsqueeze(-2)) @ Vh
    if gVh is not None:
        V, gV = _mT(Vh), _mT(gVh)
        VtgV = _mT(V) @ gV
        inner = inner + S.unsqueeze(-1) * (F * (VtgV - _mT(VtgV)))
        if V.shape[-2] > k:
            gA = gA + U @ _mT((gV - V @ VtgV) / S.unsqueeze(-2))
    return gA + U @ inner @ Vh


def _qr_backward(gQ, gR, Q, R):
    """For A = Q R with A m x n, m >= n (PyTorch's case for reduced QR): with
    M = R gR^T - gQ^T Q, gA = (gQ + Q copyltu(M)) R^-T, copyltu(M) the symmetric
    matrix whose lower triangle is M's."""
    if Q.shape[-2] < R.shape[-1]:
        raise RuntimeError("linalg.qr: the derivative of the QR decomposition of a wide "
                           "matrix (more columns than rows) is not implemented")
    gQ = gQ if gQ is not None else 0.0 * Q
    M = (R @ _mT(gR) if gR is not None else 0.0 * R @ _mT(R)) - _mT(gQ) @ Q
    lower = M.tril(-1)
    diagonal = M * eye(M.shape[-1], dtype=M.dtype, device=M.device)
    b = gQ + Q @ (lower + _mT(lower) + diagonal)
    return _mT(solve(R, _mT(b)))


def _symmetric(g):
    return 0.5 * (g + _mT(g))


def _upper(A, UPLO):
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    return UPLO == "U"


def logdet(A):
    """log(det(A)): NaN where the determinant is negative, -inf where it is zero."""
    sign, logabsdet = slogdet(A)
    return where(sign < 0, math.nan, logabsdet)


inverse = inv

# PyTorch's Tensor methods for these (torch.det and the others are engine.det, ...)
for _name, _fn in (("det", det), ("slogdet", slogdet), ("logdet", logdet), ("inverse", inv),
                   ("matrix_exp", matrix_exp)):
    setattr(Tensor, _name, _fn)

__all__ = ["inv", "solve", "det", "slogdet", "cholesky", "eigh", "eigvalsh", "vector_norm",
           "matrix_norm", "norm", "matmul", "matrix_exp", "householder_product"]
