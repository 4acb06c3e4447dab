"""weight_norm and spectral_norm (PyTorch's hook-based API): a parameter recomputed from
others before every forward.

weight_norm splits a weight into a direction v and a magnitude g, w = g v / ||v||, so that
the optimizer moves the two separately (Salimans & Kingma, 2016). spectral_norm divides a
weight by its largest singular value, estimated by power iteration on two buffers u and v
that one step refines at each training forward (Miyato et al., 2018). Both keep PyTorch's
parameter and buffer names, so state dicts carry over.
"""
import engine

from .. import functional as F
from ..parameter import Parameter


def _norm_except_dim(v, dim):
    """||v|| over every dimension but `dim` (all of them for dim=None), kept for
    broadcasting."""
    if dim is None:
        return v.norm()
    dims = [d for d in range(v.dim()) if d != v._dim_index(dim)]
    return v.norm(2, dims, keepdim=True) if dims else v.abs()


class _WeightNorm:
    def __init__(self, name, dim):
        self.name, self.dim = name, dim

    def compute(self, module):
        g, v = getattr(module, self.name + "_g"), getattr(module, self.name + "_v")
        return v * (g / _norm_except_dim(v, self.dim))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module))


def weight_norm(module, name="weight", dim=0):
    """Replace module.<name> by <name>_g and <name>_v; returns the module. dim=None
    normalises over the whole tensor."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _WeightNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                               f"{name}")
    if dim == -1:
        dim = None
    rule = _WeightNorm(name, dim)
    weight = getattr(module, name)
    del module._parameters[name]
    module.register_parameter(name + "_g", Parameter(_norm_except_dim(weight, dim).detach()))
    module.register_parameter(name + "_v", Parameter(weight.detach()))
    setattr(module, name, rule.compute(module))
    module.register_forward_pre_hook(rule)
    return module


def remove_weight_norm(module, name="weight"):
    """Put back an ordinary parameter holding the current weight."""
    return _remove(module, name, _WeightNorm, "weight_norm", (name + "_g", name + "_v"))


class _SpectralNorm:
    def __init__(self, name, n_power_iterations, dim, eps):
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.n_power_iterations, self.dim, self.eps = \
            name, n_power_iterations, dim, eps

    def matrix(self, weight):
        if self.dim != 0:
            order = [self.dim] + [d for d in range(weight.dim()) if d != self.dim]
            weight = weight.permute(*order)
        return weight.reshape(weight.shape[0], -1)

    def compute(self, module, power_iteration):
        weight = getattr(module, self.name + "_orig")
        u, v = getattr(module, self.name + "_u"), getattr(module, self.name + "_v")
        matrix = self.matrix(weight)
        if power_iteration:
            with engine.no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(F.normalize(matrix.t().mv(u), dim=0, eps=self.eps))
                    u.copy_(F.normalize(matrix.mv(v), dim=0, eps=self.eps))
            u, v = u.clone(), v.clone()  # what backward saves is not what the next step writes
        sigma = u.dot(matrix.mv(v))
        return weight / sigma

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide module.<name> by its spectral norm before every forward; returns the
    module. dim is the output dimension (1 for transposed convolutions, else 0)."""
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _SpectralNorm) and hook.name == name:
            raise RuntimeError(f"Cannot register two spectral_norm hooks on the same "
                               f"parameter {name}")
    if dim is None:
        dim = 1 if isinstance(module, (engine.nn.ConvTranspose1d,
                                       engine.nn.ConvTranspose2d)) else 0
    rule = _SpectralNorm(name, n_power_iterations, dim, eps)
    weight = module._parameters[name]
    with engine.no_grad():
        matrix = rule.matrix(weight)
        h, w = matrix.shape
        u = F.normalize(weight.new_empty(h).normal_(0, 1), dim=0, eps=eps)
        v = F.normalize(weight.new_empty(w).normal_(0, 1), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    setattr(module, name, weight.detach())
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    module.register_forward_pre_hook(rule)
    return module


def remove_spectral_norm(module, name="weight"):
    return _remove(module, name, _SpectralNorm, "spectral_norm",
                   (name + "_orig", name + "_u", name + "_v"))


def _remove(module, name, kind, what, parts):
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, kind) and hook.name == name:
            weight = hook.compute(module, False) if kind is _SpectralNorm \
                else hook.compute(module)
            del module._forward_pre_hooks[key]
            for part in parts:
                module._parameters.pop(part, None)
                module._buffers.pop(part, None)
            module.__dict__.pop(name, None)
            module.register_parameter(name, Parameter(weight.detach()))
            return module
    raise ValueError(f"{what} of '{name}' not found in {module}")
