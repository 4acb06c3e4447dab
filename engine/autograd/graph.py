"""The backward graph as networkx data, and the walk that applies the chain rule."""
import networkx as nx

from .anomaly import check_gradients, is_anomaly_enabled
from .grad_mode import set_grad_enabled
from .node import AccumulateGrad


def build_graph(roots):
    """DiGraph of every node reachable from `roots`, edges pointing from output to input.

    Iterative, so a 10,000-op chain does not meet Python's recursion limit.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(roots)
    edges = []
    seen = set(roots)
    stack = list(roots)
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if edge is None:
                continue
            edges.append((node, edge))
            if edge not in seen:
                seen.add(edge)
                stack.append(edge)
    graph.add_edges_from(edges)
    return graph


class _Grads:
    """Pending gradients per node, tracking which arrays more than one place holds."""

    def __init__(self):
        self.pending = {}
        self.seen = set()
        self.shared = set()

    def push(self, node, g, shared=False):
        key = id(g._data)
        if shared or key in self.seen:
            self.shared.add(key)
        self.seen.add(key)
        if node in self.pending:
            self.pending[node] = self.pending[node] + g
        else:
            self.pending[node] = g

    def pop(self, node):
        return self.pending.pop(node, None)

    def is_fresh(self, g):
        return id(g._data) not in self.shared and g._backend.owns_memory(g._data)


def run_backward(roots, root_grads, retain_graph, create_graph, capture=None):
    """Propagate `root_grads` from the root nodes down to every leaf.

    With `capture` (a set of nodes) this is `autograd.grad`: the gradient arriving at
    each captured node is returned in a dict and no leaf's `.grad` is touched.
    """
    graph = build_graph(list(dict.fromkeys(roots)))
    grads = _Grads()
    for node, g in zip(roots, root_grads):
        grads.push(node, g, shared=True)
    captured = {}
    check_nan = is_anomaly_enabled()
    with set_grad_enabled(create_graph):
        for node in nx.topological_sort(graph):
            g = grads.pop(node)
            if g is None:
                continue
            for hook in node.pre_hooks:
                replaced = hook(g)
                if replaced is not None:
                    g = replaced
                grads.shared.add(id(g._data))
            if capture is not None and node in capture:
                captured[node] = g
            if isinstance(node, AccumulateGrad):
                if capture is None:
                    node.accumulate(g, create_graph, grads.is_fresh(g))
                continue
            input_grads = node.op.backward(node, g, create_graph)
            if check_nan:
                check_gradients(node, input_grads)
            for hook in node.post_hooks:
                hook(input_grads, (g,))
            if not retain_graph:
                node.release()
            for edge, gi in zip(node.edges, input_grads):
                if edge is not None and gi is not None:
                    grads.push(edge, gi)
    return captured
