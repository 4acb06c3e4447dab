"""vmap by batching rules: trace the function on one example (engine.compile's tracer),
then run its graph once on the whole batch, each primitive through its batching rule.

Values carry their batch dimension first. The rules, keyed by primitive:
- elementwise ops (one scalar kernel, or `where`): batched operands get singleton
  dimensions after the batch one, up to the highest per-example rank, so that NumPy's
  right-aligned broadcasting lines examples up;
- reductions, softmax and the like: their `dim`/`dims` shift past the batch dimension;
- reshapes and expands: the batch size leads the new shape; permutes keep it first;
- matrix products of matrices, linear layers over batched inputs and dtype conversions:
  as they are, since they broadcast over leading dimensions;
- indexing: one more leading `:` in the index; im2col and col2im (convolutions): the
  batch joins their own first dimension; cross-entropy (forward and backward): every
  example's rows in one kernel call, each example reduced on its own; MSE and binary
  cross-entropy: elementwise, then each example reduced on its own.
Any other op runs once per example and its results are stacked, with a one-time
warning naming it. A function whose trace breaks (data-dependent Python, random
numbers) or whose result must stay differentiable is mapped by the plain loop.
"""
import math
import warnings

from .autograd.grad_mode import is_grad_enabled, no_grad
from .compiler.fusion import scalar_call_with
from .compiler.trace import GraphBreak, Tracer, is_aux, producer
from .ops import activation, conv, conversion, indexing, linalg, loss, reduction, shape
from . import pytree, tracing
from .tensor import Tensor

_warned = set()


def run(func, example_args, batched_args, size, out_dims):
    """func over the batch, or None where the loop must do it. example_args: the
    arguments of example 0; batched_args: (tensor, batch dim) for each tensor leaf of
    example_args, in order, dim None for an unbatched one."""
    leaves = pytree.leaves(example_args)
    if is_grad_enabled() and any(t.requires_grad for t, _ in batched_args):
        return None  # the result must be differentiable: the loop keeps the graph
    if tracing.TRACER[0] is not None:
        return None  # inside another trace (a vmap of a vmap): the loop is traced as ops
    tracer = Tracer(fullgraph=True)
    try:
        with no_grad() if not is_grad_enabled() else _nothing(), tracer:
            for i, t in enumerate(leaves):
                tracer.add_input(t, "arg", i)
            result = func(*example_args)
            outs, template = pytree.leaves(result), pytree.skeleton(result)
            refs = [tracer.node_of(t) for t in outs]
    except GraphBreak:
        return None
    graph = tracer.graph
    if any(type(v).__name__ == "Generator" for n in graph
           for v in graph.nodes[n].get("attrs", {}).values()):
        return None  # random ops: the loop implements the randomness modes
    values = {}  # node -> (array, batched, extra arrays or None)
    for i, (t, dim) in enumerate(batched_args):
        values[("arg", i)] = (_first(t, dim) if dim is not None else t._data, dim is not None,
                              None)
    for node in sorted((n for n in graph if graph.nodes[n]["kind"] == "op"), key=lambda n: n[1]):
        data = graph.nodes[node]
        values[node] = _apply(data, [_value(graph, values, r) for r in data["inputs"]],
                              {array_id: _value(graph, values, r) for array_id, r in
                               data.get("attr_arrays", {}).items()}, size)
    results = []
    for t, ref in zip(outs, refs):
        array, batched = _value(graph, values, ref)
        if not batched:
            array = t._backend.broadcast_to(array, (size,) + tuple(array.shape))
        results.append(Tensor._make(array, t._device))
    return _place(pytree.rebuild(template, iter(results)), out_dims)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _first(t, dim):
    """t's array with the batch dimension moved to the front (a view)."""
    order = (dim,) + tuple(d for d in range(t.dim()) if d != dim)
    return t._backend.permute(t._data, order)


def _value(graph, values, ref):
    """(array, batched) of a reference: a node's result, or one of its extra arrays."""
    node = producer(ref)
    if node not in values:  # a constant
        return graph.nodes[node]["tensor"]._data, False
    array, batched, extras = values[node]
    return (extras[ref[1]], batched) if is_aux(ref) else (array, batched)


def _apply(data, inputs, attr_values, size):
    """One op over the batch: (result, batched, extra arrays or None)."""
    op, K, attrs = data["op"], data["backend"], data["attrs"]
    attrs = _substitute(attrs, {k: v[0] for k, v in attr_values.items()})
    batched = [b for _, b in inputs] + [b for _, b in attr_values.values()]
    arrays = [a for a, _ in inputs]
    if not any(batched):
        out = op.forward(K, *arrays, **attrs)
    else:
        rule = _rule(op, attrs) if not any(b for _, b in attr_values.values()) else None
        out = rule(op, K, inputs, attrs) if rule is not None else None
        if out is None:
            out = _loop(data, inputs, attr_values, attrs, size)
    if data["returns_aux"]:
        return out[0], any(batched), out[1]
    return out, any(batched), None


def _rank(array, batched):
    return array.ndim - 1 if batched else array.ndim


def _rule(op, attrs):
    if op in _RULES:
        return _RULES[op]
    return _elementwise if scalar_call_with(op, attrs) is not None else None


def _lined_up(K, inputs):
    """The arrays, each batched one given singleton dimensions after the batch one up to
    the highest per-example rank: NumPy aligns dimensions from the right, and would
    otherwise line a short example's batch up against a long one's own dimensions."""
    rank = max(_rank(a, b) for a, b in inputs)
    lined_up = []
    for array, batched in inputs:
        if batched and array.ndim - 1 < rank:
            array = K.reshape(array, (array.shape[0],) + (1,) * (rank - array.ndim + 1)
                              + tuple(array.shape[1:]))
        lined_up.append(array)
    return lined_up


def _elementwise(op, K, inputs, attrs):
    return op.forward(K, *_lined_up(K, inputs), **attrs)


def _elementwise_loss(op, K, inputs, attrs):
    """Losses that are elementwise before their reduction (MSE, BCE): the per-element
    losses of every example at once, then each example reduced on its own."""
    losses = _elementwise(op, K, inputs, {**attrs, "reduction": "none"})
    if attrs["reduction"] == "none":
        return losses
    total = K.sum(losses, tuple(range(1, losses.ndim)))
    if attrs["reduction"] == "sum":
        return total
    return K.div(total, math.prod(losses.shape[1:]))


def _shifted(name):
    """A rule for ops whose attribute `name` holds one dim or a tuple of them."""
    def rule(op, K, inputs, attrs):
        (array, batched), = inputs[:1]
        if not batched or any(b for _, b in inputs[1:]):
            return None
        rank = array.ndim - 1
        value = attrs[name]
        if rank == 0:  # a 0-d example: a reduction over it keeps each value as it is
            if not isinstance(value, tuple):
                return None  # softmax of a 0-d example: the loop gets it right
            dtype = attrs.get("dtype")
            return K.copy(array) if dtype is None else K.astype(array, dtype)
        shifted = (tuple(d % rank + 1 for d in value) if isinstance(value, tuple)
                   else value % rank + 1)
        return op.forward(K, *[a for a, _ in inputs], **{**attrs, name: shifted})

    return rule


def _new_shape(op, K, inputs, attrs):
    (array, batched), = inputs
    return op.forward(K, array, **{**attrs, "shape": (array.shape[0],) + tuple(attrs["shape"])})


def _expanded(op, K, inputs, attrs):
    """expand to more dimensions than the example has: the new ones go after the batch
    dimension (NumPy would put them before it)."""
    (array, batched), = inputs
    missing = len(attrs["shape"]) - (array.ndim - 1)
    if missing > 0:
        array = K.reshape(array, (array.shape[0],) + (1,) * missing + tuple(array.shape[1:]))
    return _new_shape(op, K, [(array, batched)], attrs)


def _permuted(op, K, inputs, attrs):
    (array, batched), = inputs
    rank = array.ndim - 1
    return op.forward(K, array, **{**attrs, "dims": (0,) + tuple(d % rank + 1
                                                                 for d in attrs["dims"])})


def _products(op, K, inputs, attrs):
    """Matrix products broadcast over leading dimensions, as elementwise ops do."""
    if any(_rank(a, b) < 2 for a, b in inputs):
        return None  # a vector operand: matmul's 1-d rules would see the batch as a dim
    return op.forward(K, *_lined_up(K, inputs), **attrs)


def _matrix_vector(op, K, inputs, attrs):
    """A (m, n) times v (n,): a batch of vectors is a matrix product with A's transpose;
    a batch of matrices takes the vector as NumPy's matmul does; both, a batched product
    of matrices and columns."""
    (a, a_batched), (v, v_batched) = inputs
    if not a_batched:
        return K.matmul(v, K.permute(a, (1, 0)))
    if not v_batched:
        return K.matmul(a, v)
    column = K.matmul(a, K.reshape(v, tuple(v.shape) + (1,)))
    return K.reshape(column, tuple(column.shape[:-1]))


def _indexed(op, K, inputs, attrs):
    """Indexing (and its gradient, which adds into a zero tensor of the input's shape):
    the batch dimension is one more leading `:` in the index. An index holding more than
    one array is left to the loop: NumPy would move separated array dimensions first."""
    index = attrs["index"] if isinstance(attrs["index"], tuple) else (attrs["index"],)
    if sum(hasattr(part, "shape") or isinstance(part, list) for part in index) > 1:
        return None
    (array, batched), = inputs
    new = {**attrs, "index": (slice(None),) + index}
    if "shape" in attrs:  # the gradient of indexing: zeros of the batched input's shape
        new["shape"] = (array.shape[0],) + tuple(attrs["shape"])
    return op.forward(K, array, **new)


def _merged(op, K, inputs, attrs):
    """Ops whose first dimension is already a batch (im2col and col2im): the vmap batch
    joins it, and leaves it again afterwards."""
    (array, batched), = inputs
    size, per = array.shape[0], array.shape[1]
    out = op.forward(K, K.reshape(array, (size * per,) + tuple(array.shape[2:])), **attrs)
    return K.reshape(out, (size, per) + tuple(out.shape[1:]))


def _rows(K, inputs, size):
    """The per-row operands of a row-wise loss with the batch folded into the rows (an
    unbatched one repeated for each example); None where the class weights are batched."""
    *rowwise, (weights, weights_batched) = inputs
    if weights_batched:
        return None
    merged = []
    for array, batched in rowwise:
        if not batched:
            array = K.broadcast_to(array, (size,) + tuple(array.shape))
        merged.append(K.reshape(K.copy(array) if not batched else array,
                                (size * array.shape[1],) + tuple(array.shape[2:])))
    return merged + [weights]


def _cross_entropy(op, K, inputs, attrs):
    """Cross-entropy of (N, C) logits: every example's rows in one kernel call, then each
    example's own reduction (its total weight for 'mean')."""
    size, rows = next(a.shape[:2] for a, b in inputs if b)
    merged = _rows(K, inputs, size)
    if merged is None or len(merged[0].shape) != 2:
        return None
    losses, weights = K.cross_entropy_rows(*merged, attrs["ignore_index"])
    losses, weights = K.reshape(losses, (size, rows)), K.reshape(weights, (size, rows))
    total_weight = K.sum(weights, (1,))
    reduction = attrs["reduction"]
    if reduction == "none":
        return losses, {"total_weight": total_weight}
    summed = K.sum(losses, (1,))
    return (summed if reduction == "sum" else K.div(summed, total_weight),
            {"total_weight": total_weight})


def _cross_entropy_backward(op, K, inputs, attrs):
    """Each example's loss gradient spread over its rows (divided by its own total weight
    for 'mean'), then every example's rows in one kernel call."""
    (g, g_batched), (x, x_batched), *classes, (total_weight, tw_batched) = inputs
    size = next(a.shape[0] for a, b in inputs if b)
    rows = x.shape[1] if x_batched else x.shape[0]
    if attrs["reduction"] != "none":
        g = K.reshape(g, (size, 1)) if g_batched else g
        if attrs["reduction"] == "mean":
            if tw_batched:
                total_weight = K.reshape(total_weight, (size, 1))
            g = K.div(g, K.where(K.eq(total_weight, 0), 1.0, total_weight))
        g, g_batched = K.broadcast_to(g, (size, rows)), True
    merged = _rows(K, [(g, g_batched), (x, x_batched), *classes], size)
    if merged is None or len(merged[1].shape) != 2:
        return None
    out = K.cross_entropy_backward_rows(*merged, attrs["ignore_index"])
    return K.reshape(out, (size, rows) + tuple(out.shape[1:]))


def _as_is(op, K, inputs, attrs):
    """Ops of one input that act on each element alone (a dtype conversion)."""
    return op.forward(K, *[a for a, _ in inputs], **attrs)


def _linear(op, K, inputs, attrs):
    if any(batched for (_, batched), name in zip(inputs, op.inputs) if name != "x"):
        return None  # a batch of weights or biases
    return op.forward(K, *[a for a, _ in inputs], **attrs)


_RULES = {
    **dict.fromkeys((reduction._sum_all, reduction._sum_dims, reduction._mean_all,
                     reduction._mean_dims, reduction._amax, reduction._amin), _shifted("dims")),
    **dict.fromkeys((activation._softmax, activation._log_softmax,
                     activation._softmax_backward, activation._log_softmax_backward),
                    _shifted("dim")),
    **dict.fromkeys((shape._view, shape._reshape_copy, shape._squeeze, shape._squeeze_dim,
                     shape._unsqueeze), _new_shape),
    shape._expand: _expanded,
    **dict.fromkeys((shape._permute, shape._transpose, shape._t), _permuted),
    linalg._mm: _products, linalg._bmm: _products, linalg._mv: _matrix_vector,
    conversion._to_dtype: _as_is,
    **dict.fromkeys((indexing._select, indexing._slice, indexing._index,
                     indexing._index_backward), _indexed),
    conv._unfold: _merged, conv._fold: _merged,
    loss._ce: _cross_entropy, loss._ce_backward: _cross_entropy_backward,
    loss._mse: _elementwise_loss, loss._bce_logits: _elementwise_loss,
    loss._bce: _elementwise_loss,
    linalg._linear: _linear, linalg._linear_no_bias: _linear,
}


def _loop(data, inputs, attr_values, attrs, size):
    """The op once per example, results stacked: for ops without a rule."""
    op, K = data["op"], data["backend"]
    if op.op_name not in _warned:
        _warned.add(op.op_name)
        warnings.warn(f"vmap: {op.op_name} has no batching rule, so it runs once per example "
                      f"(slower, same values)", UserWarning, stacklevel=4)
    results, extras = [], []
    for i in range(size):
        arrays = [a[i] if b else a for a, b in inputs]
        mine = _substitute(data["attrs"], {k: (v[0][i] if v[1] else v[0])
                                           for k, v in attr_values.items()})
        out = op.forward(K, *arrays, **mine)
        if data["returns_aux"]:
            out, aux = out
            extras.append(aux)
        results.append(out)
    stacked = K.stack(results, 0)
    if data["returns_aux"]:
        return stacked, {name: K.stack([e[name] for e in extras], 0) for name in extras[0]}
    return stacked


def _substitute(value, arrays):
    """attrs with each traced index array (by id) replaced by this call's value."""
    if isinstance(value, dict):
        return {k: _substitute(v, arrays) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_substitute(v, arrays) for v in value)
    return arrays.get(id(value), value)


def _place(result, out_dims):
    """The results with their batch dimension moved from the front to out_dims."""
    if isinstance(result, Tensor):
        dim = (out_dims if isinstance(out_dims, int) else 0) % max(result.dim(), 1)
        if not dim:
            return result
        order = list(range(1, result.dim()))
        order.insert(dim, 0)
        return result.permute(*order)
    if isinstance(result, (tuple, list)):
        dims = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(result)
        items = [_place(r, d) for r, d in zip(result, dims)]
        return type(result)(*items) if hasattr(result, "_fields") else type(result)(items)
    if isinstance(result, dict):
        return {k: _place(v, out_dims) for k, v in result.items()}
    return result
