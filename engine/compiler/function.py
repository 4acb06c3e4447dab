"""A compiled function: guarded entries, each a traced graph replayed by generated code.

The first call with new guards runs the function for real under the tracer (its
results are the eager ones), derives the backward graph by tracing the VJP formulas
that autograd.grad runs from the outputs, applies the passes, and generates a forward
and a backward function. Later calls with the same guards run the generated code; when
gradients are wanted, the whole call is one node of the eager autograd graph whose
backward is the generated backward.
"""
import warnings
import weakref

from .. import pytree
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.node import Node
from ..tensor import LEAF_CHANGES, Tensor, version_counter
from ..tracing import TRACER
from . import codegen, epilogues, fusion, guards, passes
from .trace import Tracer, is_aux, producer

RETRACE_LIMIT = 8


class CompiledFunction:
    """What `engine.compile(fn)` returns: call it as fn; `explain()` says what it did."""

    every = weakref.WeakSet()  # for engine.compiler.reset()

    def __init__(self, fn, fullgraph=False, module=None):
        self.fn, self.fullgraph, self.module = fn, fullgraph, module
        self.captured = guards.Captured(fn)
        self.reset()
        self.__wrapped__ = fn
        self.__name__ = getattr(fn, "__name__", type(fn).__name__)
        self.__doc__ = getattr(fn, "__doc__", None)
        CompiledFunction.every.add(self)

    def reset(self):
        """Forget the entries, the events and a decision to run eagerly."""
        self.entries = {}
        self.events = []          # what happened, in words, for explain()
        self.eager_reason = None  # set once the function runs eagerly for good
        self._last_key = None

    def __call__(self, *args, **kwargs):
        if self.eager_reason is not None or TRACER[0] is not None:
            # inside another function's trace it is inlined, as torch.compile inlines: its
            # ops join that graph (a compiled model in a compiled training step)
            return self.fn(*args, **kwargs)
        key = guards.key(args, kwargs, self.module, self.captured)
        for entry in self.entries.get(key, ()):
            if entry.valid():
                return entry.run(args, kwargs)
        return self._trace(key, args, kwargs)

    def _trace(self, key, args, kwargs):
        if self._last_key is not None:
            reason = (guards.difference(self._last_key, key) if key not in self.entries
                      else "a captured tensor's requires_grad, gradient hooks, shape, "
                           "dtype or device, or whether a .grad was set, changed")
            self.events.append(f"retrace {self.n_entries}: {reason}")
            if self.n_entries >= RETRACE_LIMIT:
                self._go_eager(f"it was traced {RETRACE_LIMIT} times (the last because "
                               f"{reason}); it now runs eagerly")
                return self.fn(*args, **kwargs)
        self._last_key = key
        leaves = pytree.leaves((args, kwargs))
        tracer = Tracer(self.fullgraph)
        with tracer:
            for i, t in enumerate(leaves):
                tracer.add_input(t, "arg", i)
            result = self.fn(*args, **kwargs)
            if tracer.broken is None:
                flat = not kwargs and all(isinstance(a, Tensor) for a in args)
                entry = Entry.build(tracer, leaves, result, flat)
        if tracer.broken is not None:
            reason, where = tracer.broken
            self._go_eager(f"it cannot be captured: {reason}, at {where}")
            return result
        entry.captured = self.captured.values()  # alive, so that no identity in the key
        self.entries.setdefault(key, []).append(entry)  # is reused by another object
        self.events.append(f"traced entry {self.n_entries}: " + ", ".join(
            f"{name} {n} ops" for name, n in entry.sizes))
        return result

    @property
    def n_entries(self):
        return sum(map(len, self.entries.values()))

    def _go_eager(self, why):
        self.eager_reason = why
        self.events.append(f"eager from now on: {why}")
        warnings.warn(f"engine.compile: {self.__name__} runs eagerly because {why}",
                      stacklevel=4)

    def explain(self):
        """The graph's size after each pass, the guards, the retraces and why, and the
        generated source of every entry."""
        lines = [f"engine.compile({self.__name__}): {self.n_entries} entr"
                 f"{'y' if self.n_entries == 1 else 'ies'}"]
        lines += [f"  {event}" for event in self.events]
        for n, (key, entry) in enumerate(((key, entry) for key, group in self.entries.items()
                                          for entry in group), 1):
            lines.append(f"entry {n}")
            lines.append("  passes: " + " -> ".join(f"{name} {size}" for name, size in
                                                   entry.sizes))
            lines.append(f"  guards: arguments {key[0]}, keywords {key[1]}, grad mode "
                         f"{key[2]}" + (", module state" if key[3] else "")
                         + (f", {len(entry.grad_guards)} .grad set or not"
                            if entry.grad_guards else "")
                         + (", what it reaches: " + ", ".join(name for name, _ in key[-1])
                            if key[-1] else ""))
            for title, source in entry.sources:
                lines.append(f"  {title}:")
                lines += ["    " + line for line in source.rstrip().splitlines()]
        return "\n".join(lines)

    @property
    def graphs(self):
        """The final graph of each entry (networkx DiGraphs), for drawing and tests."""
        return [entry.graph for group in self.entries.values() for entry in group]


class Entry:
    """One specialisation of the function: its graph, generated code and what to feed it."""

    @classmethod
    def build(cls, tracer, leaves, result, flat):
        self = cls()
        self.flat = flat
        out_leaves, self.template = pytree.leaves(result), pytree.skeleton(result)
        out_refs = [tracer.node_of(t) for t in out_leaves]
        # a result that is an argument, or a tensor from outside the function, is returned
        # itself, as eagerly: {result index: argument index or the tensor}
        self.passed = {j: next((i for i, a in enumerate(leaves) if a is t), t)
                       for j, t in enumerate(out_leaves)
                       if any(a is t for a in leaves)
                       or (out_refs[j][0] == "const" and id(t) not in tracer.born)}
        self.out_devices = [t._device for t in out_leaves]
        self.out_requires = [t._requires_grad for t in out_leaves]
        grad_refs, targets = [], []
        self.spent = tracer.spent
        self.grad_guards = tracer.grad_guards
        if (is_grad_enabled() and any(self.out_requires) and tracer.broken is None
                and not self.spent):
            grad_refs, targets = _trace_backward(tracer, leaves, out_leaves)
        if tracer.broken is not None:
            return None
        graph = tracer.graph
        sizes = [("traced", passes.size(graph))]
        graph, refs = passes.common_subexpressions(graph, out_refs + grad_refs)
        sizes.append(("common subexpressions", passes.size(graph)))
        graph, refs = passes.fold_constants(graph, refs, tracer.allowed)
        sizes.append(("constants folded", passes.size(graph)))
        graph = passes.dead_code(graph, [r for r in refs if r is not None])
        sizes.append(("dead code", passes.size(graph)))
        graph = fusion.fuse(graph, refs)
        sizes.append(("fused", passes.size(graph)))
        graph = epilogues.absorb(graph, refs)
        sizes.append(("epilogues", passes.size(graph)))
        out_refs, grad_refs = refs[:len(out_refs)], refs[len(out_refs):]
        # a constant the function made (or that folding made) is a new tensor at each
        # call, as eagerly: the replay hands out a copy, never the constant's own memory
        self.copied = [j for j, ref in enumerate(out_refs) if j not in self.passed
                       and ref is not None and graph.nodes[producer(ref)]["kind"] == "const"
                       and not graph.nodes[producer(ref)]["tensor"]._requires_grad]
        for j in self.copied:  # the trace's caller holds the tensor itself: keep a copy
            data = graph.nodes[producer(out_refs[j])]
            data["tensor"] = Tensor._make(data["tensor"]._backend.copy(data["tensor"]._data),
                                          data["tensor"]._device)
        self.graph, self.sizes = graph, sizes
        args = sorted((n for n in graph if graph.nodes[n]["kind"] == "arg"),
                      key=lambda n: n[1])
        consts = sorted(n for n in graph if graph.nodes[n]["kind"] == "const")
        self.consts = [graph.nodes[n]["tensor"] for n in consts]
        self.const_flags = [t._requires_grad for t in self.consts]
        self.const_state, self.state_seen = _leaf_state(self.consts), LEAF_CHANGES[0]
        saved = _saved(graph)
        self.forward, forward_source = codegen.generate(
            graph, "forward", [("args", args), ("consts", consts)], out_refs + saved,
            "forward")
        self.sources = [("forward", forward_source)]
        self.n_out = len(out_refs)
        self.backward = None
        if grad_refs:
            grads = sorted((n for n in graph if graph.nodes[n]["kind"] == "grad"),
                           key=lambda n: n[1])
            self.backward, backward_source = codegen.generate(
                graph, "backward", [("grads", grads), ("args", args), ("consts", consts),
                                    ("saved", saved)], grad_refs, "backward")
            self.sources.append(("backward", backward_source))
            self.grad_outputs = [i for i, r in enumerate(self.out_requires) if r]
            self.targets = targets  # ("arg", i) or ("const", tensor) per gradient
        return self

    def valid(self):
        """The guards a key cannot hold: captured tensors' requires_grad, and their hooks,
        shapes, dtypes and devices (looked at only after some hook or `.data` changed),
        and whether each .grad the function reads as it finds it was there."""
        if LEAF_CHANGES[0] != self.state_seen:
            if _leaf_state(self.consts) != self.const_state:
                return False
            self.state_seen = LEAF_CHANGES[0]
        return (all(t._requires_grad is f for t, f in zip(self.consts, self.const_flags))
                and all((t._grad is None) is none for t, none in self.grad_guards))

    def run(self, args, kwargs):
        # the guards hold the arguments' structure, so flat tensor arguments stay flat
        leaves = args if self.flat else pytree.leaves((args, kwargs))
        arrays = [t._data for t in leaves]
        consts = [t._data for t in self.consts]
        results = self.forward(arrays, consts)
        outs = [Tensor._make(a, d) for a, d in zip(results[:self.n_out], self.out_devices)]
        for j, passed in self.passed.items():
            outs[j] = leaves[passed] if type(passed) is int else passed
        for j in self.copied:
            outs[j] = Tensor._make(outs[j]._backend.copy(outs[j]._data), outs[j]._device)
        if self.backward is not None and is_grad_enabled():
            inputs = [leaves[ref] if kind == "arg" else ref for kind, ref in self.targets]
            versions = [version_counter(t).value for t in inputs]
            call = _Call(self, arrays, consts, results[self.n_out:], outs, inputs, versions)
            for j in self.grad_outputs:
                if j in self.passed:  # a leaf itself: its gradient reaches it directly
                    continue
                out = outs[j]
                out._grad_fn = Node(_CompiledBackward(call, j), inputs, {}, out, None)
                out._requires_grad = True
        elif self.spent and is_grad_enabled():
            for out, requires in zip(outs, self.out_requires):
                if requires:
                    out._grad_fn = Node(_SpentBackward(), [], {}, out, None)
                    out._requires_grad = True
        return pytree.rebuild(self.template, iter(outs))


class _Call:
    """What one compiled call leaves for its backward."""

    def __init__(self, entry, arrays, consts, saved, outs, inputs, versions):
        self.entry, self.arrays, self.consts, self.saved = entry, arrays, consts, saved
        self.outs, self.inputs, self.versions = outs, inputs, versions


class _CompiledBackward:
    """The node op of a compiled call's output: runs the generated backward."""

    saves = ()
    input_index = {}
    node_name = "CompiledFunctionBackward"

    def __init__(self, call, output):
        self.call, self.output = call, output

    def saves_for(self, needed):
        return ()

    def backward(self, node, g, create_graph):
        call = self.call
        if create_graph:
            raise RuntimeError("engine.compile: a compiled function's backward cannot itself be "
                               "differentiated (create_graph=True); call the function "
                               "uncompiled for higher derivatives")
        for t, version in zip(call.inputs, call.versions):
            if version_counter(t).value != version:
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: an input of CompiledFunctionBackward (shape "
                    f"{tuple(t.shape)}) is at version {version_counter(t).value}; expected "
                    f"version {version} instead.")
        grads = []
        for j in call.entry.grad_outputs:
            if j == self.output:
                grads.append(g._data)
            else:
                grads.append(call.outs[j]._backend.full(call.outs[j]._data.shape, 0,
                                                        call.outs[j]._data.dtype))
        results = call.entry.backward(grads, call.arrays, call.consts, call.saved)
        return [None if r is None else Tensor._make(r, t._device)
                for r, t in zip(results, call.inputs)]


class _SpentBackward:
    """The node op of a result of a compiled training step, which ran backward() itself."""

    saves = ()
    input_index = {}
    node_name = "CompiledStepBackward"

    def saves_for(self, needed):
        return ()

    def backward(self, node, g, create_graph):
        raise RuntimeError("Trying to backward through the graph a second time: the compiled "
                           "function already called backward() or an optimizer step itself")


def _trace_backward(tracer, leaves, out_leaves):
    """Trace autograd.grad of the differentiable outputs with respect to every argument
    and captured tensor that requires grad; returns (gradient refs, targets)."""
    from ..autograd import grad as autograd_grad

    consts = [tracer.graph.nodes[n]["tensor"] for n in tracer.graph
              if tracer.graph.nodes[n]["kind"] == "const"]
    targets = [("arg", i) for i, t in enumerate(leaves) if t._requires_grad]
    targets += [("const", t) for t in consts if t._requires_grad]
    tensors = [leaves[ref] if kind == "arg" else ref for kind, ref in targets]
    outs = [t for t in out_leaves if t._requires_grad]
    tracer.phase = "backward"
    seeds = []
    for j, out in enumerate(outs):
        seed = Tensor._make(out._backend.full(out._data.shape, 1, out._data.dtype),
                            out._device)
        tracer.add_input(seed, "grad", j)
        seeds.append(seed)
    grads = autograd_grad(outs, tensors, grad_outputs=seeds, retain_graph=True,
                          allow_unused=True)
    refs = [None if g is None else tracer.node_of(g) for g in grads]
    return refs, targets


def _leaf_state(tensors):
    """What a trace specialised on in each captured tensor beyond its identity: its
    gradient hooks, shape, dtype and device."""
    return [(tuple(t._hooks or ()), tuple(t._post_accumulate_hooks or ()), t._data.shape,
             t._dtype, t._device) for t in tensors]


def _saved(graph):
    """The forward values the backward ops read: forward ops' results, or all the extra
    arrays of a forward op (codegen.aux_dict)."""
    saved = {}
    for node in graph:
        data = graph.nodes[node]
        if data["kind"] != "op" or data["phase"] != "backward":
            continue
        for ref in list(data["inputs"]) + list(data.get("attr_arrays", {}).values()):
            source = producer(ref)
            if graph.nodes[source]["kind"] == "op" and graph.nodes[source]["phase"] == "forward":
                saved[codegen.aux_dict(source) if is_aux(ref) else source] = None
    return list(saved)
