"""The memory plan: a fused group writes its result into the buffer of a value that is
dead by then, rather than into new memory, when the two have the same shape, dtype and
device.

Liveness is read off the replay order. A buffer may be reused only when nothing can
still see it: it was made by a fused group (a kernel's fresh result, never a view), it
is not a result of the function, not saved for backward, not handed to an effect (a
`.grad` adopts its memory), and every op that reads it returns new memory (a fused
group, a matrix product, a reduction: the trace saw each op's results own their
memory), where a reshape or a transpose would keep a view of it alive.
"""
from .trace import is_aux, producer


def plan(graph, order, outputs):
    """{node: earlier node whose buffer it writes into}, for the fused groups in `order`
    (the ops and effects of one generated function, in replay order)."""
    position = {node: i for i, node in enumerate(order)}
    # a group's kernel can write into another buffer (`out=`), and its own buffer can
    # be written into later unless someone can still see it (`reusable` says which)
    takes_out = {node for node in order if _fused(graph.nodes[node])
                 and graph.nodes[node]["shape"] != ()}
    last_read, reusable = {}, dict.fromkeys(takes_out, True)
    for node in order:
        data = graph.nodes[node]
        for ref in list(data["inputs"]) + list(data.get("attr_arrays", {}).values()):
            source = producer(ref)
            if source in reusable and (is_aux(ref) or not data.get("fresh")):
                reusable[source] = False
            last_read[source] = position[node]
    for ref in outputs:
        if ref is not None:
            reusable[producer(ref)] = False
    free, reuse, dying = {}, {}, {}
    for source, at in last_read.items():
        if reusable.get(source):
            dying.setdefault(at, []).append(source)
    for i, node in enumerate(order):
        data = graph.nodes[node]
        if node in takes_out:
            spare = free.get(_slot(data))
            if spare:
                reuse[node] = spare.pop()
        for dead in dying.get(i, ()):
            free.setdefault(_slot(graph.nodes[dead]), []).append(dead)
    return reuse


def _fused(data):
    """An elementwise fused group (whose kernel takes `out=`; a fused sum does not, nor
    does a product with its epilogue)."""
    return (data["kind"] == "op" and "members" in data and not data.get("reduces")
            and hasattr(data["op"], "ufunc"))


def _slot(data):
    return (data["shape"], data["dtype"], str(data["device"]))
