"""`torch.nn.utils.parametrize`: a parameter computed from others on every access.

`register_parametrization(module, "weight", P())` keeps the stored tensor as
`module.parametrizations.weight.original` and makes `module.weight` the result of
`P()(original)`, recomputed on each access (or once per `cached()` block), so that the
optimizer trains `original` through P. Assigning `module.weight = X` stores
`P.right_inverse(X)` where P has one. As in PyTorch, the module's class becomes a
subclass, `ParametrizedLinear` say, that holds one property per parametrized name.
"""
import contextlib

import engine

from ..containers import ModuleDict, ModuleList
from ..module import Module
from ..parameter import Parameter

_cache = {}
_caching = [0]


@contextlib.contextmanager
def cached():
    """Inside, each parametrized tensor is computed once and reused."""
    _caching[0] += 1
    try:
        yield
    finally:
        _caching[0] -= 1
        if not _caching[0]:
            _cache.clear()


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and what they start from:
    `original`, or `original0`, `original1`, ... where the first right_inverse returns
    several tensors (weight norm's magnitude and direction)."""

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        with engine.no_grad():
            value = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    try:
                        value = module.right_inverse(value)
                    except NotImplementedError:  # as PyTorch: the original is kept
                        pass
        self.is_tensor = isinstance(value, engine.Tensor)
        self.ntensors = 1 if self.is_tensor else len(value)
        requires_grad = original.requires_grad
        if self.is_tensor:
            if not unsafe and (value.shape != original.shape or value.dtype != original.dtype):
                raise ValueError(f"register_parametrization: right_inverse returned a tensor of "
                                 f"shape {tuple(value.shape)} and dtype {value.dtype}, but the "
                                 f"original has shape {tuple(original.shape)} and dtype "
                                 f"{original.dtype} (pass unsafe=True to allow it)")
            self.original = _stored(original, value, requires_grad)
        else:
            for i, part in enumerate(value):
                setattr(self, f"original{i}", _stored(None, part, requires_grad))

    def right_inverse(self, value):
        """Store value, through each parametrization's right_inverse, as the original."""
        with engine.no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
            parts = (value,) if self.is_tensor else tuple(value)
            names = ["original"] if self.is_tensor else [f"original{i}"
                                                         for i in range(self.ntensors)]
            for name, part in zip(names, parts):
                getattr(self, name).copy_(part)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for module in list(self)[1:]:
            x = module(x)
        return x


def _stored(original, value, requires_grad):
    """The original as a Parameter if it was one (the same object where its value did not
    change), else as the tensor it was."""
    if isinstance(original, Parameter) and value is original:
        return original
    value = value.detach().clone()
    return Parameter(value, requires_grad) if requires_grad or isinstance(
        original, Parameter) else value


def _property(name):
    def get(self):
        plist = self.parametrizations[name]
        if _caching[0]:
            key = (id(self), name)
            if key not in _cache:
                _cache[key] = plist()
            return _cache[key]
        return plist()

    def set_(self, value):
        self.parametrizations[name].right_inverse(value)

    return property(get, set_)


def is_parametrized(module, tensor_name=None):
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if not isinstance(parametrizations, ModuleDict):
        return False
    return tensor_name is None or tensor_name in parametrizations


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: the parametrization must be an nn.Module, "
                        f"got {type(parametrization).__name__}")
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            before = getattr(module, tensor_name)
            after = parametrization(before)
            if after.shape != before.shape or after.dtype != before.dtype:
                raise ValueError(f"register_parametrization: the parametrization changes the "
                                 f"shape or dtype of '{tensor_name}' from "
                                 f"{tuple(before.shape)}, {before.dtype} to "
                                 f"{tuple(after.shape)}, {after.dtype} (pass unsafe=True)")
        plist.append(parametrization)
        return module
    if tensor_name not in module._parameters and tensor_name not in module._buffers:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a "
                         f"parametrized element with name '{tensor_name}'")
    original = getattr(module, tensor_name)
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    delattr(module, tensor_name)
    if not is_parametrized(module):
        cls = module.__class__
        module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"_unparametrized": cls})
        module.parametrizations = ModuleDict()
    setattr(module.__class__, tensor_name, _property(tensor_name))
    module.parametrizations[tensor_name] = plist
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo register_parametrization: `tensor_name` becomes a plain parameter again,
    holding the parametrized value (leave_parametrized) or the original."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with engine.no_grad():
                value = getattr(module, tensor_name)
            original.data = value.detach().clone()
    else:
        if not leave_parametrized:
            raise ValueError("remove_parametrizations: leave_parametrized=False cannot be used "
                             "when the parametrization stores several tensors")
        with engine.no_grad():
            value = getattr(module, tensor_name).detach().clone()
        original = Parameter(value, plist.original0.requires_grad)
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not len(module.parametrizations):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__._unparametrized
    return module


def type_before_parametrizations(module):
    return getattr(module.__class__, "_unparametrized", module.__class__)
