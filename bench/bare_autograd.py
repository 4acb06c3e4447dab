"""The tiny graph through the barest autograd this architecture allows: the floor.

One Python object per op holding a closure for its backward, NumPy's ufuncs as the
kernels (a ufunc call costs less than any numba dispatch), the graph sorted by
networkx, and nothing else: no dtypes, devices, broadcasting, hooks, version counters
or error checks. No pure-Python engine built this way can be cheaper, so its ratio to
PyTorch bounds what numbagrad's tiny-graph row can reach.
"""
from itertools import chain

import networkx as nx
import numpy as np


class _Value:
    __slots__ = ("data", "parents", "backward", "grad")

    def __init__(self, data, parents=(), backward=None):
        self.data, self.parents, self.backward, self.grad = data, parents, backward, None


def _mul(a, b):
    return _Value(a.data * b.data, (a, b), lambda g: (g * b.data, g * a.data))


def _add(a, b):
    return _Value(a.data + b.data, (a, b), lambda g: (g, g))


def _tanh(a):
    out = np.tanh(a.data)
    return _Value(out, (a,), lambda g: (g * (1 - out * out),))


def _sum(a):
    shape = a.data.shape
    return _Value(a.data.sum(), (a,), lambda g: (np.broadcast_to(g, shape),))


def _backward(root):
    """Fill a DiGraph's adjacency directly (as numbagrad does), sort it, apply each
    closure."""
    graph = nx.DiGraph()
    succ, pred, attrs = graph._adj, graph._pred, graph._node
    succ[root], pred[root], attrs[root] = {}, {}, {}
    stack = [root]
    while stack:
        node = stack.pop()
        for parent in node.parents:
            if parent not in succ:
                succ[parent], pred[parent], attrs[parent] = {}, {}, {}
                stack.append(parent)
            succ[node][parent] = pred[parent][node] = {}
    root.grad = np.ones((), root.data.dtype)
    for node in chain.from_iterable(nx.topological_generations(graph)):
        if node.backward is not None:
            for parent, g in zip(node.parents, node.backward(node.grad)):
                parent.grad = g if parent.grad is None else parent.grad + g


def tiny_graph(ops=30):
    """The same graph and values as `workloads.tiny_graph`; each step returns the two
    gradients (a test holds them against numbagrad's)."""
    a = _Value(np.linspace(0.1, 1.0, 16).astype(np.float32))
    b = _Value(np.linspace(1.0, 2.0, 16).astype(np.float32))

    def step():
        c = _mul(a, b)
        for _ in range(ops // 3 - 1):
            c = _mul(_tanh(_add(c, a)), b)
        _backward(_sum(c))
        grads = a.grad, b.grad
        a.grad = b.grad = None
        return grads

    return step
