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

A training step also changes state: `loss.backward()` sets parameters' `.grad`, and
`optimizer.step()` / `zero_grad()` update tensors in place. These are `effect` nodes,
numbered in the same sequence as ops, each with a `run` callable that the replay calls
at that point: reading a gradient that existed before the call, setting or adding
into a `.grad`, or calling the optimizer's own step again (its Python logic and fused
kernels kept whole; see `opaque`). Effects that write memory (`mutates`) are barriers
that no pass moves an op across.

Values are known by identity: a tensor by `id`, and also by the id of its array, since
autograd saves arrays and wraps them in new tensors. Every tensor seen is kept alive
until the trace ends, so that no id is reused under it.
"""
import os
import sys

import networkx as nx

from .. import tracing
from ..autograd.graph import open_callbacks, run_callbacks
from ..tensor import Tensor, version_counter

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
        self.touched = set()   # ids of tensors whose .grad the trace has read or written
        self.grad_guards = []  # (tensor, its .grad was None) for .grad read as it was at entry
        self.spent = False     # the function ran backward() or an optimizer step itself
        self.written = set()   # ids of tensors from outside written in place (write_into)
        self.opaque_results = {}  # id(tensor) -> the opaque call that returned it
        self.hooked = []       # leaves whose post-accumulate hooks ran in this backward

    # ---- starting and stopping ------------------------------------------------------------

    def __enter__(self):
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
        self._pause()

    def _pause(self):
        tracing.TRACER[0] = None
        Tensor._make = self._make

    def _resume(self, make):
        tracing.TRACER[0] = self
        Tensor._make = make

    def cannot_capture(self, reason):
        """Something the trace cannot capture ran: an error under fullgraph=True, else
        the trace stops here and the function goes on eagerly."""
        where = user_frame()
        if self.fullgraph:
            self._pause()
            raise GraphBreak(f"engine.compile(fullgraph=True): cannot capture {reason}, at "
                             f"{where}")
        if self.broken is None:
            self.broken = (reason, where)
        self._pause()

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
        if id(tensor) in self.opaque_results:
            self.cannot_capture(f"a tensor returned by {self.opaque_results[id(tensor)]}, "
                                f"which a replay repeats whole (its result is not traced)")
            return None
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
                            dtype=out._data.dtype, shape=out._data.shape,
                            aux_dtypes={name: array.dtype for name, array in
                                        (aux or {}).items() if hasattr(array, "dtype")},
                            fresh=_fresh(inputs[0]._backend, inputs, out, aux),
                            aliases=_aliases(inputs[0]._backend, inputs, out, aux))
        for source in sources + list(attr_arrays.values()):
            self.graph.add_edge(producer(source), node, aux=source[1] if is_aux(source) else None)
        self._know(out, node)
        for name, array in (aux or {}).items():
            self.arrays[id(array)] = (node, name)
            self.kept.append(array)

    # ---- side effects -----------------------------------------------------------------------

    def flag_changed(self, tensor):
        """requires_grad_() on `tensor`: a tensor the function made may change its flag
        (the replay makes it again); the caller's tensor would keep its old one."""
        if id(tensor) not in self.born:
            self.cannot_capture("requires_grad_() on a tensor the function did not make (a "
                                "replay would leave the caller's flag and .grad as they were)")

    def _effect(self, action, run, inputs=(), mutates=False, like=None):
        """An effect node; `like` is a tensor of the dtype and shape of its value, if any."""
        node = ("effect", len(self.graph))
        sources = [self.node_of(t) for t in inputs]
        if any(s is None for s in sources):
            return None
        self.graph.add_node(node, kind="effect", action=action, run=run, inputs=sources,
                            mutates=mutates, phase=self.phase,
                            dtype=None if like is None else like._data.dtype,
                            shape=None if like is None else like._data.shape)
        for source in sources:
            self.graph.add_edge(producer(source), node, aux=source[1] if is_aux(source) else None)
        return node

    def read_grad(self, tensor):
        """tensor.grad as the trace must see it. A gradient from before the call becomes
        an input read at this point of the replay, and the entry is guarded on whether
        there was one."""
        value = tensor._grad
        first = id(tensor) not in self.touched
        if first:
            self.touched.add(id(tensor))
            self.kept.append(tensor)
            self.grad_guards.append((tensor, value is None))
        if value is None or id(value) in self.values or id(value._data) in self.arrays:
            return value
        node = self._effect("read .grad", lambda: tensor._grad._data, like=value)
        self._know(value, node)
        return value

    def set_grad(self, tensor, value, copy=False):
        """tensor.grad = value (a tensor the trace knows, or None), done now and replayed;
        with `copy`, `.grad` gets its own memory (the gradient's may be seen elsewhere)."""
        self.touched.add(id(tensor))
        self.kept.append(tensor)
        if value is None:
            tensor._grad = None

            def clear():
                tensor._grad = None
            self._effect("set .grad", clear)
            return
        device, backend = value._device, value._backend

        def run(array):
            array = backend.copy(array) if copy else array
            tensor._grad = Tensor._make(array, device)
            return array
        node = self._effect("set .grad", run, [value], like=value)
        if node is not None:
            run(value._data)
            self._know_grad(tensor, node)

    def accumulate_grad(self, leaf, g, fresh):
        """What backward() does for a leaf, traced as one effect that decides at each
        replay, as eager autograd does: the gradient becomes `.grad` (copied where its
        memory may be seen elsewhere), or is added into the one there, in place."""
        self.spent = True
        self.touched.add(id(leaf))
        self.kept.append(leaf)
        device, backend = g._device, g._backend

        def run(array):
            grad = leaf._grad
            if grad is None:
                array = array if fresh else backend.copy(array)
                leaf._grad = Tensor._make(array, device)
                return array
            if grad._requires_grad:  # a .grad with history gets a new sum, as eagerly
                leaf._grad = Tensor._make(backend.add(grad._data, array), device)
            else:
                backend.add_(grad._data, array)
            return leaf._grad._data

        node = self._effect("accumulate .grad", run, [g], mutates=True, like=g)
        if node is not None:
            run(g._data)
            self._know_grad(leaf, node)

    def _know_grad(self, tensor, node):
        """tensor.grad, and anything sharing its memory from now on (a detach()), is the
        value of the effect that set it, whether or not that memory was a gradient's."""
        self.values[id(tensor._grad)] = node
        self.arrays[id(tensor._grad._data)] = node
        self.kept.append(tensor._grad)

    def write_into(self, target, value):
        """target's memory is about to take `value` (an in-place op that autograd does not
        record: a running statistic, a counter): an effect the replay repeats, copying the
        replay's value into the same memory. Only memory that is the same at every replay
        can be written so: a tensor from outside the function (a buffer), not a view,
        written whole. A write into an argument, into a value the function made or into a
        view cannot be replayed by copying into the memory the trace saw: it stops the
        trace."""
        known = self.values.get(id(target)) or self.arrays.get(id(target._data))
        outside = (known is None and id(target) not in self.born) or (
            known is not None and not is_aux(known)
            and (known[0] == "const" or id(target) in self.written))
        if target._base is not None or target._requires_grad or not outside:
            self.cannot_capture("an in-place write into a tensor")
            return
        if self.node_of(target) is None:
            return
        backend = target._backend

        def run(array):
            backend.copy_into(target._data, array)
            version_counter(target).value += 1
            return target._data

        node = self._effect(f"write into a {tuple(target.shape)} tensor", run, [value],
                            mutates=True, like=target)
        if node is not None:  # the caller writes now; later reads see this effect's value
            self.written.add(id(target))
            self.kept.append(target)
            self.values[id(target)] = node
            self.arrays[id(target._data)] = node

    def opaque(self, name, call, touches, spends=True):
        """Run `call` (an optimizer's step or zero_grad) for real, untraced, and record it
        as one effect the replay calls again. The tensors `touches()` names (parameters,
        their gradients, optimizer state) may change inside it, so the trace forgets what
        it knew of them: a later read sees their memory as it is then."""
        self.spent = self.spent or spends
        changed = touches()
        self._effect(name, call, mutates=True)
        make = Tensor._make
        self._pause()
        try:
            result = call()
        finally:
            self._resume(make)
        if isinstance(result, Tensor):
            self.opaque_results[id(result)] = name
            self.kept.append(result)
        for t in list(changed) + list(touches()):
            self.values.pop(id(t), None)
            self.arrays.pop(id(t._data), None)
            self.touched.add(id(t))
            self.kept.append(t)
        return result


    # ---- hooks run after a gradient is accumulated (DistributedDataParallel's) -------------

    def post_accumulate_hooks(self, leaf, run):
        """A leaf's post-accumulate-grad hooks, `run()`, which may do anything (DDP's
        copies the gradient into its bucket and starts the bucket's allreduce): run now
        untraced and recorded as one effect the replay calls again, as `opaque` does.
        Such hooks may queue callbacks for the end of backward (DDP waits for its
        allreduces there), so the first one of a backward is preceded by an effect that
        gives the replay a callback list to queue into, as backward() does."""
        if not self.hooked:
            self._effect("backward(): start a list of queued callbacks", open_callbacks)
        self.hooked.append(leaf)
        self.opaque(f"post-accumulate-grad hooks of a {tuple(leaf.shape)} tensor", run,
                    lambda: _with_grads([leaf]), spends=False)

    def end_of_backward(self, queued):
        """The traced backward() has ended: run_callbacks() runs what its hooks queued
        (`queued`). Where post-accumulate hooks ran, that is an effect too, which the
        replay calls to run what its own hooks queued. A callback queued by any other
        hook (one the trace went through, whose Python the replay skips) cannot be
        replayed."""
        hooked, self.hooked = self.hooked, []
        if hooked:
            self.opaque("backward()'s queued callbacks", run_callbacks,
                        lambda: _with_grads(hooked), spends=False)
            return
        if queued:
            self.cannot_capture("a callback queued during backward() (queue_callback) by a "
                                "hook whose Python a replay would skip")
        run_callbacks()


def _with_grads(leaves):
    """The leaves and their gradients: what a hook or a callback may change."""
    return list(leaves) + [leaf._grad for leaf in leaves if leaf._grad is not None]


def _fresh(backend, inputs, out, aux):
    """Whether an op's results are all new memory, no view of an input (the memory plan
    may then reuse an input's buffer once the op has read it)."""
    taken = {id(t._data) for t in inputs}
    for array in [out._data] + list((aux or {}).values()):
        if hasattr(array, "shape") and (id(array) in taken
                                        or backend.memory_root(array) is not array):
            return False
    return True


def _aliases(backend, inputs, out, aux):
    """Whether an op's results may share memory with an input (a view, a reshape): a
    result whose memory has an owner of an input's, or none that can be written."""
    roots = {id(backend.memory_root(t._data)) for t in inputs}
    return any(hasattr(array, "shape") and (backend.memory_root(array) is None or
                                            id(backend.memory_root(array)) in roots)
               for array in [out._data] + list((aux or {}).values()))


def trace_forward(model, args, caller, tracer=None):
    """(graph, output references) of model(*args), traced whole and without gradients:
    the graph onnx.export writes and SummaryWriter.add_graph draws. A graph break is an
    error naming `caller`. `tracer`: one made beforehand (to watch it while it runs)."""
    from ..autograd.grad_mode import no_grad

    tracer = tracer or Tracer(fullgraph=True)
    try:
        with no_grad(), tracer:
            for i, t in enumerate(args):
                tracer.add_input(t, "arg", i)
            result = model(*args)
            results = list(result) if isinstance(result, (tuple, list)) else [result]
            outputs = [tracer.node_of(t) for t in results]
    except GraphBreak as e:
        raise RuntimeError(f"{caller}: the model cannot be traced: {e}") from None
    return tracer.graph, outputs


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
