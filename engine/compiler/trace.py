"""Recording what a function does, primitive by primitive, into a networkx DiGraph.

The function runs for real (its first call's results are eager results); every
primitive it applies becomes a node: `op` (the Primitive), `attrs`, `device` and
`backend`, `phase` ("forward", or "backward" for the VJP formulas traced afterwards),
and `inputs`, the nodes its tensor inputs came from, in order. The other nodes are
where values enter: `arg` (the i-th tensor argument), `grad` (an output gradient, in
the backward phase) and `const` (a tensor the function reached without receiving it:
a parameter, a number operand, a tensor made by a creation function). Edges run from
each input's node to the op that used it; an edge's `aux` names an extra array of the
producing op (an argmax's indices) rather than its result.

Values are known by identity: a tensor by `id`, and also by the id of its array, since
autograd saves arrays and wraps them in new tensors. Every tensor seen is kept alive
until the trace ends, so that no id is reused under it.
"""
import os
import sys

import networkx as nx

from .. import tracing
from ..tensor import Tensor

_ENGINE_DIRS = tuple(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), d) + os.sep for d in ("engine", "nn", "optim", "data",
                                                           "kernels"))


class GraphBreak(RuntimeError):
    """compile(fullgraph=True) met something a trace cannot capture."""


class _MaskIndex(Exception):
    pass


class Tracer:
    def __init__(self, fullgraph):
        self.graph = nx.DiGraph()
        self.fullgraph = fullgraph
        self.phase = "forward"
        self.values = {}       # id(tensor) -> node
        self.arrays = {}       # id(array) -> node or (node, aux name)
        self.kept = []         # every tensor and array seen, alive until the trace ends
        self.allowed = set()   # ids of tensors made from Python values (creation functions)
        self.born = set()      # ids of tensors made during the trace by anything else
        self.broken = None     # (reason, where) once something could not be captured
        self._make = None

    # ---- starting and stopping ------------------------------------------------------------

    def __enter__(self):
        if tracing.TRACER[0] is not None:  # a compiled function called inside a trace
            tracing.TRACER[0].cannot_capture("a compiled function called while tracing "
                                             "(compile the outer function only)")
        tracing.TRACER[0] = self
        original = self._make = Tensor.__dict__["_make"]
        born = self.born

        def make(cls, data, device=Tensor._make.__defaults__[0], grad_fn=None):
            t = original.__func__(cls, data, device, grad_fn)
            born.add(id(t))
            self.kept.append(t)
            return t

        Tensor._make = classmethod(make)
        return self

    def __exit__(self, *exc):
        tracing.TRACER[0] = None
        Tensor._make = self._make

    def cannot_capture(self, reason):
        """Something the trace cannot capture ran: an error under fullgraph=True, else
        the trace stops here and the function goes on eagerly."""
        where = user_frame()
        if self.fullgraph:
            tracing.TRACER[0] = None
            Tensor._make = self._make
            raise GraphBreak(f"engine.compile(fullgraph=True): cannot capture {reason}, at "
                             f"{where}")
        if self.broken is None:
            self.broken = (reason, where)
        tracing.TRACER[0] = None
        Tensor._make = self._make

    # ---- values -----------------------------------------------------------------------------

    def add_input(self, tensor, kind, index):
        node = (kind, index)
        self.graph.add_node(node, kind=kind, index=index, tensor=tensor, phase=self.phase)
        self._know(tensor, node)
        return node

    def _know(self, tensor, node):
        self.values[id(tensor)] = node
        self.arrays.setdefault(id(tensor._data), node)
        self.kept.append(tensor)

    def node_of(self, tensor):
        """The node a tensor's value comes from; a new `const` node for a tensor from
        outside, None (and the trace stopped) for one made by an untraced computation."""
        node = self.values.get(id(tensor))
        if node is None:
            node = self.arrays.get(id(tensor._data))
        if node is not None:
            return node
        if id(tensor) in self.born and id(tensor) not in self.allowed:
            self.cannot_capture("a tensor computed outside the op table")
            return None
        node = ("const", len([n for n in self.graph if n[0] == "const"]))
        self.graph.add_node(node, kind="const", tensor=tensor, phase=self.phase)
        self._know(tensor, node)
        return node

    def _traced_arrays(self, value, found):
        """{id: ref} of the arrays of arguments or op results inside an attribute (an
        index tensor's array): the replay must pass the values of the call, so they
        become inputs of the op. Other arrays (indices built from Python values, a
        buffer's) are kept by reference, so a replay sees them as they are then."""
        if isinstance(value, (tuple, list)):
            for v in value:
                self._traced_arrays(v, found)
            return found
        ref = self.arrays.get(id(value))
        if ref is not None and self.graph.nodes[producer(ref)]["kind"] != "const":
            if value.dtype == bool:
                raise _MaskIndex
            found[id(value)] = ref
        return found

    def record(self, op, inputs, attrs, out, aux):
        """One primitive application (called by Primitive.__call__ while tracing)."""
        attr_arrays = {}
        try:
            for value in attrs.values():
                self._traced_arrays(value, attr_arrays)
        except _MaskIndex:
            self.cannot_capture(f"{op.op_name} with a boolean mask computed in the function "
                                f"or passed to it (the result's size depends on its values)")
            return
        sources = []
        for t in inputs:
            source = self.node_of(t)
            if source is None:
                return
            sources.append(source)
        node = ("op", len(self.graph))
        self.graph.add_node(node, kind="op", op=op, attrs=dict(attrs), inputs=sources,
                            device=out._device, backend=inputs[0]._backend, phase=self.phase,
                            returns_aux=aux is not None, attr_arrays=attr_arrays,
                            dtype=out._data.dtype, shape=out._data.shape)
        for source in sources + list(attr_arrays.values()):
            self.graph.add_edge(producer(source), node, aux=source[1] if is_aux(source) else None)
        self._know(out, node)
        for name, array in (aux or {}).items():
            self.arrays[id(array)] = (node, name)
            self.kept.append(array)


def is_aux(ref):
    """A reference to an op's extra array is (op node, name); to a node, the node itself."""
    return isinstance(ref[0], tuple)


def producer(ref):
    return ref[0] if is_aux(ref) else ref




def user_frame():
    """file:line of the innermost frame outside numbagrad's own packages."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_ENGINE_DIRS):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"
