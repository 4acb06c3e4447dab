"""Library kernels that take in the op reading their result, as their epilogue.

A fused group is made of elementwise ops; the matrix products and the loss are library
kernels, and in a classifier's training step each is read at once by one more op:
- **an activation after a linear layer** (`relu(F.linear(x, w, b))`): the product's
  only reader is a fused group of that one value. The GEMM applies the group to each
  result as it writes it: in the CUDA kernel's epilogue, after the bias (one launch, not
  two; the pre-activation is never stored); on the CPU, the group's ufunc in place after
  BLAS. The values are the group's own, rounded as it rounds them.
- **the last layer's bias gradient**: `F.linear`'s bias gradient is the loss gradient
  summed over the batch, so the cross-entropy backward's (N, C) result is read by a
  matrix product and by a sum over its rows. On CUDA the backward's own launch adds the
  columns as its last block finishes (kernels/cuda/loss.py), saving the sum's launch; on
  the CPU the kernel then calls the sum kernel, as eager does. Either way the sums are
  the sum kernel's, bit for bit. Past COLUMN_SUM_LIMIT values one block summing every
  column would take longer than the launch it saves, so larger losses keep theirs.
- **the loss's own backward**: in a training step the cross-entropy backward reads the
  loss's total weight, and its gradient (the seed) is ready before the loss is. On CUDA
  the loss's launch computes the gradient too (kernels/cuda/loss.py: its last block,
  from the max and sum of exponentials each block kept of its rows), with the column
  sums if the backward had them; on the CPU the two kernels run one after the other.
  The same size limit holds, for the same reason.
"""
from .fusion import FusedOp, _keep_values, _unaliased, move_readers, take_in, uses
from .passes import barriers
from .trace import is_aux, producer

COLUMN_SUM_LIMIT = 1 << 14


class LinearActivation:
    """F.linear's primitive with a fused group of its result as the product's epilogue:
    `x @ w.T + bias`, then the group's steps, as K.matmul's `epilogue`."""

    attrs = frozenset()

    def __init__(self, linear, group, n_inputs):
        self.op_name = f"{linear.op_name}+{group.op_name[len('fused['):-1]}"
        self.epilogue = group.steps
        self.steps = [(linear.op_name, [("in", i) for i in range(n_inputs)])] + [
            (name, [("step", 0) if arg == ("in", 0) else
                    ("step", arg[1] + 1) if isinstance(arg, tuple) else arg for arg in args])
            for name, args in group.steps]

    def forward(self, K, *arrays):
        *bias, x, w = arrays
        return K.matmul(x, K.permute(w, (1, 0)), bias=bias[0] if bias else None,
                        epilogue=self.epilogue)


class CrossEntropyColumnSums:
    """The backward primitive's stand-in: the same inputs and attributes, and the sum over
    the rows as the extra array "sum" (`steps` name the two ops, for viz's cluster)."""

    def __init__(self, op, n_inputs, keepdim):
        self.op_name = f"fused[{op.op_name}+sum]"
        self.attrs = op.attrs
        self.steps = [(op.op_name, [("in", i) for i in range(n_inputs)]),
                      ("sum", [("step", 0)])]
        self.keepdim = keepdim

    def forward(self, K, g, x, target, weight, total_weight, *, ignore_index, reduction):
        out, sums = K.cross_entropy_backward_rows(
            g, x, target, weight, ignore_index,
            total_weight if reduction == "mean" else None, column_sums=True)
        return out, {"sum": K.reshape(sums, (1,) + sums.shape) if self.keepdim else sums}


class CrossEntropyAndGrad:
    """The loss primitive with its backward (and that backward's column sums, if it had
    them) taken in: the inputs are the loss's and then the gradient g; the results, the
    loss and the extra arrays "total_weight", "grad" and maybe "sum"."""

    def __init__(self, loss, backward, n_inputs, keepdim):
        inner = (backward.op_name[len("fused["):-1] if isinstance(backward, CrossEntropyColumnSums)
                 else backward.op_name)
        self.op_name = f"fused[{loss.op_name}+{inner}]"
        self.attrs = loss.attrs
        loss_inputs = [("in", i) for i in range(n_inputs)]
        self.steps = [(loss.op_name, loss_inputs),
                      ("cross_entropy_backward", [("in", n_inputs)] + loss_inputs + [("step", 0)])]
        if keepdim is not None:
            self.steps.append(("sum", [("step", 1)]))
        self.keepdim = keepdim  # None: no column sums

    def forward(self, K, x, target, weight, g, *, ignore_index, reduction):
        loss, total_weight, grad, sums = K.cross_entropy_and_grad(
            g, x, target, weight, ignore_index, reduction == "mean", self.keepdim is not None)
        extras = {"total_weight": total_weight, "grad": grad}
        if sums is not None:
            extras["sum"] = K.reshape(sums, (1,) + sums.shape) if self.keepdim else sums
        return loss, extras


def absorb(graph, outputs):
    """A new graph in which each linear layer applies the fused group that alone reads
    its result, each small cross-entropy backward whose rows are summed (and not as a
    result of the function) computes that sum too, and a small loss computes its own
    backward."""
    graph = graph.copy()
    count, epoch = uses(graph, outputs), barriers(graph)
    for node in sorted(graph):
        if node in graph and _activates_linear(graph, node, count, epoch):
            _take_in_linear(graph, node)
    results = {producer(r) for r in outputs if r is not None}
    for node in sorted(graph):
        if node in graph and _sums_rows_of_backward(graph, node, epoch, results):
            source = producer(graph.nodes[node]["inputs"][0])
            data = graph.nodes[source]
            op = CrossEntropyColumnSums(data["op"], len(data["inputs"]),
                                        graph.nodes[node]["attrs"]["keepdim"])
            data["members"] = [source]
            _keep_values(graph, node, source, op)
    for node in sorted(graph):
        if node in graph and _backward_of_loss(graph, node, epoch, results):
            _take_in_backward(graph, node)
    return graph


def _activates_linear(graph, node, count, epoch):
    """A fused group of one input, of one dtype throughout, whose input is the result of
    F.linear that nothing else reads (nor returns), with no write in between."""
    from ..ops import linalg

    data = graph.nodes[node]
    if data["kind"] != "op" or type(data["op"]) is not FusedOp:
        return False
    ref = data["inputs"][0]
    source = producer(ref)
    linear = graph.nodes[source]
    return (data["op"].n_inputs == 1 and data["op"].types is None and not is_aux(ref)
            and linear["kind"] == "op"
            and linear["op"] in (linalg._linear, linalg._linear_no_bias)
            and count[source] == 1 and linear["dtype"] == data["dtype"]
            and linear["phase"] == data["phase"] and epoch[source] == epoch[node])


def _take_in_linear(graph, node):
    """The group's node becomes the product with the group as its epilogue."""
    data = graph.nodes[node]
    source = producer(data["inputs"][0])
    linear = graph.nodes[source]
    op = LinearActivation(linear["op"], data["op"], len(linear["inputs"]))
    take_in(graph, node, source, dict(data, op=op, inputs=list(linear["inputs"]), attrs={},
                                      members=[source] + data["members"]))


def _backward_of_loss(graph, node, epoch, results):
    """A small cross-entropy backward (maybe with its column sums) of a mean or summed
    loss of the same inputs, phase and epoch, not itself a result, whose gradient g is
    made before the loss is (where the two will run)."""
    from ..ops import loss

    data = graph.nodes[node]
    if data["kind"] != "op" or not (data["op"] is loss._ce_backward
                                    or isinstance(data["op"], CrossEntropyColumnSums)):
        return False
    g, *inputs, total_weight = data["inputs"]
    source = producer(total_weight)
    forward = graph.nodes[source]
    made = producer(g)
    rows, classes = data["shape"]
    wide = data["dtype"].kind == "f" and data["dtype"].itemsize >= 4
    return (is_aux(total_weight) and forward["kind"] == "op" and forward["op"] is loss._ce
            and forward["attrs"]["reduction"] != "none" and forward["attrs"] == data["attrs"]
            and list(forward["inputs"]) == inputs and forward["phase"] == data["phase"]
            and epoch[source] == epoch[node] and node not in results and wide
            and rows * classes <= COLUMN_SUM_LIMIT
            and (graph.nodes[made]["kind"] not in ("op", "effect") or made[1] < source[1]))


def _take_in_backward(graph, node):
    """The loss's node computes the backward at `node` too, whose readers read it (and
    its column sums) as the loss's extra arrays."""
    data = graph.nodes[node]
    g = data["inputs"][0]
    source = producer(data["inputs"][-1])
    forward = graph.nodes[source]
    sums = isinstance(data["op"], CrossEntropyColumnSums)
    forward.update(
        op=CrossEntropyAndGrad(forward["op"], data["op"], len(forward["inputs"]),
                               data["op"].keepdim if sums else None),
        inputs=list(forward["inputs"]) + [g], members=[source] + data.get("members", [node]),
        reduces=True, returns_aux=True,
        aux_dtypes=dict(forward["aux_dtypes"], grad=data["dtype"], **(
            {"sum": data["aux_dtypes"]["sum"]} if sums else {})))
    graph.add_edge(producer(g), source, aux=g[1] if is_aux(g) else None)
    move_readers(graph, node, source, {node: (source, "grad"), (node, "sum"): (source, "sum")})


def _sums_rows_of_backward(graph, node, epoch, results):
    from ..ops import loss, reduction

    data = graph.nodes[node]
    if data["kind"] != "op" or data["op"] is not reduction._sum_dims:
        return False
    ref = data["inputs"][0]
    source = producer(ref)
    backward = graph.nodes[source]
    if is_aux(ref) or backward["kind"] != "op" or backward["op"] is not loss._ce_backward:
        return False
    rows, classes = backward["shape"]
    # float16 and bfloat16 losses keep their sum: their backward rounds each value,
    # which eager then sums (kernels.cpu.narrow), where this would sum unrounded ones
    wide = backward["dtype"].kind == "f" and backward["dtype"].itemsize >= 4
    return (wide and tuple(data["attrs"]["dims"]) == (0,) and node not in results
            and data["attrs"].get("dtype", backward["dtype"]) == backward["dtype"]
            and backward["phase"] == data["phase"] and rows * classes <= COLUMN_SUM_LIMIT
            and (epoch[source] == epoch[node] or _unaliased(graph, source, node, results)))
