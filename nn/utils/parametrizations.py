"""`torch.nn.utils.parametrizations`: ready-made parametrizations (weight norm, spectral
norm)."""
import engine

from .. import functional as F
from ..module import Module
from .parametrize import register_parametrization


def _norm_except_dim(v, dim):
    """The 2-norm of v over every dimension but `dim` (all of them for dim=None)."""
    if dim is None:
        return v.norm()
    d = dim % v.dim()
    others = tuple(i for i in range(v.dim()) if i != d)
    return (v * v).sum(others, keepdim=True).sqrt()


class _WeightNorm(Module):
    """weight = g * v / ||v||, the norm taken over every dimension but `dim`."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / _norm_except_dim(weight_v, None if self.dim == -1
                                                         and weight_v.dim() == 0 else self.dim))

    def right_inverse(self, weight):
        return _norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Reparametrize module.<name> as magnitude times direction: `original0` holds g,
    `original1` holds v, in module.parametrizations.<name>."""
    return register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    """weight / sigma, sigma the largest singular value of the weight seen as a matrix
    (dimension `dim` first), estimated by power iteration on the buffers u and v: 15
    iterations when made, n_power_iterations per forward in training mode."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.dim()
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        if not -ndim <= dim < max(ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-ndim}, {ndim - 1}], but got {dim})")
        self.dim = dim % ndim if ndim else 0
        self.eps, self.n_power_iterations = eps, n_power_iterations
        if ndim > 1:
            matrix = self._matrix(weight)
            h, w = matrix.shape
            with engine.no_grad():
                u = F.normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=eps)
                v = F.normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=eps)
            self.register_buffer("_u", u)
            self.register_buffer("_v", v)
            self._power_method(matrix, 15)

    def _matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.dim())
                                                 if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, matrix, n):
        with engine.no_grad():
            for _ in range(n):
                self._u.copy_(F.normalize(matrix.mv(self._v), dim=0, eps=self.eps))
                self._v.copy_(F.normalize(matrix.t().mv(self._u), dim=0, eps=self.eps))

    def forward(self, weight):
        if weight.dim() == 1:
            return F.normalize(weight, dim=0, eps=self.eps)
        matrix = self._matrix(weight)
        if self.training:
            self._power_method(matrix, self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()  # backward saves these, not the buffers
        return weight / u.dot(matrix.mv(v))

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Reparametrize module.<name> as itself over its spectral norm; returns the module.
    dim is the output dimension (1 for transposed convolutions, else 0)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, engine.Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if isinstance(module, (engine.nn.ConvTranspose1d,
                                       engine.nn.ConvTranspose2d)) else 0
    register_parametrization(module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
    return module


_MAPS = ("matrix_exp", "cayley", "householder")


class _Orthogonal(Module):
    """Q orthogonal (orthonormal columns or rows) from an unconstrained X, by one of three
    maps: the matrix exponential or the Cayley transform of X's skew-symmetric part, or
    the product of the Householder reflectors X's lower triangle holds. With
    use_trivialization, Q is `base @ map(X)`: base is the orthogonal matrix last assigned
    and X starts at the point that maps to the identity, so steps move away from base."""

    def __init__(self, weight, orthogonal_map, use_trivialization):
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, X):
        n, k = X.shape[-2], X.shape[-1]
        transposed = n < k
        if transposed:
            X, (n, k) = X.mT, (k, n)
        if self.orthogonal_map == "householder":
            A = X.tril(-1)
            tau = 2.0 / (1.0 + (A * A).sum(-2))
            # X's diagonal holds the reflections' signs (+-1), not differentiated
            signs = X.diagonal(dim1=-2, dim2=-1).detach().int().to(X.dtype)
            Q = engine.linalg.householder_product(A, tau) * signs.unsqueeze(-2)
        else:
            X = X.tril()
            if n != k:  # embedded in a square matrix, zeros to the right
                X = engine.cat([X, X.new_zeros(*X.shape[:-1], n - k)], -1)
            A = X - X.mT  # skew-symmetric, so its map is orthogonal
            if self.orthogonal_map == "matrix_exp":
                Q = engine.matrix_exp(A)
            else:  # Cayley: (I - A/2)^-1 (I + A/2)
                identity = engine.eye(n, dtype=A.dtype, device=A.device)
                Q = engine.linalg.solve(identity - A / 2, identity + A / 2)
            Q = Q[..., :k]
        if hasattr(self, "base"):
            Q = self.base @ Q
        return Q.mT if transposed else Q

    def right_inverse(self, Q):
        """The X whose forward gives Q: with a base, Q (made orthogonal if it is not)
        becomes the base and X the point that maps to the identity; without one, Q's
        Householder reflectors (the exponential and Cayley maps have no inverse here)."""
        if tuple(Q.shape) != self.shape:
            raise ValueError(f"Expected a matrix or batch of matrices of shape {self.shape}. "
                             f"Got a tensor of shape {tuple(Q.shape)}.")
        with engine.no_grad():
            start = Q
            n, k = Q.shape[-2], Q.shape[-1]
            transposed = n < k
            if transposed:
                Q, (n, k) = Q.mT, (k, n)
            if not hasattr(self, "base"):
                if self.orthogonal_map != "householder":
                    raise NotImplementedError(
                        "It is not possible to assign to the matrix exponential or the Cayley "
                        "parametrizations when use_trivialization=False.")
                A, tau = engine.geqrf(Q)
                # the diagonal keeps the reflections' signs; where tau is 0, the reflector
                # was not applied and the sign flips
                signs = A.diagonal(dim1=-2, dim2=-1).sign() * engine.where(tau == 0, -1.0, 1.0)
                on_diagonal = engine.eye(n, k, dtype=A.dtype, device=A.device)
                A = engine.where(on_diagonal.bool(), on_diagonal * signs.unsqueeze(-2), A)
                return A.mT if transposed else A
            if n == k and _is_orthogonal(Q):
                Q = Q.clone()
            else:
                if n != k:  # complete the columns to a square matrix at random
                    extra = engine.randn(*Q.shape[:-2], n, n - k, dtype=Q.dtype,
                                         device=Q.device)
                    Q = engine.cat([Q, extra], -1)
                Q = _orthogonalized(Q)
            self.base = Q
            # -I (n x k): the point every map sends to the identity
            return -engine.eye(*start.shape[-2:], dtype=start.dtype,
                               device=start.device).expand(start.shape).clone()


def _is_orthogonal(Q):
    n, k = Q.shape[-2], Q.shape[-1]
    eps = 10.0 * n * engine.finfo(Q.dtype).eps
    return engine.allclose(Q.mT @ Q, engine.eye(k, dtype=Q.dtype, device=Q.device), atol=eps)


def _orthogonalized(A):
    """Q of A's QR, its columns' signs set so that R's diagonal is positive."""
    Q, R = engine.linalg.qr(A)
    return Q * R.diagonal(dim1=-2, dim2=-1).sign().unsqueeze(-2)


def orthogonal(module, name="weight", orthogonal_map=None, *, use_trivialization=True):
    """Constrain module.<name> (a matrix or a batch of them) to be orthogonal; returns the
    module. orthogonal_map: "matrix_exp" (the default for square matrices), "cayley" or
    "householder" (the default otherwise)."""
    weight = getattr(module, name, None)
    if not isinstance(weight, engine.Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if weight.dim() < 2:
        raise ValueError(f"Expected a matrix or batch of matrices. Got a tensor of "
                         f"{weight.dim()} dimensions.")
    if orthogonal_map is None:
        orthogonal_map = "matrix_exp" if weight.shape[-2] == weight.shape[-1] else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError(f'orthogonal_map has to be one of "matrix_exp", "cayley", '
                         f'"householder". Got: {orthogonal_map}')
    register_parametrization(module, name,
                             _Orthogonal(weight, orthogonal_map, use_trivialization),
                             unsafe=True)
    return module
