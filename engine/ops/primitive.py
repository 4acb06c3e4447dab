"""The op table's one mechanism: a primitive is a forward kernel call plus a VJP per input.

    mul = Primitive("MulBackward0", lambda K, a, b: K.mul(a, b),
                    a=lambda g, b: g * b,
                    b=lambda g, a: g * a)

`K` is the inputs' kernel backend. The forward's positional parameters are tensor
inputs, its keyword-only ones attributes (`dim`, `keepdim`; a `device` attribute
says the result lives there rather than on the inputs' device). Each VJP formula
receives the output gradient `g`, then the values its parameter names ask for:
an input (`a`), the result (`out`), an input's shape or dtype (`a_shape`,
`a_dtype`), an attribute, or an extra array the forward returned beside its result
(`return out, {"indices": ...}`, declared as `extras=("indices",)`). Any other name
is refused when the op is declared. Only what some formula names is saved, so `add`
keeps nothing alive. Formulas are written in engine ops, so they are
differentiable themselves (create_graph=True). Their results are summed back to
each input's shape in one place, `sum_to`, so formulas never undo broadcasting.
"""
import dis
import inspect
import linecache
import re
from operator import attrgetter

from ..autograd.grad_mode import is_grad_enabled
from ..autograd.node import Node
from ..tensor import Tensor
from ..tracing import TRACER

_make = Tensor._make
_data_of = attrgetter("_data")
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
DECLARED = []  # every primitive, in the order declared: what table-wide checks sweep


def _names(fn):
    return [p.name for p in inspect.signature(fn).parameters.values()]


class Primitive:
    """One differentiable op; see the module docstring for how formulas are written."""

    def __init__(self, node_name, forward, *, extras=(), pure=True, **vjps):
        """`pure=False` declares a forward that does more than compute its result from its
        inputs (a collective, which other processes wait for): engine.compile then runs it
        at every replay, as traced, never merging, folding or dropping it."""
        self.pure = pure
        params = list(inspect.signature(forward).parameters.values())[1:]
        self.node_name = node_name
        self.forward = forward
        self.inputs = [p.name for p in params if p.kind in _POSITIONAL]
        self.variadic = next((p.name for p in params if p.kind == p.VAR_POSITIONAL), None)
        self.attrs = {p.name for p in params if p.kind == p.KEYWORD_ONLY}
        self.moves = "device" in self.attrs  # the result lives on attrs["device"]
        unknown = set(vjps) - set(self.inputs) - {self.variadic}
        if unknown:
            raise TypeError(f"{node_name}: formulas for unknown inputs {sorted(unknown)}")
        self.input_index = {name: i for i, name in enumerate(self.inputs)}
        if self.variadic:
            self.vjps = [vjps.get(self.variadic)]
        else:
            self.vjps = [vjps.get(name) for name in self.inputs]
        self.vjp_args = [tuple(_names(f)[1:]) if f else () for f in self.vjps]
        self._check_names(extras)
        self.fetchers = [tuple(self._fetcher(n) for n in args) for args in self.vjp_args]
        wanted = {n for args in self.vjp_args for n in args}
        self.saves = tuple(n for n in wanted if not self._is_metadata(n))
        self._saves_by_pattern = {}
        DECLARED.append(self)

    @property
    def op_name(self):
        """The op's name for messages: "mul" for MulBackward0, "floor_divide" as it is."""
        name = re.sub(r"Backward\d*$", "", self.node_name.rsplit("::", 1)[-1])
        return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower()

    def _check_names(self, extras):
        """Refuse, at declaration, a formula parameter that names nothing a node holds
        (a misspelling would otherwise fail at the first backward, obscurely)."""
        known = {"out", "i", "shapes", *self.attrs, *extras, *self.inputs}
        known.update(f"{n}{suffix}" for n in self.inputs for suffix in ("_shape", "_dtype"))
        names = self.inputs if not self.variadic else [self.variadic]
        for name, args in zip(names, self.vjp_args):
            for arg in args:
                if arg not in known:
                    raise TypeError(
                        f"{self.node_name}: the formula for {name!r} takes {arg!r}, which is "
                        f"not an input, 'out', an input's _shape or _dtype, an attribute "
                        f"({', '.join(sorted(self.attrs)) or 'none'}) or a declared extra "
                        f"({', '.join(extras) or 'none'})")

    def formula(self, k):
        """The k-th input's derivative formula as text, "(g, out) -> g * out", read from
        the op table's source; a named helper shows as its call."""
        vjp = self.vjps[k]
        if vjp is None:
            return "no gradient"
        args = ", ".join(inspect.signature(vjp).parameters)
        if vjp.__name__ != "<lambda>":
            return f"{vjp.__name__}({args})"
        return f"({args}) -> {lambda_body(vjp)}"

    def saves_for(self, needed):
        """The saved names that the formulas of the inputs flagged in `needed` ask for
        (bit i set: input i needs a gradient)."""
        if self.variadic:
            return self.saves
        found = self._saves_by_pattern.get(needed)
        if found is None:
            wanted = {n for i, args in enumerate(self.vjp_args) if needed >> i & 1
                      for n in args}
            found = self._saves_by_pattern[needed] = tuple(n for n in self.saves
                                                            if n in wanted)
        return found

    def _is_metadata(self, name):
        return (name in self.attrs or name in ("i", "shapes")
                or name.endswith("_shape") or name.endswith("_dtype"))

    def __call__(self, *inputs, **attrs):
        """Run the forward kernel; record a node when grad mode is on and an input needs it.

        Returns the result Tensor, or (result, extras) when the forward returned extras.
        Every op passes through here, so it is written for speed: no comprehensions.
        """
        first = inputs[0]
        device = first._device
        K = first._backend
        for t in inputs:
            if t._device is not device and t._device != device:
                raise RuntimeError(
                    f"Expected all tensors to be on the same device, but found at least two "
                    f"devices, {device} and {t._device}! ({self.op_name})")
            if t._backend is not K and t._dtype.narrow:  # a float16 value beside an index
                K = t._backend
        if attrs or len(inputs) > 2:
            result = self.forward(K, *map(_data_of, inputs), **attrs)
        elif len(inputs) == 2:  # spelled out: unpacking costs ~1 us, as much as a kernel
            result = self.forward(K, first._data, inputs[1]._data)
        else:
            result = self.forward(K, first._data)
        aux = None
        if type(result) is tuple:
            result, aux = result
        out = _make(result, attrs["device"] if self.moves else device)
        for t in inputs:
            if t._requires_grad:
                if is_grad_enabled() and out._dtype.is_floating_point:
                    out._grad_fn = Node(self, inputs, attrs, out, aux)
                    out._requires_grad = True
                break
        if TRACER[0] is not None:
            TRACER[0].record(self, inputs, attrs, out, aux)
        return out if aux is None else (out, aux)

    def backward(self, node, g, create_graph):
        """The gradient for each input (None where none is needed)."""
        grads = []
        i = 0
        for edge in node.edges:
            k = 0 if self.variadic else i
            vjp = self.vjps[k]
            if edge is None or vjp is None:
                grads.append(None)
            else:
                fetchers = self.fetchers[k]
                if not fetchers:
                    gi = vjp(g)
                elif len(fetchers) == 1:  # most formulas; a comprehension costs 1 us
                    gi = vjp(g, fetchers[0](node, i, create_graph))
                else:
                    args = []
                    for fetch in fetchers:
                        args.append(fetch(node, i, create_graph))
                    gi = vjp(g, *args)
                shape, dtype = node.input_meta[2 * i], node.input_meta[2 * i + 1]
                if gi._data.shape != shape:
                    gi = sum_to(gi, shape, create_graph)
                if gi._dtype is not dtype:
                    gi = gi.to(dtype)
                grads.append(gi)
            i += 1
        return grads

    def _fetcher(self, name):
        """How a formula's parameter `name` gets its value from a node (decided once,
        here, so that backward does not parse names): fetch(node, i, create_graph)."""
        if name in self.attrs:
            return lambda node, i, create_graph: node.attrs[name]
        if name == "i":
            return lambda node, i, create_graph: i
        if name == "shapes":
            return lambda node, i, create_graph: list(node.input_meta[::2])
        for suffix, field in (("_shape", 0), ("_dtype", 1)):
            if name.endswith(suffix) and name[:-6] in self.input_index:
                at = 2 * self.input_index[name[:-6]] + field  # see Node.input_meta
                return lambda node, i, create_graph: node.input_meta[at]
        return lambda node, i, create_graph: node.unpack(name, create_graph)

    def __repr__(self):
        return f"Primitive({self.node_name})"


def lambda_body(fn):
    """The source text of a lambda's body. Python 3.11 records each instruction's
    columns, so the body is cut out of its line exactly, however many lambdas share it
    (a forward and its formula often do)."""
    spans = [i.positions for i in dis.get_instructions(fn.__code__)
             if i.positions is not None and i.positions.col_offset is not None
             and (i.positions.lineno, i.positions.col_offset)
             < (i.positions.end_lineno, i.positions.end_col_offset)]
    if not spans:
        return "..."
    first, col = min((p.lineno, p.col_offset) for p in spans)
    last, end = max((p.end_lineno, p.end_col_offset) for p in spans)
    filename = fn.__code__.co_filename
    lines = [linecache.getline(filename, n) for n in range(first, last + 1)]
    text = lines[0][col:end] if first == last else \
        lines[0][col:] + "".join(lines[1:-1]) + lines[-1][:end]
    return " ".join(text.split())


def sum_to(g, shape, create_graph):
    """Undo broadcasting: sum `g` over the dimensions that broadcasting added to `shape`.

    Outside create_graph nothing is recorded, so the backend's sum and reshape are
    called directly: a bias gradient then costs one kernel, not two op dispatches. A
    trace (engine.compile) needs the ops, so it takes the recorded path too.
    """
    lead = g._data.ndim - len(shape)
    g_shape = g._data.shape
    dims = tuple(range(lead)) + tuple(
        lead + d for d, n in enumerate(shape) if n == 1 and g_shape[lead + d] != 1)
    if not create_graph and TRACER[0] is None:
        K = g._backend
        data = K.sum(g._data, dims) if dims else g._data
        return _make(K.reshape(data, shape), g._device)
    if dims:
        g = g.sum(dims, keepdim=True)
    return g.reshape(shape) if g.shape != shape else g
