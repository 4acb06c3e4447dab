"""`Module`: parameters, buffers and submodules registered by attribute assignment, with
PyTorch's traversal order, state dicts, train/eval, device and dtype moves, hooks and repr."""
import collections
import itertools

import engine
from engine import Tensor, tracing
from engine.autograd.gradients import zero_grads
from engine.autograd.scope import current_path, module_scope
from engine.compiler import COMPILE_TOP_LEVEL
from engine.compiler.guards import MODULES_CHANGED

from .parameter import Parameter


class _IncompatibleKeys(collections.namedtuple("IncompatibleKeys",
                                               ["missing_keys", "unexpected_keys"])):
    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


class RemovableHandle:
    """Returned by the register_*_hook methods: `handle.remove()` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks):
        self.hooks = hooks
        self.id = next(self._ids)

    def remove(self):
        self.hooks.pop(self.id, None)


class _Table(dict):
    """A module's parameters, buffers, submodules or hooks: a dict that counts each change
    in MODULES_CHANGED, so that compiled functions look at a module tree again only
    after one (engine/compiler/guards.py)."""

    def __setitem__(self, key, value):
        MODULES_CHANGED[0] += 1
        dict.__setitem__(self, key, value)

    def __delitem__(self, key):
        MODULES_CHANGED[0] += 1
        dict.__delitem__(self, key)

    def _changes(name):
        def change(self, *args, **kwargs):
            MODULES_CHANGED[0] += 1
            return getattr(dict, name)(self, *args, **kwargs)
        change.__name__ = name
        return change

    pop, popitem, clear, update, setdefault = map(_changes, (
        "pop", "popitem", "clear", "update", "setdefault"))
    del _changes


_TABLES = ("_parameters", "_buffers", "_modules", "_forward_pre_hooks", "_forward_hooks")


def _addindent(text, spaces):
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class for layers and models: subclass it, assign parts in `__init__`, and
    write `forward`. Calling the module runs its hooks around `forward`."""

    training: bool

    def __init__(self):
        set_ = object.__setattr__
        set_(self, "training", True)
        set_(self, "_non_persistent_buffers", set())
        for table in _TABLES:
            set_(self, table, _Table())

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def __call__(self, *args, **kwargs):
        if COMPILE_TOP_LEVEL[0] and not current_path() and "forward" not in self.__dict__:
            engine.compile(self)  # `numbagrad run NAME --compile`: see engine.compiler
        with module_scope(self):  # ops made here are labelled with this module's path
            for hook in list(self._forward_pre_hooks.values()):
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
            output = self.forward(*args, **kwargs)
            for hook in list(self._forward_hooks.values()):
                result = hook(self, args, output)
                if result is not None:
                    output = result
        return output

    # ---- registration ------------------------------------------------------------------

    def __getstate__(self):
        """Pickled (and deep-copied) with its tables as plain dicts, as PyTorch's are: a
        saved module names no private class."""
        state = dict(self.__dict__)
        for table in _TABLES:
            if table in state:
                state[table] = dict(state[table])
        return state

    def __setstate__(self, state):
        """Unpickled or deep-copied: the tables count their changes again."""
        MODULES_CHANGED[0] += 1
        self.__dict__.update(state)
        for table in _TABLES:
            if table in state:
                self.__dict__[table] = _Table(state[table])

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign to a Module before Module.__init__() call")
        MODULES_CHANGED[0] += 1
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name, params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, modules)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                                f"(torch.nn.Parameter or None expected)")
            params[name] = None
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (torch.nn.Module or None expected)")
            modules[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(torch.Tensor or None expected)")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, kept):
        """Remove `name` from every table but `kept`, the one it is assigned into: there a
        reassigned parameter or submodule keeps its place (parameters() and state_dict()
        order, a Sequential's indices), as in PyTorch."""
        for table in (self._parameters, self._buffers, self._modules):
            if table is not kept:
                table.pop(name, None)
        self._non_persistent_buffers.discard(name)
        self.__dict__.pop(name, None)

    def __getattr__(self, name):
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent_buffers.discard(name)
                return
        MODULES_CHANGED[0] += 1
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (torch.nn.Parameter or None required)")
        self._check_name(name, "parameter")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (torch Tensor or None required)")
        self._check_name(name, "buffer")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name(name, "module")
        self._modules[name] = module

    register_module = add_module

    def _check_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"{kind} name can't contain \".\" or be empty, got '{name}'")
        if name in self.__dict__ and name not in ("training",):
            raise KeyError(f"attribute '{name}' already exists")

    def get_parameter(self, target):
        """The Parameter at the dotted path `target` ("encoder.0.weight")."""
        return self._get_tensor(target, "_parameters", "an nn.Parameter")

    def get_buffer(self, target):
        """The buffer at the dotted path `target` ("bn.running_mean")."""
        return self._get_tensor(target, "_buffers", "a buffer")

    def _get_tensor(self, target, table, kind):
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        found = getattr(module, table)
        if name not in found:
            if not hasattr(module, name):
                raise AttributeError(f"{module._get_name()} has no attribute `{name}`")
            raise AttributeError(f"`{name}` is not {kind}")
        return found[name]

    def get_submodule(self, target):
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(f"{type(module).__name__} has no attribute `{part}`")
            module = module._modules[part]
        return module

    # ---- traversal ---------------------------------------------------------------------

    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        memo = set() if memo is None else memo
        if remove_duplicate and self in memo:
            return
        memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is not None:
                yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                                remove_duplicate)

    def modules(self):
        for _, module in self.named_modules():
            yield module

    def named_children(self):
        seen = set()
        for name, module in self._modules.items():
            if module is not None and module not in seen:
                seen.add(module)
                yield name, module

    def children(self):
        for _, module in self.named_children():
            yield module

    def _named_members(self, table, prefix, recurse, remove_duplicate=True):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) \
            if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True, remove_duplicate=True):
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and bulk changes --------------------------------------------------------

    def train(self, mode=True):
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        params = list(self.parameters())
        tracing.opaque("module.zero_grad()", lambda: zero_grads(params, set_to_none),
                       lambda: params + [p._grad for p in params if p._grad is not None])

    def apply(self, fn):
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def _apply(self, convert):
        """Replace every parameter's and buffer's data by convert(tensor), keeping the
        Parameter objects (so optimizers built before the move still hold them)."""
        for module in self.children():
            module._apply(convert)
        with engine.no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                p.data = convert(p)
                if p.grad is not None:
                    p.grad.data = convert(p.grad)
            for name, b in self._buffers.items():
                if b is not None:
                    self._buffers[name] = convert(b)
        return self

    def share_memory(self):
        """Parameters and buffers in memory that forked processes share (Hogwild)."""
        return self._apply(lambda t: t.share_memory_())

    def to(self, *args, **kwargs):
        """Move to a device and/or cast floating-point parameters and buffers to a dtype."""
        device, dtype = kwargs.get("device"), kwargs.get("dtype")
        for arg in args:
            if isinstance(arg, engine.dtype):
                dtype = arg
            elif isinstance(arg, Tensor):
                device, dtype = arg.device, arg.dtype
            else:
                device = arg
        if dtype is not None and not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point dtypes, but got "
                            f"desired dtype={dtype}")

        def convert(t):
            out = t.to(device) if device is not None else t
            if dtype is not None and t.is_floating_point():
                out = out.to(dtype)
            return out

        return self._apply(convert)

    def cuda(self, device=None):
        return self.to(device if device is not None else "cuda")

    def cpu(self):
        return self.to("cpu")

    def float(self):
        return self.to(engine.float32)

    def double(self):
        return self.to(engine.float64)

    def half(self):
        return self.to(engine.float16)

    def bfloat16(self):
        return self.to(engine.bfloat16)

    # ---- hooks -------------------------------------------------------------------------

    def register_forward_pre_hook(self, hook):
        handle = RemovableHandle(self._forward_pre_hooks)
        self._forward_pre_hooks[handle.id] = hook
        return handle

    def register_forward_hook(self, hook):
        handle = RemovableHandle(self._forward_hooks)
        self._forward_hooks[handle.id] = hook
        return handle

    # ---- state dicts -------------------------------------------------------------------

    def state_dict(self, *, destination=None, prefix="", keep_vars=False):
        """Parameters, then persistent buffers, module by module, in registration order."""
        out = collections.OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=out, prefix=f"{prefix}{name}.",
                                  keep_vars=keep_vars)
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from `state_dict`; every problem is reported in one error, and on
        error nothing is changed (all keys and shapes are checked before any copy)."""
        if not isinstance(state_dict, collections.abc.Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict and missing:
            errors.append("Missing key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in missing) + ". ")
        if strict and unexpected:
            errors.append("Unexpected key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in unexpected) + ". ")
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                errors.append(f'While copying the parameter named "{key}", expected torch.Tensor '
                              f"or Tensor-like object from checkpoint but received "
                              f"{type(value)}")
            elif value.shape != target.shape:
                errors.append(f"size mismatch for {key}: copying a param with shape "
                              f"{value.shape} from checkpoint, the shape in current model is "
                              f"{target.shape}.")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(errors))
        with engine.no_grad():
            for key, target in own.items():
                if key in state_dict:
                    target.copy_(state_dict[key])
        return _IncompatibleKeys(missing, unexpected)

    # ---- printing ----------------------------------------------------------------------

    def extra_repr(self):
        return ""

    def _get_name(self):
        return type(self).__name__

    def __repr__(self):
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({name}): " + _addindent(repr(module), 2)
                       for name, module in self._modules.items()]
        lines = extra_lines + child_lines
        text = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                text += extra_lines[0]
            else:
                text += "\n  " + "\n  ".join(lines) + "\n"
        return text + ")"

    def __dir__(self):
        """Attributes, parameters, buffers and submodules, but not names that are not
        identifiers (a Sequential's "0"), as in PyTorch."""
        names = set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(
            self._modules)
        return sorted(name for name in names if not name[:1].isdigit())
