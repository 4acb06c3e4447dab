"""`torch.nn.utils.parametrizations`: ready-made parametrizations (weight norm)."""
from .parametrize import register_parametrization
from ..module import Module


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
