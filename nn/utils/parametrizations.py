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
