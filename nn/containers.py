"""Sequential, ModuleList and ModuleDict; ParameterList and ParameterDict."""
import collections

from engine import Tensor

from .module import Module, _addindent
from .parameter import Parameter


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules kept under the keys "0", "1", ..."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def _key(self, index):
        n = len(self._modules)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range")
        return list(self._modules)[index % n]

    def _renumber(self, modules):
        self._modules.clear()
        for i, module in enumerate(modules):
            self.add_module(str(i), module)

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)
        return self

    def __setitem__(self, index, module):
        setattr(self, self._key(index), module)

    def __delitem__(self, index):
        keys = list(self._modules)[index] if isinstance(index, slice) else [self._key(index)]
        for key in keys:
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def pop(self, index):
        """Remove and return the module at `index` (or the container of a slice's)."""
        module = self[index]
        del self[index]
        return module

    def __iadd__(self, modules):
        return self.extend(modules)


class Sequential(_ModuleSequence):
    """Modules applied in order; indexable, sliceable, appendable."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], collections.OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, index):
        if isinstance(index, slice):  # keeps the original keys, as PyTorch does
            return Sequential(collections.OrderedDict(list(self._modules.items())[index]))
        return self._modules[self._key(index)]

    def __add__(self, other):
        """A new Sequential of this one's modules and then `other`'s (the same objects)."""
        return Sequential(*self, *_added(other))

    def __iadd__(self, other):
        return self.extend(_added(other))

    def __mul__(self, times):
        """A new Sequential running these modules `times` times over (the same objects,
        so their parameters are shared)."""
        return Sequential(*self._repeated(times))

    __rmul__ = __mul__

    def __imul__(self, times):
        return self.extend(self._repeated(times)[len(self):])

    def _repeated(self, times):
        if not isinstance(times, int) or isinstance(times, bool):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and "
                            f"{type(times)}")
        if times <= 0:
            raise ValueError(f"Non-positive multiplication factor {times} for {type(self)}")
        return list(self) * times


def _added(other):
    """The modules of a Sequential added to a Sequential (nothing else may be)."""
    if not isinstance(other, Sequential):
        raise ValueError(f"add operator supports only objects of Sequential class, but "
                         f"{type(other)} is given.")
    return list(other)


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters are registered."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ModuleList(list(self._modules.values())[index])
        return self._modules[self._key(index)]

    def __add__(self, other):
        """A new ModuleList of this one's modules and then `other`'s (the same objects)."""
        return ModuleList([*self, *other])

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList is a container; call its modules instead")

    def __repr__(self):
        """Runs of identical modules print once, as `(0-5): 6 x Block(...)`, as in PyTorch."""
        texts = [repr(m) for m in self]
        if not texts:
            return self._get_name() + "()"
        runs = []  # [first index, last index, text]
        for i, text in enumerate(texts):
            if runs and runs[-1][2] == text:
                runs[-1][1] = i
            else:
                runs.append([i, i, text])
        lines = [_addindent(f"({a}): {text}" if a == b else f"({a}-{b}): {b - a + 1} x {text}", 2)
                 for a, b, text in runs]
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules whose parameters are registered, in insertion order."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self[key] = module

    def pop(self, key):
        return self._modules.pop(key)

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleDict is a container; call its modules instead")


def _as_parameter(value):
    """Tensors become Parameters, as PyTorch's parameter containers make them."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _legacy_typename(t):
    """`torch.FloatTensor`, `torch.cuda.LongTensor`, ...: the names ParameterDict prints."""
    kind = {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int",
            "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
    device = ".cuda" if t.device.type == "cuda" else ""
    return f"torch{device}.{kind[str(t.dtype).split('.')[-1]]}Tensor"


def _parameter_line(key, p, type_text, suffix=""):
    size = "x".join(str(n) for n in p.shape)
    kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
    return f"  ({key}): {kind} containing: [{type_text} of size {size}{suffix}]"


class ParameterList(Module):
    """A list of parameters, registered under "0", "1", ... (plain tensors become
    Parameters)."""

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index):
        if isinstance(index, slice):
            return ParameterList([self[i] for i in range(len(self))[index]])
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range")
        return getattr(self, str(index % len(self)))

    def __setitem__(self, index, value):
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range")
        setattr(self, str(index % len(self)), _as_parameter(value))

    def append(self, value):
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        for value in values:
            self.append(value)
        return self

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList is a container; use its parameters instead")

    def extra_repr(self):
        return "\n".join(_parameter_line(i, p, p.dtype,
                                         f" ({p.device})" if p.device.type == "cuda" else "")
                         for i, p in enumerate(self))


class ParameterDict(Module):
    """A dict of parameters, registered under their keys, in insertion order."""

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return getattr(self, key)

    def __setitem__(self, key, value):
        self._keys[key] = None
        setattr(self, key, _as_parameter(value))

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        return self._keys.keys()

    def values(self):
        return [self[k] for k in self._keys]

    def items(self):
        return [(k, self[k]) for k in self._keys]

    def update(self, parameters):
        items = parameters.items() if hasattr(parameters, "items") else parameters
        for key, value in items:
            self[key] = value

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterDict is a container; use its parameters instead")

    def extra_repr(self):
        return "\n".join(_parameter_line(k, p, _legacy_typename(p)) for k, p in self.items())
