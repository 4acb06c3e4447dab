"""Matrix products through BLAS (numpy links OpenBLAS): no hand-written GEMM beats it."""
import numpy as np

from . import fused
from .quiet import call_quietly


def matmul(a, b, out=None, bias=None, epilogue=None):
    """numpy's matmul: batched, broadcasting over leading dimensions; inf and NaN
    propagate without numpy's warnings, as in PyTorch. `bias` (F.linear's, broadcast
    to the product) is added to the product in place, then `epilogue` (the steps of a
    fused program of one input) applied in place: BLAS itself takes neither."""
    product = call_quietly(np.matmul, a, b, out=out)
    if bias is not None:
        call_quietly(np.add, product, bias, out=product)
    if epilogue is not None:
        call_quietly(fused.kernel(epilogue, 1, product.dtype), product, out=product)
    return product


# ---- factorisations and solves: LAPACK through numpy, batched over leading dims --------
# Each raises numpy.linalg.LinAlgError for a singular or indefinite matrix; the ops
# turn that into PyTorch's error.

def inv(a):
    return np.linalg.inv(a)


def solve(a, b):
    """X with a @ X = b, for b of shape (..., n, k)."""
    return np.linalg.solve(a, b)


def det(a):
    return np.linalg.det(a)


def slogdet(a):
    """(sign, log|det|)."""
    sign, logabs = np.linalg.slogdet(a)
    return sign.astype(a.dtype), logabs.astype(a.dtype)


def cholesky(a):
    """The lower-triangular L with a = L L^T."""
    return np.linalg.cholesky(a)


def eigh(a):
    """(ascending eigenvalues, eigenvectors as columns) of the symmetric matrices a,
    read from their lower triangles."""
    w, v = np.linalg.eigh(a, UPLO="L")
    return w, v


def svd(a):
    """(U, S, Vh) of the reduced SVD a = U diag(S) Vh, singular values descending."""
    u, s, vh = np.linalg.svd(a, full_matrices=False)
    return u, s, vh


def qr(a):
    """(Q, R) of the reduced QR decomposition a = Q R."""
    q, r = np.linalg.qr(a, mode="reduced")
    return q, r
