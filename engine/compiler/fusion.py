"""Fusion: maximal groups of elementwise ops become one generated kernel each.

Which ops are elementwise is read off the op table itself: a primitive whose forward,
run on a probe backend, makes exactly one call to a scalar kernel of `kernels.scalar`
(`lambda K, a, b: K.mul(a, b)`) with its inputs and numbers as arguments; dtype
conversions join them. A group is a tree of such ops on one device, in one phase, in
which every value but the root's is used once, by the group: so the group's result is
the only value that leaves it, and the kernel (a numpy ufunc on the CPU, one launch on
CUDA, broadcasting as the ops did) computes nothing twice. Its values may change dtype
on the way (`(t == 0).to(t.dtype) + t`): each step keeps its own.
"""
import functools

import numpy as np

from kernels import scalar

from .passes import barriers
from .trace import is_aux, producer


# numba's compile time grows with a kernel's length: a 10,000-op chain would be one
# kernel taking minutes to compile. Groups stop at this many ops (a chain of them then
# reuses one kernel, whose source is the same for every link).
MAX_GROUP = 32


class _Input:
    def __init__(self, index):
        self.index = index


class _Probe:
    """A stand-in backend: records the one kernel call a forward makes."""

    def __getattr__(self, name):
        return lambda *args, **kwargs: ("call", name, args, kwargs)


@functools.cache
def scalar_call(op):
    """(scalar name, args) if the primitive's forward is one call of a scalar kernel of
    kernels.scalar (or `where`) on its inputs and numbers: an op that broadcasts."""
    return None if op.attrs else scalar_call_with(op, {})


def scalar_call_with(op, attrs):
    """scalar_call for one application, its attributes given (`x ** 2` is one kernel
    call with the exponent as a number)."""
    if op.variadic:
        return None
    try:
        result = op.forward(_Probe(), *(_Input(i) for i in range(len(op.inputs))), **attrs)
    except Exception:
        return None
    if not (isinstance(result, tuple) and len(result) == 4 and result[0] == "call"):
        return None
    _, name, args, kwargs = result
    if kwargs or (name not in scalar.NAMES and name != "where"):
        return None
    if not all(isinstance(a, _Input) or type(a) in (int, float) for a in args):
        return None
    return name, tuple(("in", a.index) if isinstance(a, _Input) else a for a in args)


def elementwise_form(graph, node):
    """(name, args) of a step for an op fusion can take, else None: a scalar kernel call
    on operands of one dtype (bool where the kernel reads bool), giving the dtype the
    kernel gives; or a conversion numpy and numba round alike (to a float, or from bool
    to an integer)."""
    from ..ops import conversion

    data = graph.nodes[node]
    if data["op"] is conversion._to_dtype:
        source, target = _dtype(graph, data["inputs"][0]), data["dtype"]
        return ("astype", (("in", 0),)) if target.kind == "f" or (
            source.kind == "b" and target.kind in "iu") else None
    form = scalar_call(data["op"])
    if form is None:
        return None
    fn = getattr(scalar, form[0])
    kinds = [_dtype(graph, ref) for ref in data["inputs"]]
    typed = {d for d, t in zip(kinds, fn.arg_types) if t is None}
    if len(typed) != 1 or any(d != np.bool_ for d, t in zip(kinds, fn.arg_types) if t):
        return None
    result = np.dtype(np.bool_) if fn.returns == "bool" else typed.pop()
    return form if data["dtype"] == result else None


def operand_dtype(graph, node):
    """The dtype a step reads its numbers in: its operands' (the bool condition of a
    `where` aside)."""
    data = graph.nodes[node]
    name, _ = elementwise_form(graph, node)
    types = (None,) if name == "astype" else getattr(scalar, name).arg_types
    return next(_dtype(graph, ref) for ref, t in zip(data["inputs"], types)
                if t is None)


class FusedOp:
    """The primitive-like stand-in for a group; codegen calls its `ufunc` directly (a numpy
    ufunc on the CPU, a fused elementwise launcher on CUDA)."""

    attrs = frozenset()

    def __init__(self, names, steps, n_inputs, dtype, backend, types=None):
        self.op_name = "fused[" + "+".join(names) + "]"
        self.steps, self.n_inputs, self.dtype, self.types = steps, n_inputs, dtype, types
        self.ufunc = backend.fused_kernel(steps, n_inputs, dtype, types)

    def forward(self, K, *arrays):
        """As a primitive's forward (constant folding and tests call it so)."""
        result = self.ufunc(*arrays)
        return np.asarray(result) if isinstance(result, np.generic) else result


class FusedSum(FusedOp):
    """A fused group with the sum (or mean) that reads it: the chain's values are summed
    as they are computed, never stored (the group's inputs of its shape, or 0-d
    numbers). A mean then divides the sums by `count` with the `div` kernel, as the
    mean's own forward (a sum, then that division) does. With `keep` (other ops read the
    group's values too: a bias gradient beside the products that read the same
    gradient) the values are stored on the way, and the sum is the extra array "sum"."""

    def __init__(self, group, dims, keepdim, scalars, backend, count=None, keep=False):
        self.op_name = group.op_name[:-1] + ("+sum]" if count is None else "+mean]")
        self.steps = group.steps
        run = backend.fused_sum_kernel(group.steps, group.n_inputs, group.dtype,
                                       tuple(sorted(dims)), keepdim, scalars, keep)

        def finish(total):
            return total if count is None else backend.div(total, count)

        if keep:
            def ufunc(*arrays):
                values, total = run(*arrays)
                return values, {"sum": finish(total)}
            self.ufunc = ufunc
        else:
            self.ufunc = run if count is None else lambda *arrays: finish(run(*arrays))


def uses(graph, outputs):
    """How many times each node's value is read (by ops, or as an output)."""
    count = {n: 0 for n in graph}
    for node in graph:
        data = graph.nodes[node]
        if data["kind"] in ("op", "effect"):
            for ref in list(data["inputs"]) + list(data.get("attr_arrays", {}).values()):
                count[producer(ref)] += 1
    for ref in outputs:
        if ref is not None:
            count[producer(ref)] += 1
    return count


def fuse(graph, outputs):
    """A new graph in which each group of elementwise ops is one op."""
    graph = graph.copy()
    count = uses(graph, outputs)
    epoch = barriers(graph)
    group = {}
    for node in sorted((n for n in graph if _fusible(graph, n)), key=lambda n: n[1]):
        data = graph.nodes[node]
        members = [node]
        for ref in data["inputs"]:
            source = producer(ref)
            if (not is_aux(ref) and source in group and count[source] == 1
                    and graph.nodes[source]["phase"] == data["phase"]
                    and group[source] is not None
                    and all(epoch[m] == epoch[node] for m in group[source])
                    and len(members) + len(group[source]) <= MAX_GROUP):
                members += group[source]
                for m in group[source]:
                    group[m] = None  # absorbed into this node's group
        group[node] = members
    for root, members in list(group.items()):
        if members:  # a lone op too: its ufunc is called straight, without the dispatch
            _replace(graph, root, sorted(set(members), key=lambda n: n[1]))
    outputs = {producer(r) for r in outputs if r is not None}
    for node in sorted(graph):  # one at a time: an absorbed group absorbs no other sum
        if node in graph and _absorbs(graph, node, count, epoch, outputs):
            _absorb(graph, node, keep=count[producer(graph.nodes[node]["inputs"][0])] > 1)
    return graph


def _sums():
    """The primitives a fused group's sum can be absorbed into."""
    from ..ops import reduction

    return (reduction._sum_all, reduction._sum_dims, reduction._mean_all,
            reduction._mean_dims)


def _absorbs(graph, node, count, epoch, outputs):
    """A sum (or mean) over some dimensions of a fused group's result, in the same
    stretch between writes, with every group input of the result's shape (or a 0-d
    number, not all of them). Where other ops read the group's values too, the group
    keeps them (`FusedSum`'s keep) and sums them where it computes them: then the summed
    dimensions must be adjacent and the sum not a result of the function (its readers
    are rewired to the group); a write between the group and the sum does not matter
    when every reader of the values makes new memory, so nothing can write into them."""
    data = graph.nodes[node]
    if data["kind"] != "op" or data["op"] not in _sums():
        return False
    ref = data["inputs"][0]
    source = producer(ref)
    group = graph.nodes[source]
    dims = sorted(data["attrs"]["dims"])
    keep = count[source] > 1
    if not dims or (keep and (node in outputs or dims[-1] - dims[0] + 1 != len(dims))):
        return False
    unseen = keep and _unaliased(graph, source, node, outputs)
    return (not is_aux(ref) and "members" in group and not group.get("reduces")
            and group["op"].types is None and (epoch[source] == epoch[node] or unseen)
            and data["attrs"].get("dtype", group["dtype"]) == group["dtype"]
            and group["phase"] == data["phase"]
            and all(not is_aux(r) and _shape(graph, producer(r)) in (group["shape"], ())
                    for r in group["inputs"])
            and any(_shape(graph, producer(r)) == group["shape"] for r in group["inputs"]))


def _absorb(graph, node, keep):
    """Put one FusedSum node, keeping the sum's name, in place of the sum and its group;
    or, to `keep` the group's values, make the group a FusedSum whose extra array "sum"
    its readers read."""
    data = graph.nodes[node]
    source = producer(data["inputs"][0])
    group = graph.nodes[source]
    scalars = frozenset(i for i, r in enumerate(group["inputs"])
                        if _shape(graph, producer(r)) == () != group["shape"])
    op = FusedSum(group["op"], data["attrs"]["dims"], data["attrs"]["keepdim"], scalars,
                  data["backend"], data["attrs"].get("count"), keep)
    if keep:
        _keep_values(graph, node, source, op)
        return
    take_in(graph, node, source, dict(data, op=op, inputs=list(group["inputs"]), attrs={},
                                      members=group["members"] + [node], fresh=True,
                                      aliases=False, reduces=True))


def take_in(graph, node, source, merged):
    """`node` becomes `merged`, an op that also does the work of the one at `source`
    (which goes): it keeps its name, which what reads it refers to, and reads
    merged["inputs"]."""
    graph.remove_node(source)
    graph.nodes[node].clear()
    graph.nodes[node].update(merged)
    for ref in merged["inputs"]:
        graph.add_edge(producer(ref), node, aux=None)


def _unaliased(graph, source, total, outputs):
    """Whether no effect can see the buffer of `source`: every op that reads it (the sum
    `total` aside), or reads a view of it (a transpose, a reshape), makes memory of its
    own, and neither it nor a view of it is a result."""
    seen, stack = set(), [source]
    while stack:
        node = stack.pop()
        if node in outputs:
            return False
        for reader in graph.successors(node):
            if reader == total:
                continue
            data = graph.nodes[reader]
            if data["kind"] != "op":
                return False
            if data["aliases"] and reader not in seen:  # a view: follow its readers
                seen.add(reader)
                stack.append(reader)
    return True


def _keep_values(graph, node, source, op):
    """The group at `source` computes the sum at `node` too; the sum's readers read it
    as the group's extra array."""
    group = graph.nodes[source]
    group.update(op=op, members=group["members"] + [node], reduces=True, returns_aux=True,
                 aux_dtypes={"sum": graph.nodes[node]["dtype"]})
    move_readers(graph, node, source, {node: (source, "sum")})


def move_readers(graph, node, source, moved):
    """What read `node` reads the extra arrays of `source` that `moved` maps its
    references to (node itself, (node, extra name)); `node` goes."""
    for reader in list(graph.successors(node)):
        data = graph.nodes[reader]
        data["inputs"] = [moved.get(r, r) for r in data["inputs"]]
        if data.get("attr_arrays"):
            data["attr_arrays"] = {k: moved.get(r, r) for k, r in data["attr_arrays"].items()}
        reads = list(data["inputs"]) + list(data.get("attr_arrays", {}).values())
        graph.add_edge(source, reader, aux=next(r[1] for r in moved.values() if r in reads))
    graph.remove_node(node)


def _shape(graph, node):
    data = graph.nodes[node]
    return data["shape"] if data["kind"] in ("op", "effect") else data["tensor"]._data.shape


def _fusible(graph, node):
    data = graph.nodes[node]
    if data["kind"] != "op" or data["device"].type not in ("cpu", "cuda") \
            or data.get("attr_arrays"):
        return False
    # float16 and bfloat16 compute in float32 per op (kernels.cpu.narrow), unfused
    kinds = [data["dtype"]] + [_dtype(graph, r) for r in data["inputs"]]
    if any(d is None or d.kind not in "fiub" or (d.kind == "f" and d.itemsize == 2)
           for d in kinds):
        return False
    return elementwise_form(graph, node) is not None


def _dtype(graph, ref):
    """The dtype of a value: a node's, or an op's extra array's (None if not an array)."""
    data = graph.nodes[producer(ref)]
    if is_aux(ref):
        return data.get("aux_dtypes", {}).get(ref[1])
    return data["dtype"] if data["kind"] in ("op", "effect") else data["tensor"]._data.dtype


def _replace(graph, root, members):
    """Put one FusedOp node, keeping the root's name, in place of the group's ops."""
    inside = set(members)
    inputs, steps, where = [], [], {}
    for node in members:
        data = graph.nodes[node]
        name, args = elementwise_form(graph, node)
        mapped = []
        for arg in args:
            if not isinstance(arg, tuple):
                mapped.append(arg)
                continue
            ref = data["inputs"][arg[1]]
            if ref in inside:
                mapped.append(("step", where[ref]))
            else:
                if ref not in inputs:
                    inputs.append(ref)
                mapped.append(("in", inputs.index(ref)))
        where[node] = len(steps)
        steps.append((name, mapped))
    data = graph.nodes[root]
    types = (tuple(_dtype(graph, r).name for r in inputs),
             tuple(graph.nodes[m]["dtype"].name for m in members),
             tuple(operand_dtype(graph, m).name for m in members))
    if {data["dtype"].name} == set(types[0]) | set(types[1]) | set(types[2]):
        types = None  # one dtype throughout: the program's text says it once
    op = FusedOp([graph.nodes[m]["op"].op_name for m in members], steps, len(inputs),
                 data["dtype"], data["backend"], types)
    fused = dict(data, op=op, inputs=inputs, attrs={}, members=list(members), fresh=True,
                 aliases=False)
    graph.remove_nodes_from([m for m in members if m != root])
    graph.remove_edges_from(list(graph.in_edges(root)))
    graph.nodes[root].clear()
    graph.nodes[root].update(fused)
    for ref in inputs:
        graph.add_edge(producer(ref), root, aux=None)
    return graph


def groups(graph):
    """The fused ops' member lists (viz draws each as a cluster)."""
    return {n: graph.nodes[n]["members"] for n in graph if "members" in graph.nodes[n]}

