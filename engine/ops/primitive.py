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
(`return out, {"indices": ...}`). Only what some formula names is saved, so `add`
keeps nothing alive. Formulas are written in engine ops, so they are
differentiable themselves (create_graph=True). Their results are summed back to
each input's shape in one place, `sum_to`, so formulas never undo broadcasting.
"""
import inspect

from ..autograd.grad_mode import is_grad_enabled
from ..autograd.node import Node
from ..tensor import Tensor

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _names(fn):
    return [p.name for p in inspect.signature(fn).parameters.values()]


class Primitive:
    """One differentiable op; see the module docstring for how formulas are written."""

    def __init__(self, node_name, forward, **vjps):
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
        wanted = {n for args in self.vjp_args for n in args}
        self.saves = tuple(n for n in wanted if not self._is_metadata(n))
        self._saves_by_pattern = {}

    def saves_for(self, edges):
        """The saved names that the formulas of inputs needing a gradient ask for."""
        if self.variadic:
            return self.saves
        pattern = tuple(e is not None for e in edges)
        found = self._saves_by_pattern.get(pattern)
        if found is None:
            wanted = {n for needed, args in zip(pattern, self.vjp_args) if needed
                      for n in args}
            found = self._saves_by_pattern[pattern] = tuple(n for n in self.saves
                                                             if n in wanted)
        return found

    def _is_metadata(self, name):
        return (name in self.attrs or name in ("i", "shapes")
                or name.endswith("_shape") or name.endswith("_dtype"))

    def __call__(self, *inputs, **attrs):
        """Run the forward kernel; record a node when grad mode is on and an input needs it.

        Returns the result Tensor, or (result, extras) when the forward returned extras.
        """
        first = inputs[0]
        for t in inputs[1:]:
            if t._device is not first._device and t._device != first._device:
                raise RuntimeError(
                    f"Expected all tensors to be on the same device, but found at least two "
                    f"devices, {first._device} and {t._device}! ({self.node_name[:-9]})")
        result = self.forward(first._backend, *[t._data for t in inputs], **attrs)
        aux = None
        if type(result) is tuple:
            result, aux = result
        out = Tensor._make(result, device=attrs["device"] if self.moves else first._device)
        for t in inputs:
            if t._requires_grad:
                if is_grad_enabled() and out._dtype.is_floating_point:
                    out._grad_fn = Node(self, inputs, attrs, out, aux)
                    out._requires_grad = True
                break
        return out if aux is None else (out, aux)

    def backward(self, node, g, create_graph):
        """The gradient for each input (None where none is needed)."""
        grads = []
        for i, edge in enumerate(node.edges):
            k = 0 if self.variadic else i
            vjp = self.vjps[k]
            if edge is None or vjp is None:
                grads.append(None)
                continue
            args = [self._resolve(node, name, i, create_graph) for name in self.vjp_args[k]]
            gi = vjp(g, *args)
            shape, dtype = node.input_meta[i]
            if gi._data.shape != shape:
                gi = sum_to(gi, shape)
            if gi.dtype is not dtype:
                gi = gi.to(dtype)
            grads.append(gi)
        return grads

    def _resolve(self, node, name, i, create_graph):
        if name in self.attrs:
            return node.attrs[name]
        if name == "i":
            return i
        if name == "shapes":
            return [meta[0] for meta in node.input_meta]
        if name.endswith("_shape") and name[:-6] in self.input_index:
            return node.input_meta[self.input_index[name[:-6]]][0]
        if name.endswith("_dtype") and name[:-6] in self.input_index:
            return node.input_meta[self.input_index[name[:-6]]][1]
        return node.unpack(name, create_graph)

    def __repr__(self):
        return f"Primitive({self.node_name})"


def sum_to(g, shape):
    """Undo broadcasting: sum `g` over the dimensions that broadcasting added to `shape`."""
    lead = g.dim() - len(shape)
    dims = tuple(range(lead)) + tuple(
        lead + d for d, n in enumerate(shape) if n == 1 and g.shape[lead + d] != 1)
    if dims:
        g = g.sum(dims, keepdim=True)
    return g.reshape(shape) if g.shape != shape else g
