"""Graph passes: each takes a traced graph and returns a new one, so that each can be
tested, counted and drawn on its own. `outputs` are the references the replay must
still produce (the function's results, and the forward values backward reads)."""
from .trace import is_aux, producer


def dead_code(graph, outputs):
    """Only the ops some output or effect depends on, and those that must run anyway."""
    needed = set()
    stack = [producer(r) for r in outputs] + effects(graph) + [
        n for n in graph if graph.nodes[n]["kind"] == "op" and _must_run(graph.nodes[n])]
    while stack:
        node = stack.pop()
        if node in needed:
            continue
        needed.add(node)
        stack.extend(graph.predecessors(node))
    keep = [n for n in graph if n in needed or graph.nodes[n]["kind"] != "op"]
    return graph.subgraph(keep).copy()


def common_subexpressions(graph, outputs):
    """One op for several identical ones (same primitive, inputs and attributes); ops
    that must run as often as traced (`_must_run`) are never merged.
    Returns (graph, outputs) with references to a merged op moved to the kept one."""
    graph = graph.copy()
    seen, replaced = {}, {}
    epoch = barriers(graph)
    for node in list(graph):
        data = graph.nodes[node]
        if data["kind"] == "effect":
            data["inputs"] = [_moved(r, replaced) for r in data["inputs"]]
        if data["kind"] != "op":
            continue
        data["inputs"] = [_moved(r, replaced) for r in data["inputs"]]
        if data.get("attr_arrays"):
            data["attr_arrays"] = {k: _moved(r, replaced) for k, r in data["attr_arrays"].items()}
        signature = _signature(data)
        if signature is None:
            continue
        signature += (epoch[node],)  # never one op for two sides of an in-place write
        kept = seen.get(signature)
        if kept is None:
            seen[signature] = node
            continue
        replaced[node] = kept
        for successor in list(graph.successors(node)):
            for _, _, edge in [(node, successor, graph.edges[node, successor])]:
                graph.add_edge(kept, successor, **edge)
        graph.remove_node(node)
    return graph, [_moved(r, replaced) for r in outputs]


def _moved(ref, replaced):
    if ref is None:  # a gradient that is not there (an input the output does not use)
        return None
    if is_aux(ref):
        return (replaced.get(ref[0], ref[0]), ref[1])
    return replaced.get(ref, ref)


def _must_run(data):
    """An op every replay runs as often as it was traced: an impure primitive (a
    collective, which the other ranks wait for), or one that draws random numbers (so
    that the generator's stream stays eager's, even where a draw goes unused)."""
    return not getattr(data["op"], "pure", True) or "generator" in data["attrs"]


def _signature(data):
    """What makes two ops the same computation; None for those that never are."""
    if _must_run(data):
        return None
    try:
        attrs = tuple(sorted((k, _hashable(v)) for k, v in data["attrs"].items()))
        return (data["op"], tuple(data["inputs"]), attrs, str(data["device"]), data["phase"])
    except _Unhashable:
        return None


class _Unhashable(Exception):
    pass


def _hashable(value):
    if isinstance(value, (tuple, list)):
        return tuple(_hashable(v) for v in value)
    try:
        hash(value)
    except TypeError:
        raise _Unhashable from None
    return (type(value).__name__, value)


def fold_constants(graph, outputs, frozen):
    """Compute once, at compile time, every op whose inputs are all frozen constants
    (numbers and tensors made from Python values, which no caller can change); each
    becomes a constant node. Parameters are not frozen: they change between calls."""
    from ..tensor import Tensor

    graph = graph.copy()
    value = {n: graph.nodes[n]["tensor"]._data for n in graph
             if graph.nodes[n]["kind"] == "const" and id(graph.nodes[n]["tensor"]) in frozen}
    for node in list(graph):
        data = graph.nodes[node]
        if data["kind"] != "op" or _signature(data) is None or data["returns_aux"]:
            continue
        if not all(not is_aux(r) and r in value for r in data["inputs"]):
            continue
        result = data["op"].forward(data["backend"], *(value[r] for r in data["inputs"]),
                                    **data["attrs"])
        value[node] = result
        predecessors = list(graph.predecessors(node))
        graph.remove_edges_from([(p, node) for p in predecessors])
        folded = dict(kind="const", tensor=Tensor._make(result, data["device"]),
                      phase=data["phase"], folded=data["op"].op_name)
        data.clear()
        data.update(folded)
    return graph, outputs


def effects(graph):
    """The effect nodes (a training step's state changes), which every pass keeps."""
    return [n for n in graph if graph.nodes[n]["kind"] == "effect"]


def barriers(graph):
    """{node: how many memory-writing effects come before it}: ops of different counts
    may read one buffer before and after it changes, so no pass merges or moves them
    across."""
    count, epoch = 0, {}
    for node in sorted(graph, key=lambda n: n[1] if n[0] in ("op", "effect") else -1):
        epoch[node] = count
        if graph.nodes[node]["kind"] == "effect" and graph.nodes[node]["mutates"]:
            count += 1
    return epoch


def size(graph):
    """Ops in the graph (what explain() reports after each pass)."""
    return sum(1 for n in graph if graph.nodes[n]["kind"] == "op")
