"""Graph nodes: what an op left behind for backward.

A `Node` is a tensor's `grad_fn`: the op that made it, an edge to each input's node,
and only the values the op's derivative formulas name. A leaf that requires grad
is reached through its `AccumulateGrad` node, which adds into `.grad`.
"""
import functools
import weakref

from ..tensor import Tensor, version_counter
from ..tracing import TRACER, constant, graph_break
from .anomaly import call_site, is_anomaly_enabled
from .scope import current_path

_FREED = ("Trying to backward through the graph a second time (or directly access saved "
          "tensors after they have already been freed). Saved intermediate values of the "
          "graph are freed when you call .backward() or autograd.grad(). Specify "
          "retain_graph=True if you need to backward through the graph a second time or "
          "if you need to access saved tensors after calling backward.")


class Node:
    """One recorded op: `name()`, `next_functions`, and the saved values for its formulas.

    A graph holds one Node per recorded op until backward, often tens of thousands, and
    every tuple, list and dict a Node allocates is an object Python's cyclic collector
    tracks and rescans. So per-input metadata and saved values are kept in flat tuples
    (two and four entries per item) and the output's metadata in slots: `y * 1.0001`
    leaves 8 tracked objects rather than 12, which took 12% off the 10,000-op chain.
    """

    __slots__ = ("op", "edges", "attrs", "saved", "saved_names", "input_meta", "out_shape",
                 "out_dtype", "out_device", "scope", "pre_hooks", "post_hooks", "call_site",
                 "__weakref__")

    def __init__(self, op, inputs, attrs, out, aux):
        self.op = op
        # One pass over the inputs (this runs once per recorded op): where each one's
        # gradient goes, its shape and dtype, and which of them need a gradient.
        edges = []
        meta = []
        needed = 0
        bit = 1
        for t in inputs:
            edge = edge_of(t)
            if edge is not None:
                needed |= bit
            bit <<= 1
            edges.append(edge)
            meta.append(t._data.shape)
            meta.append(t._dtype)
        self.edges = edges
        self.input_meta = tuple(meta)  # shape 0, dtype 0, shape 1, dtype 1, ...
        self.out_shape = out._data.shape
        self.out_dtype = out._dtype
        self.out_device = out._device
        self.scope = current_path()  # the modules running when the op was called
        self.attrs = attrs
        self.pre_hooks = self.post_hooks = ()  # lists only once a hook is registered
        self.call_site = call_site() if is_anomaly_enabled() else None
        # Four entries per saved name, in saved_names' order: the value, the version
        # counter to check and its value when saved, and the kind ("aux" or None).
        names = self.saved_names = op.saves_for(needed)
        saved = []
        for name in names:
            if name == "out":
                counter = version_counter(out)
                saved += (out._data, counter, counter.value, None)
            elif name in op.input_index:
                t = inputs[op.input_index[name]]
                counter = version_counter(t)
                saved += (t, counter, counter.value, None)
            else:
                saved += (aux[name], None, None, "aux")
        self.saved = tuple(saved)

    @property
    def out_meta(self):
        return self.out_shape, self.out_dtype, self.out_device

    def saved_values(self):
        """(name, value) for each value still saved (viz draws them)."""
        if not self.saved:
            return []
        return [(name, self.saved[4 * k]) for k, name in enumerate(self.saved_names)]

    def name(self):
        return self.op.node_name

    @property
    def next_functions(self):
        return tuple((e, 0) for e in self.edges)

    def register_hook(self, fn):
        """fn(grad_inputs, grad_outputs) after this node has run."""
        self.post_hooks = list(self.post_hooks) + [fn]
        return self.post_hooks

    def register_prehook(self, fn):
        """fn(grad_outputs) before this node runs; may return a replacement."""
        self.pre_hooks = list(self.pre_hooks) + [fn]
        return self.pre_hooks

    def release(self):
        """Free saved values (backward without retain_graph)."""
        if self.saved:
            self.saved = None

    def unpack(self, name, create_graph):
        """A saved value as a Tensor, checked against in-place changes since it was saved."""
        if self.saved is None:
            raise RuntimeError(_FREED)
        at = 4 * self.saved_names.index(name)
        value, counter, version, kind = self.saved[at:at + 4]
        if counter is not None and counter.value != version:
            what = "output 0 of " + self.name() if name == "out" else f"input '{name}'"
            raise RuntimeError(
                f"one of the variables needed for gradient computation has been modified by "
                f"an inplace operation: {what} of {self.name()} is at version "
                f"{counter.value}; expected version {version} instead.")
        # A saved array is a fixed value: a trace under way (engine.compile, vmap) that
        # did not see it computed may keep it as a constant.
        if name == "out":
            return constant(Tensor._make(value, self.out_device,
                                         grad_fn=self if create_graph else None))
        if kind == "aux":
            return constant(Tensor._make(value, self.out_device))
        return value

    def __repr__(self):
        return f"<{self.name()} object at {hex(id(self))}>"


class AccumulateGrad:
    """The node of a leaf tensor that requires grad: adds incoming gradients into `.grad`."""

    __slots__ = ("variable", "pre_hooks", "__weakref__")
    edges = ()
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable
        self.pre_hooks = []

    def name(self):
        return "torch::autograd::AccumulateGrad"

    def accumulate(self, g, create_graph, fresh):
        """Add g into the leaf's grad; adopt g's memory when nothing else can see it."""
        leaf = self.variable
        for hook in leaf._hooks:
            replaced = hook(g)
            if replaced is not None:
                g = replaced
                fresh = False
        if TRACER[0] is not None and create_graph:
            graph_break("backward(create_graph=True) into .grad")
        if TRACER[0] is not None:
            TRACER[0].accumulate_grad(leaf, g, fresh)
        elif leaf._grad is None:
            if create_graph:
                leaf._grad = g
            else:
                data = g._data if fresh else g._backend.copy(g._data)
                leaf._grad = Tensor._make(data, g._device)
        elif create_graph or leaf._grad.requires_grad:
            leaf._grad = leaf._grad + g
        else:
            leaf._grad._backend.add_(leaf._grad._data, g._data)
        if not leaf._post_accumulate_hooks:
            return
        if TRACER[0] is not None:
            TRACER[0].post_accumulate_hooks(leaf, functools.partial(_run_hooks, leaf))
        else:
            _run_hooks(leaf)

    def __repr__(self):
        return f"<AccumulateGrad object at {hex(id(self))}>"


def _run_hooks(leaf):
    for hook in leaf._post_accumulate_hooks:
        hook(leaf)


def accumulator(t):
    """The leaf's AccumulateGrad node, kept alive by the graph (not by the tensor)."""
    node = t._accumulator() if t._accumulator is not None else None
    if node is None:
        node = AccumulateGrad(t)
        t._accumulator = weakref.ref(node)
    return node


def edge_of(t):
    """Where gradient for `t` goes: its grad_fn, its accumulator, or nowhere."""
    if t._grad_fn is not None:
        return t._grad_fn
    if t._requires_grad:
        return accumulator(t)
    return None
