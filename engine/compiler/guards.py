"""What a compiled entry depends on, as one hashable key per call.

Tensor arguments count by shape, dtype, device and requires_grad; numbers, strings and
None by value; anything else by identity. Grad mode counts, and for a compiled module
the identity of every parameter and buffer and each submodule's training flag (so that
`model.eval()` or a replaced Parameter traces again). Each part is also described in
words, for `explain()` and for the reason a guard failed.
"""
from ..amp import autocast_dtype
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor


def describe_value(value):
    if isinstance(value, Tensor):
        return ("tensor", tuple(value._data.shape), value._dtype.name, str(value._device),
                value._requires_grad)
    if isinstance(value, (bool, int, float, complex, str, bytes, type(None))):
        return (type(value).__name__, value)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__,) + tuple(describe_value(v) for v in value)
    if isinstance(value, dict):
        return ("dict",) + tuple((k, describe_value(v)) for k, v in value.items())
    return ("object", id(value))


def module_state(module):
    """Parameter and buffer identities and training flags of a module tree."""
    if module is None:
        return ()
    return (tuple(id(p) for p in module.parameters()),
            tuple(id(b) for b in module.buffers()),
            tuple(m.training for m in module.modules()))


def key(args, kwargs, module):
    """The guard key of a call. Tensors arguments, the common case, are described by a
    short tuple built inline (this runs on every call)."""
    parts = []
    for a in args:
        if type(a) is Tensor or isinstance(a, Tensor):
            parts.append(("tensor", a._data.shape, a._dtype.name, str(a._device),
                          a._requires_grad))
        else:
            parts.append(describe_value(a))
    return (("tuple",) + tuple(parts), describe_value(kwargs) if kwargs else ("dict",),
            is_grad_enabled(), module_state(module) if module is not None else (),
            autocast_dtype())


def difference(old, new):
    """Words for why `new` missed the entry guarded by `old`."""
    names = ("the arguments", "the keyword arguments", "grad mode", "the module's parameters, "
             "buffers or training flags", "autocast")
    for name, a, b in zip(names, old, new):
        if a != b:
            if name == "grad mode":
                return f"grad mode changed from {a} to {b}"
            if name.startswith("the module's"):
                return _module_change(a, b)
            return f"{name} changed: {_first_change(a, b)}"
    return "no difference"


def _module_change(old, new):
    """Words for the first difference between two module_state()s (identities mean
    nothing to a reader: say which parameter, buffer or flag it was)."""
    for kind, a, b in zip(("parameter", "buffer"), old, new):
        if len(a) != len(b):
            return f"the module now has {len(b)} {kind}s (it had {len(a)})"
        for k, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return (f"the module's {kind} {k} (in .{kind}s() order) is another tensor; "
                        f"a module whose parameters change each call (functional_call) "
                        f"is traced again at every call")
    return "a submodule's training flag changed (train() / eval())"


def _first_change(a, b):
    """The innermost differing value that is still whole (a tensor's description)."""
    whole = isinstance(a, tuple) and a[:1] in (("tensor",), ("object",))
    if isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) and not whole:
        for x, y in zip(a, b):
            if x != y:
                return _first_change(x, y)
    return f"{_words(a)} -> {_words(b)}"


def _words(description):
    if isinstance(description, tuple) and description[:1] == ("tensor",):
        _, shape, dtype, device, requires_grad = description
        return (f"tensor of shape {shape}, {dtype} on {device}"
                f"{', requiring grad' if requires_grad else ''}")
    return str(description)
