"""Dynamic axes: which sizes in a traced graph follow an input's size, found by tracing
twice.

A trace records sizes as numbers (a reshape to (8, -1) becomes (8, 96)), so nothing in
one graph says which 8 is the batch. The model is traced again with each dynamic axis
one longer; the sizes that change between the two graphs are the ones that follow the
inputs, and only those are written symbolically: a reshape copies the size from its
input (0) or infers it (-1), an expand keeps the input's size (1). Anything else that
changes (a tensor made inside the model from a size, a convolution over a dynamic image
side) is refused in words rather than written with one trace's numbers.
"""
import numpy as np

from .. import ops


def normalize(dynamic_axes, input_names, output_names):
    """{name: {axis: label}} from PyTorch's forms: {name: {axis: label}} or {name: [axes]}
    (labels made up as PyTorch makes them)."""
    known = list(input_names) + list(output_names)
    result = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in known:
            raise ValueError(f"onnx.export: dynamic_axes names {name!r}, which is not one of the "
                             f"input_names or output_names ({', '.join(known) or 'none given'})")
        if isinstance(axes, dict):
            result[name] = {int(a): str(label) for a, label in axes.items()}
        else:
            result[name] = {int(a): f"{name}_dynamic_axes_{k + 1}" for k, a in enumerate(axes)}
    return result


def grown(tensor, axes):
    """`tensor` one longer along each axis in `axes`, by repeating its first slice (values
    the model already accepts, such as valid token ids)."""
    for axis in sorted(axes):
        if not -tensor.dim() <= axis < tensor.dim():
            raise ValueError(f"onnx.export: dynamic axis {axis} is out of range for an input of "
                             f"shape {tuple(tensor.shape)}")
        if tensor.shape[axis] == 0:
            raise ValueError(f"onnx.export: dynamic axis {axis} of an input of shape "
                             f"{tuple(tensor.shape)} is empty; trace with at least one element")
        tensor = ops.cat([tensor, tensor.narrow(axis, 0, 1)], axis)
    return tensor


class Variation:
    """What changed between the two traces: `shapes` {node: (shape, longer shape)},
    `ranges` {const node: (n, m)} for an arange(n) made inside the model, `indexes`
    {slice node: (index, longer index)} for slice bounds taken from a size."""

    def __init__(self):
        self.shapes, self.ranges, self.indexes = {}, {}, {}


def varying(graph, other, shape_of):
    """The Variation between `graph` and `other` (the same model traced with longer
    dynamic axes). Raises where the two differ in a way one file cannot hold."""
    found = Variation()
    for kind in ("arg", "const", "op"):
        mine = sorted((n for n in graph if graph.nodes[n]["kind"] == kind), key=repr)
        theirs = sorted((n for n in other if other.nodes[n]["kind"] == kind), key=repr)
        if kind == "op":
            mine.sort(key=lambda n: n[1])
            theirs.sort(key=lambda n: n[1])
        if len(mine) != len(theirs) or any(
                kind == "op" and graph.nodes[a]["op"] is not other.nodes[b]["op"]
                for a, b in zip(mine, theirs)):
            raise RuntimeError("onnx.export: the model's graph changes with the size of a "
                               "dynamic axis (Python control flow depends on it), so one "
                               "file cannot serve every size")
        for a, b in zip(mine, theirs):
            shape, longer = shape_of(graph, a), shape_of(other, b)
            if shape != longer:
                found.shapes[a] = (shape, longer)
                if kind == "const":
                    found.ranges[a] = _as_range(graph.nodes[a]["tensor"],
                                                other.nodes[b]["tensor"])
            if kind == "op":
                _compare_attrs(a, graph.nodes[a], other.nodes[b], found)
    return found


def _as_range(mine, theirs):
    """(n, m) where a tensor made in the model is arange(n) in one trace and arange(m)
    in the other (positions for a sequence); anything else is refused."""
    a, b = (np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t)
            for t in (mine, theirs))
    if a.ndim == b.ndim == 1 and np.array_equal(a, np.arange(len(a))) \
            and np.array_equal(b, np.arange(len(b))):
        return len(a), len(b)
    raise NotImplementedError("onnx.export: a tensor made inside the model takes its size "
                              "from a dynamic axis (other than arange(size)); the file would "
                              "keep the traced size")


def _same(a, b, values):
    """Equal attributes; arrays that are values of the graph (`values`: their ids, such
    as token ids indexing an embedding) are inputs of the op, compared as such."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y, values) for x, y in zip(a, b))
    if hasattr(a, "shape") or hasattr(b, "shape"):
        return id(a) in values or np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


def _compare_attrs(node, mine, theirs, found):
    values = set(mine.get("attr_arrays", {}))
    for key, value in mine["attrs"].items():
        if key == "shape" or _same(value, theirs["attrs"].get(key), values):
            continue
        if key == "index" and mine["op"] in (ops.indexing._slice, ops.indexing._select):
            found.indexes[node] = (value, theirs["attrs"][key])
            continue
        if key == "index" and mine["op"] is ops.indexing._index and len(value) == 1:
            found.indexes[node] = ((("arange", _as_range(value[0], theirs["attrs"][key][0])),),
                                   None)
            continue
        raise NotImplementedError(
            f"onnx.export: {mine['op'].op_name}'s {key} follows a dynamic axis "
            f"({value} vs {theirs['attrs'].get(key)}); only reshapes, expands, slices and "
            f"shape-agnostic ops may take dynamic sizes")


def source_of(sizes, sources):
    """Where to read a size that follows dynamic axes at run time: (input name, axis)."""
    if tuple(sizes) not in sources:
        raise NotImplementedError(f"onnx.export: a size that follows a dynamic axis "
                                  f"({sizes[0]} when traced) is no input's size")
    return sources[tuple(sizes)]


def bounds(op_name, index, longer, sources):
    """A slice's index with each bound that follows a dynamic axis (differs between the
    traces) replaced by where to read it at run time: (input name, axis); an arange of
    a dynamic size, by ("arange", where to read the size)."""
    if longer is None:
        ((kind, sizes),) = index
        return (("arange", source_of(sizes, sources)),)
    def read(a, b):
        if a == b:
            return a
        return source_of((a, b), sources)

    result = []
    for p, q in zip(index, longer):
        if isinstance(p, slice):
            result.append(slice(read(p.start, q.start), read(p.stop, q.stop), p.step))
        else:
            result.append(read(p, q))
    return tuple(result)


def sizes(args_varying, input_names):
    """{(traced size, longer size): (input name, axis)}: where a size can be read at run
    time, from an input's shape."""
    found = {}
    for i, pair in args_varying.items():
        for axis, (n, m) in enumerate(zip(*pair)):
            if n != m:
                found.setdefault((n, m), (input_names[i], axis))
    return found


def reshape_target(op_name, target, varies, sources):
    """The Reshape shape for a traced `target` whose sizes follow dynamic axes: 0 copies
    the input's size at that place, (input name, axis) reads an input's size at run time,
    and -1 infers the one left (a product of sizes, such as batch x time)."""
    (shape, longer), (in_shape, in_longer) = varies
    result = list(target)
    left = []
    for p in range(len(shape)):
        if shape[p] == longer[p]:
            continue
        if p < len(in_shape) and in_shape[p] == shape[p] and in_longer[p] == longer[p]:
            result[p] = 0
        else:
            left.append(p)
    for p in left if len(left) > 1 else ():
        if (shape[p], longer[p]) in sources:
            result[p] = sources[shape[p], longer[p]]
    unknown = [p for p in left if isinstance(result[p], int)]
    if len(unknown) > 1:
        raise NotImplementedError(
            f"onnx.export: {op_name} to {tuple(target)} has more than one size that follows "
            f"dynamic axes and is neither its input's nor an input's: it cannot be written "
            f"as one ONNX Reshape")
    for p in unknown:
        result[p] = -1
    return result


def expand_target(op_name, target, in_shape, in_longer, longer):
    """The Expand shape: 1 where the size follows a dynamic axis the input already has."""
    lead = len(target) - len(in_shape)
    result = list(target)
    for p, (n, m) in enumerate(zip(target, longer)):
        if n == m:
            continue
        q = p - lead
        if q < 0 or in_shape[q] != n or in_longer[q] != m:
            raise NotImplementedError(f"onnx.export: {op_name} broadcasts a dynamic axis the "
                                      f"input does not have")
        result[p] = 1
    return result
