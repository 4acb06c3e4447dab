"""The backward graph as networkx data, and the walk that applies the chain rule."""
from itertools import chain

import networkx as nx

from .. import amp
from ..tensor import Tensor
from ..tracing import TRACER
from .anomaly import check_gradients, is_anomaly_enabled
from .grad_mode import set_grad_enabled
from .node import AccumulateGrad


def build_graph(roots, graph=None):
    """DiGraph of every node reachable from `roots`, edges pointing from output to input
    (filled into `graph`, an empty DiGraph, when one is given).

    Iterative, so a 10,000-op chain does not meet Python's recursion limit. The walk
    fills the graph's adjacency dicts itself, in the layout networkx documents for
    subclasses (`_adj` successors, `_pred` predecessors, `_node` attributes, one data
    dict shared by both directions of an edge): `add_edges_from` re-checks every edge
    and cost ~2 us each, more than the rest of a small backward. A test checks that
    the result equals the graph `add_edges_from` builds.
    """
    if graph is None:
        graph = nx.DiGraph()
    succ, pred, attrs = graph._adj, graph._pred, graph._node
    stack = []
    for root in roots:
        if root not in succ:
            succ[root], pred[root], attrs[root] = {}, {}, {}
            stack.append(root)
    while stack:
        node = stack.pop()
        out = succ[node]
        for edge in node.edges:
            if edge is None or edge in out:
                continue
            if edge not in succ:
                succ[edge], pred[edge], attrs[edge] = {}, {}, {}
                stack.append(edge)
            out[edge] = pred[edge][node] = {}
    return graph


PUSHED, SHARED, ADOPTED = 1, 2, 3


class _Grads:
    """Pending gradients per node, and which memory a leaf may adopt as its `.grad`.

    A gradient's memory may become a leaf's `.grad` without a copy when nothing else
    can see it: it was made during this walk, went to one place only, and no other
    leaf adopted it. The marks live on the gradient tensors (a view is judged by its
    base), never in sets of ids, which Python reuses once an array is freed.
    """

    def __init__(self, create_graph):
        self.pending = {}
        self.create_graph = create_graph

    def push(self, node, g, shared=False):
        g._grad_mark = SHARED if shared or g._grad_mark else PUSHED
        pending = self.pending.get(node)
        if pending is None:
            self.pending[node] = g
        elif (self.create_graph or pending._dtype is not g._dtype
              or pending._data.shape != g._data.shape or TRACER[0] is not None):
            self.pending[node] = pending + g  # recorded (or traced), or promoted/broadcast
        else:  # the common case, straight to the kernel: nothing to record or promote
            self.pending[node] = Tensor._make(pending._backend.add(pending._data, g._data),
                                              pending._device)

    def pop(self, node):
        return self.pending.pop(node, None)

    @staticmethod
    def claim(g):
        """True if g's memory may be adopted; it is then marked as taken."""
        owner = g._base if g._base is not None else g
        if (g._grad_mark == SHARED or owner._grad_mark in (SHARED, ADOPTED)
                or g._backend.memory_root(g._data) is None):
            return False
        owner._grad_mark = ADOPTED
        return True


def run_backward(roots, root_grads, retain_graph, create_graph, capture=None, observe=None):
    """Propagate `root_grads` from the root nodes down to every leaf.

    With `capture` (a set of nodes) this is `autograd.grad`: the gradient arriving at
    each captured node is returned in a dict and no leaf's `.grad` is touched.
    `observe(node, grad_in, grads_out)` sees every step (viz.explain uses it).
    """
    graph = build_graph(list(dict.fromkeys(roots)), _spare_graph())
    grads = _Grads(create_graph)
    for node, g in zip(roots, root_grads):
        grads.push(node, g, shared=True)
    # The graph is emptied at the end, so that it keeps no node alive: the nodes go by
    # refcount, and the graph goes back to the spares for the next walk.
    queued = open_callbacks()
    try:
        with set_grad_enabled(create_graph), amp.suspended():
            captured = _walk(graph, grads, retain_graph, create_graph, capture, observe)
        if TRACER[0] is not None:  # a compiled step's replay must run them too
            TRACER[0].end_of_backward(queued)
        else:
            run_callbacks()
        return captured
    finally:
        if _callbacks and _callbacks[-1] is queued:  # the walk raised
            _callbacks.pop()
        graph.clear()
        _spare_graphs.append(graph)


# One list per walk under way (a hook may start a walk of its own).
_callbacks = []


def open_callbacks():
    """Start the list that queue_callback() adds to (backward() does, at its start, and a
    compiled step's replay where its traced backward's hooks did)."""
    queued = []
    _callbacks.append(queued)
    return queued


def run_callbacks():
    """Run the newest list's callbacks, in order (one queued by another runs too), and
    close it."""
    try:
        for callback in _callbacks[-1]:
            callback()
    finally:
        _callbacks.pop()


def queue_callback(fn):
    """Run fn() once the walk under way has finished, as PyTorch's engine.queue_callback.

    This is how a hook that starts work in the background (DistributedDataParallel's
    gradient allreduce) waits for it before backward() returns.
    """
    if not _callbacks:
        raise RuntimeError("queue_callback: no backward pass is running; call it from a "
                           "hook during backward()")
    _callbacks[-1].append(fn)


def _walk(graph, grads, retain_graph, create_graph, capture, observe):
    """The chain rule, node by node in topological order; returns the captured grads."""
    captured = {}
    check_nan = is_anomaly_enabled()
    # networkx's topological_sort, less its generator layer over the generations
    for node in chain.from_iterable(nx.topological_generations(graph)):
        g = grads.pop(node)
        if g is None:
            continue
        for hook in node.pre_hooks:
            replaced = hook(g)
            if replaced is not None:
                g = replaced
            g._grad_mark = SHARED  # a hook may have kept it
        if capture is not None and node in capture:
            captured[node] = g
        if isinstance(node, AccumulateGrad):
            if capture is None:
                node.accumulate(g, create_graph, grads.claim(g))
            if observe is not None:
                observe(node, g, ())
            continue
        input_grads = node.op.backward(node, g, create_graph)
        if check_nan:
            check_gradients(node, input_grads)
        if observe is not None:
            observe(node, g, input_grads)
        for hook in node.post_hooks:
            hook(input_grads, (g,))
        if not retain_graph:
            node.release()
        for edge, gi in zip(node.edges, input_grads):
            if edge is not None and gi is not None:
                grads.push(edge, gi)
    return captured


# Emptied graphs kept for the next walk: a new DiGraph, with the in-degree view that
# networkx's sort caches on it, costs ~8 us, more than the rest of a two-node backward.
# (That view points back at its graph: a graph dropped after each walk was a cycle that
# held all its nodes until the cyclic collector ran, a tenth of a small backward's time.)
_spare_graphs = []


def _spare_graph():
    """An empty DiGraph; a walk started from inside another walk (a hook) gets its own."""
    try:
        return _spare_graphs.pop()
    except IndexError:
        return nx.DiGraph()
