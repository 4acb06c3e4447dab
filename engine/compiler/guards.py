"""What a compiled entry depends on, as one hashable key per call.

Tensor arguments count by shape, dtype, device and requires_grad; numbers, strings and
None by value; anything else by identity. Grad mode, autocast, the default dtype and
device count, and for a compiled module the identity of every parameter and buffer, each
submodule's training flag, hooks and the plain attributes its forward reads (so that
`model.eval()`, a replaced Parameter or a new `dropout.p` traces again). So does what
the function reaches without receiving it (`Captured`): the globals its code names and
its closure variables, a module among them with its state too (a step function calling
a global `model`). Each part is also described in words, for `explain()` and for the
reason a guard failed.
"""
import functools
import types

from ..amp import autocast_dtype
from ..autograd.grad_mode import is_grad_enabled
from ..device import get_default_device
from ..dtypes import get_default_dtype
from ..tensor import Tensor

_SCALARS = (bool, int, float, complex, str, bytes, type(None))
SHORT_LIST = 64


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


# Bumped by nn.Module at every assignment into a module (a parameter, buffer, submodule,
# hook or plain attribute, train() and eval() included): module_state, which walks the
# whole tree, is recomputed only after one, not at every call.
MODULES_CHANGED = [0]
_states = {}  # id(module) -> its module_state, valid while MODULES_CHANGED is _states_at
_states_at = [-1]


def module_state(module):
    """Parameter and buffer identities, and each submodule's training flag, hooks and the
    plain attributes its forward reads (`_read_names`), of a module tree."""
    if module is None:
        return ()
    if _states_at[0] != MODULES_CHANGED[0]:
        _states.clear()
        _states_at[0] = MODULES_CHANGED[0]
    state = _states.get(id(module))
    if state is None:
        modules = list(module.modules())
        state = _states[id(module)] = (
            tuple(id(p) for p in module.parameters()),
            tuple(id(b) for b in module.buffers()),
            tuple(m.training for m in modules),
            tuple(_attributes(m) for m in modules))
    return state


def _attributes(module):
    values = module.__dict__
    hooks = tuple(tuple(values.get(table, ())) for table in ("_forward_pre_hooks",
                                                              "_forward_hooks"))
    return hooks + tuple((name, captured_value(values[name]))
                         for name in _read_names(type(module)) if name in values)


@functools.lru_cache(maxsize=None)
def _read_names(cls):
    """The names a module class's forward, and the methods it names in turn, may read
    from an instance: what a trace of it can specialise on. (Not every method: DDP's
    replayed steps read whether no_sync() is on, at each replay.)"""
    base = next((c for c in reversed(cls.__mro__) if "register_buffer" in vars(c)), object)
    methods = {name: value for c in reversed(cls.__mro__[:cls.__mro__.index(base)])
               for name, value in vars(c).items() if isinstance(value, types.FunctionType)}
    names, todo, seen = set(), ["forward"], set()
    while todo:
        method = methods.get(todo.pop())
        if method is None or method in seen:
            continue
        seen.add(method)
        found = code_names(method.__code__)
        names |= found
        todo.extend(found & methods.keys())
    return tuple(sorted(names - methods.keys()))


def code_names(code):
    """The global and attribute names a code object uses, with those of the lambdas,
    comprehensions and functions defined inside it."""
    names, stack = set(), [code]
    while stack:
        code = stack.pop()
        names.update(code.co_names)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


def captured_value(value):
    """How a value the function reaches without receiving it counts: numbers and strings
    (and tuples and short lists of them) by value, tensors by identity, shape and dtype,
    modules by identity and state, anything else by identity. (Each call describes a few
    of them: the rule for each type is looked up once.)"""
    kind = type(value)
    rule = _RULES.get(kind)
    if rule is None:
        rule = _RULES[kind] = _rule(kind)
    return rule(value)


def _rule(kind):
    if kind in _SCALARS:
        return lambda value: (kind.__name__, value)
    if issubclass(kind, Tensor):
        return lambda value: ("tensor", id(value), value._data.shape, value._dtype.name)
    if kind is tuple:
        return lambda value: tuple(map(captured_value, value))
    if kind is list:  # short ones by content (engine.tensor(values) is a constant)
        return lambda value: ("list",) + tuple(map(captured_value, value)) if len(
            value) <= SHORT_LIST else ("object", id(value))
    if (not issubclass(kind, (type, types.ModuleType))  # an nn.Module:
            and callable(getattr(kind, "parameters", None))
            and callable(getattr(kind, "modules", None))):
        return lambda value: ("module", id(value)) + module_state(value)
    return lambda value: ("object", id(value))


_RULES = {}
_PLAIN = {}  # type -> whether its instances are plain objects (Captured.attributes)


def _plain(kind):
    """Instances that captured_value counts by identity alone, and that keep their
    attributes in a __dict__: not numbers, tensors, sequences, modules, code or classes."""
    return (kind.__dictoffset__ != 0 and kind not in _SCALARS
            and not issubclass(kind, (Tensor, tuple, list, dict, type, types.ModuleType,
                                      types.FunctionType, types.MethodType,
                                      types.BuiltinFunctionType))
            and not (callable(getattr(kind, "parameters", None))
                     and callable(getattr(kind, "modules", None))))


class Captured:
    """What a function reaches without receiving it: the globals its code names and its
    closure variables, read at each call. Python runs a traced function's Python once;
    a replay would otherwise keep what the trace saw (a model that a global now names
    anew, a scale since changed, a model since put in eval mode)."""

    def __init__(self, fn):
        self.bound = getattr(fn, "__self__", None)  # a bound method's object: "self"
        fn = getattr(fn, "__func__", fn)
        code = getattr(fn, "__code__", None)
        self.namespace = fn.__globals__ if code is not None else {}
        self.names = tuple(sorted(code_names(code))) if code is not None else ()
        self.cells = tuple(zip(code.co_freevars, fn.__closure__ or ())) if code else ()

    def values(self):
        """(name, value) of each global the code names that exists now, and each closure
        variable that is set."""
        namespace, found = self.namespace, []
        for name in self.names:
            if name in namespace:
                found.append((name, namespace[name]))
        for name, cell in self.cells:
            try:
                found.append((name, cell.cell_contents))
            except ValueError:  # not assigned yet
                pass
        if self.bound is not None:
            found.append(("self", self.bound))
        return found

    def key(self):
        """values(), each described by captured_value, an object with the attributes the
        code names (`self.scale`)."""
        return tuple([(name, captured_value(value) + self.attributes(value))
                      for name, value in self.values()])

    def attributes(self, value):
        """The attributes of a plain object (an instance of a class of the program's, not
        a tensor, module, function or class) that the code names: a method's `self.lr`,
        a config's `cfg.scale`. One level deep: their own attributes count by identity."""
        kind = type(value)
        plain = _PLAIN.get(kind)
        if plain is None:
            plain = _PLAIN[kind] = _plain(kind)
        if not plain:
            return ()
        found = value.__dict__
        return tuple((name, captured_value(found[name])) for name in self.names
                     if name in found)


def key(args, kwargs, module, captured=None):
    """The guard key of a call. Tensors arguments, the common case, are described by a
    short tuple built inline (this runs on every call)."""
    parts = []
    for a in args:
        if type(a) is Tensor or isinstance(a, Tensor):
            parts.append(("tensor", a._data.shape, a._dtype.name, str(a._device),
                          a._requires_grad))
        else:
            described = describe_value(a)
            if captured is not None and described[0] == "object":
                described += captured.attributes(a)
            parts.append(described)
    return (("tuple",) + tuple(parts), describe_value(kwargs) if kwargs else ("dict",),
            is_grad_enabled(), module_state(module) if module is not None else (),
            autocast_dtype(), get_default_dtype(), get_default_device(),
            captured.key() if captured is not None else ())


def difference(old, new):
    """Words for why `new` missed the entry guarded by `old`."""
    names = ("the arguments", "the keyword arguments", "grad mode", "the module's parameters, "
             "buffers or training flags", "autocast", "the default dtype",
             "the default device", "captured")
    for name, a, b in zip(names, old, new):
        if a != b:
            if name in ("grad mode", "the default dtype", "the default device"):
                return f"{name} changed from {a} to {b}"
            if name.startswith("the module's"):
                return _module_change(a, b)
            if name == "captured":
                return _captured_change(a, b)
            return f"{name} changed: {_first_change(a, b)}"
    return "no difference"


def _captured_change(old, new):
    """Words for the first global or closure variable that changed."""
    before = dict(old)
    for variable, value in new:
        if variable not in before:
            return f"the global {variable} now exists"
        if before[variable] != value:
            if value[:1] == ("module",) and before[variable][:2] == value[:2]:
                return f"{variable}: " + _module_change(before[variable][2:], value[2:])
            if value[:1] == ("object",) and before[variable][:2] == value[:2]:
                return _attribute_change(variable, before[variable][2:], value[2:])
            return f"{variable} changed: {_change_words(before[variable], value)}"
    return f"the global {next(v for v, _ in old if v not in dict(new))} no longer exists"


def _attribute_change(variable, old, new):
    """Words for the first attribute of the same object that changed."""
    for (name, x), (other, y) in zip(old, new):
        if (name, x) != (other, y):
            return f"{variable}.{name} changed: {_change_words(x, y)}"
    return f"{variable} has other attributes"


def _change_words(old, new):
    """`old -> new` for two captured_value()s, or `another tensor` where only identities
    differ (an identity means nothing to a reader)."""
    kinds = [d[0] if d and isinstance(d[0], str) else None for d in (old, new)]
    if kinds[0] == kinds[1] in ("tensor", "module", "object"):
        return f"it is another {kinds[0]}" + (
            f" (shape {tuple(old[2])} -> {tuple(new[2])})" if kinds[0] == "tensor" and
            old[2] != new[2] else "")
    return f"{_value_words(old)} -> {_value_words(new)}"


def _value_words(description):
    kind = description[0] if description and isinstance(description[0], str) else None
    if kind == "tensor":
        return f"a tensor of shape {tuple(description[2])}, {description[3]}"
    if kind in ("module", "object"):
        return f"a{'n' if kind == 'object' else ''} {kind}"
    if kind == "list":
        return "[" + ", ".join(map(_value_words, description[1:])) + "]"
    return repr(description[1]) if kind else str(description)


def _module_change(old, new):
    """Words for the first difference between two module_state()s (identities mean
    nothing to a reader: say which parameter, buffer, flag or attribute it was)."""
    for kind, a, b in zip(("parameter", "buffer"), old, new):
        if len(a) != len(b):
            return f"the module now has {len(b)} {kind}s (it had {len(a)})"
        for k, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return (f"the module's {kind} {k} (in .{kind}s() order) is another tensor; "
                        f"a module whose parameters change each call (functional_call) "
                        f"is traced again at every call")
    if old[2] != new[2]:
        return "a submodule's training flag changed (train() / eval())"
    for k, (a, b) in enumerate(zip(old[3], new[3])):
        if a[:2] != b[:2]:
            return f"submodule {k} (in .modules() order) has other forward hooks"
        for (name, x), (_, y) in zip(a[2:], b[2:]):
            if x != y:
                return (f"the attribute {name} of submodule {k} (in .modules() order) "
                        f"changed: {_change_words(x, y)}")
    return "a submodule's attributes changed"


def _first_change(a, b):
    """The innermost differing value that is still whole (a tensor's description)."""
    if isinstance(a, tuple) and a[:1] == ("object",) and a[:2] == b[:2]:  # the same object
        return _attribute_change("argument", a[2:], b[2:])
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
