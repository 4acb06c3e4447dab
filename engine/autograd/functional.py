"""`torch.autograd.functional`: derivative operators of whole functions - vjp, jvp,
jacobian, hessian, hvp, vhp - with PyTorch's arguments and result structures.

All are built on reverse mode (`autograd.grad`): a Jacobian is one vector-Jacobian
product per output element; a Jacobian-vector product is the derivative of a
vector-Jacobian product in its (dummy) vector, which is linear in it ("the double-vjp
trick"); a Hessian is the Jacobian of the gradient. The graphs they build are ordinary
graphs, so create_graph=True makes every result differentiable again.
"""
from ..tensor import Tensor
from .gradients import grad
from .grad_mode import enable_grad


def _tuple(name, x, what):
    """(tuple of tensors, whether x was a tuple)."""
    if isinstance(x, Tensor):
        return (x,), False
    if isinstance(x, (tuple, list)) and all(isinstance(t, Tensor) for t in x):
        return tuple(x), True
    raise TypeError(f"The {what} given to {name} must be either a Tensor or a tuple of "
                    f"Tensors but the given {what} has type {type(x).__name__}.")


def _differentiable(inputs, create_graph):
    """Inputs that record: detached copies, or (create_graph) views that keep the caller's
    graph, so that results can be differentiated with respect to the caller's tensors."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad
                 else t.detach().requires_grad_(True) for t in inputs)


def _grads(outputs, inputs, grad_outputs, create_graph, strict, name, what="input"):
    """d(sum grad_outputs * outputs)/d inputs; zeros for inputs the outputs do not depend
    on, or, strict, an error naming the first."""
    wanted = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not wanted:
        found = (None,) * len(inputs)
    else:
        found = grad([o for o, _ in wanted], inputs, [g for _, g in wanted],
                     retain_graph=True, create_graph=create_graph, allow_unused=True)
    out = []
    for i, (g, t) in enumerate(zip(found, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent "
                                   f"of {what} {i}. This is not allowed in strict mode.")
            g = t.new_zeros(t.shape)
        out.append(g)
    return tuple(out)


def _check_v(name, v, like, what):
    v, _ = _tuple(name, v, what)
    if len(v) != len(like):
        raise RuntimeError(f"{name}: v has {len(v)} tensors, the {what[2:]} has {len(like)}")
    for i, (a, b) in enumerate(zip(v, like)):
        if a.shape != b.shape:
            raise RuntimeError(f"v has invalid size: should be {b.shape} but got {a.shape} "
                               f"(index {i})")
    return v


def _outputs(name, func, inputs):
    with enable_grad():
        result = func(*inputs)
    return _tuple(name, result, "outputs of the user-provided function")


def _finish(values, is_tuple, create_graph):
    values = tuple(v if create_graph else v.detach() for v in values)
    return values if is_tuple else values[0]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product; v may be omitted when func
    returns one element."""
    inputs, inputs_tuple = _tuple("vjp", inputs, "inputs")
    inputs = _differentiable(inputs, create_graph)
    outputs, outputs_tuple = _outputs("vjp", func, inputs)
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        v = (outputs[0].new_ones(outputs[0].shape),)
    else:
        v = _check_v("vjp", v, outputs, "v as the outputs")
    products = _grads(outputs, inputs, v, create_graph, strict, "vjp")
    return (_finish(outputs, outputs_tuple, create_graph),
            _finish(products, inputs_tuple, create_graph))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product; v may be omitted when the input
    is a single element."""
    inputs, inputs_tuple = _tuple("jvp", inputs, "inputs")
    inputs = _differentiable(inputs, create_graph)
    v = _vector("jvp", v, inputs)
    outputs, outputs_tuple = _outputs("jvp", func, inputs)
    # u -> u^T J is linear in u: differentiating it in u along v gives J v.
    dummies = tuple(o.new_zeros(o.shape).requires_grad_(True) for o in outputs)
    with enable_grad():
        vjps = _grads(outputs, inputs, dummies, True, strict, "jvp")
    products = _grads(vjps, dummies, v, create_graph, strict, "jvp", what="output")
    return (_finish(outputs, outputs_tuple, create_graph),
            _finish(products, outputs_tuple, create_graph))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """d func / d inputs: for one input and one output a tensor of shape output.shape +
    input.shape; tuples of them (outputs outer, inputs inner) where either is a tuple.

    vectorize=True computes all the rows in one batched pass (vmap over the vector-
    Jacobian product, through its batching rules) instead of one backward per row.
    strategy="forward-mode" builds it column by column from Jacobian-vector products
    (forward_ad), one per input element, instead of row by row."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f'jacobian: strategy must be "forward-mode" or "reverse-mode", got '
                         f'{strategy!r}')
    inputs, inputs_tuple = _tuple("jacobian", inputs, "inputs")
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError("jacobian: strategy='forward-mode' with "
                                      "create_graph=True is not supported; use 'reverse-mode'")
        if vectorize:
            return _jacobian_forward_vectorized(func, inputs, inputs_tuple, strict)
        return _jacobian_forward(func, inputs, inputs_tuple)
    inputs = _differentiable(inputs, create_graph)
    outputs, outputs_tuple = _outputs("jacobian", func, inputs)
    rows = []
    for out in outputs:
        per_input = [[] for _ in inputs]
        flat = out.reshape(-1)
        if vectorize and not create_graph and flat.numel():
            rows.append(_finish(_vectorized_rows(flat, out, inputs, strict), inputs_tuple,
                                create_graph))
            continue
        for k in range(flat.numel()):
            onehot = flat.new_zeros(flat.shape)
            onehot[k] = 1.0
            found = _grads((flat,), inputs, (onehot,), create_graph, strict, "jacobian")
            for j, g in enumerate(found):
                per_input[j].append(g)
        blocks = []
        for j, grads in enumerate(per_input):
            shape = tuple(out.shape) + tuple(inputs[j].shape)
            block = (_stack(grads) if grads else inputs[j].new_zeros((0,) + inputs[j].shape))
            blocks.append(block.reshape(shape))
        rows.append(_finish(blocks, inputs_tuple, create_graph))
    return tuple(rows) if outputs_tuple else rows[0]


def _vectorized_rows(flat, out, inputs, strict):
    """Every row of the Jacobian of `flat` at once: the vector-Jacobian product vmapped
    over the rows of the identity."""
    from ..creation import eye
    from ..func import vmap

    rows = vmap(lambda onehot: tuple(_grads((flat,), inputs, (onehot,), False, strict,
                                           "jacobian")))(
        eye(flat.numel(), dtype=flat.dtype, device=flat.device))
    return [r.reshape(tuple(out.shape) + tuple(x.shape)) for r, x in zip(rows, inputs)]


def _jacobian_forward_vectorized(func, inputs, inputs_tuple, strict):
    """The Jacobian column by column, all columns of an input in one batched pass: u ->
    J^T u is linear in u, so differentiating it in u along the basis vectors (vmapped)
    gives J's columns, as jvp does for one vector."""
    from ..creation import eye
    from ..func import vmap

    inputs = _differentiable(inputs, False)
    outputs, outputs_tuple = _outputs("jacobian", func, inputs)
    dummies = tuple(o.new_zeros(o.shape).requires_grad_(True) for o in outputs)
    with enable_grad():
        vjps = _grads(outputs, inputs, dummies, True, strict, "jacobian")
    columns = []  # per input: per output, (input.numel(), *output.shape)
    for j, x in enumerate(inputs):
        def column(v, j=j):
            seeds = tuple(v.reshape(t.shape) if i == j else t.new_zeros(t.shape)
                          for i, t in enumerate(inputs))
            return tuple(_grads(vjps, dummies, seeds, False, strict, "jacobian",
                                what="output"))

        columns.append(vmap(column)(eye(x.numel(), dtype=x.dtype, device=x.device)))
    rows = []
    for i, out in enumerate(outputs):
        blocks = [columns[j][i].reshape(x.numel(), -1).t().reshape(tuple(out.shape) +
                                                                    tuple(x.shape))
                  for j, x in enumerate(inputs)]
        rows.append(_finish(blocks, inputs_tuple, False))
    return tuple(rows) if outputs_tuple else rows[0]


def _jacobian_forward(func, inputs, inputs_tuple):
    from . import forward_ad

    columns = []  # per input: per element, the tuple of output tangents
    for j, x in enumerate(inputs):
        per_element = []
        for k in range(x.numel()):
            with forward_ad.dual_level():
                duals = []
                for i, t in enumerate(inputs):
                    tangent = t.new_zeros(t.numel())
                    if i == j:
                        tangent[k] = 1.0
                    duals.append(forward_ad.make_dual(t.detach(), tangent.reshape(t.shape)))
                outputs, outputs_tuple = _outputs("jacobian", func, duals)
                per_element.append(tuple(
                    _zero_if_none(forward_ad.unpack_dual(o).tangent, o) for o in outputs))
        columns.append(per_element)
    outputs, outputs_tuple = _outputs("jacobian", func, [t.detach() for t in inputs])
    rows = []
    for i, out in enumerate(outputs):
        blocks = []
        for j, x in enumerate(inputs):
            cols = [c[i].reshape(-1) for c in columns[j]]
            block = _stack(cols).t() if cols else out.new_zeros((out.numel(), 0))
            blocks.append(block.reshape(tuple(out.shape) + tuple(x.shape)))
        rows.append(_finish(blocks, inputs_tuple, False))
    return tuple(rows) if outputs_tuple else rows[0]


def _zero_if_none(tangent, like):
    return like.new_zeros(like.shape).detach() if tangent is None else tangent


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a function returning one element: for one input a tensor of shape
    input.shape + input.shape, for a tuple of inputs a tuple of tuples."""
    _, inputs_tuple = _tuple("hessian", inputs, "inputs")

    def gradient(*xs):
        _, found = _value_and_gradient("hessian", func, xs, strict)
        return found if inputs_tuple else found[0]

    return jacobian(gradient, inputs, create_graph, strict, vectorize, outer_jacobian_strategy)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a function returning one element."""
    inputs, inputs_tuple = _tuple("vhp", inputs, "inputs")
    inputs = _differentiable(inputs, create_graph)
    output, gradient = _value_and_gradient("vhp", func, inputs, strict)
    v = _vector("vhp", v, inputs)
    products = _grads(gradient, inputs, v, create_graph, strict, "vhp")
    return (_finish((output,), False, create_graph),
            _finish(products, inputs_tuple, create_graph))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a function returning one element (H is symmetric, so this
    is v^T H transposed, as PyTorch computes it)."""
    return vhp(func, inputs, v, create_graph, strict)


def _value_and_gradient(name, func, inputs, strict):
    outputs, _ = _outputs(name, func, inputs)
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError(f"The Tensor returned by the function given to {name} should "
                           f"contain a single element")
    with enable_grad():
        gradient = _grads(outputs, inputs, (outputs[0].new_ones(outputs[0].shape),), True,
                          strict, name)
    return outputs[0], gradient


def _vector(name, v, inputs):
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the "
                               "user-provided function is a single Tensor with a single "
                               "element.")
        return (inputs[0].new_ones(inputs[0].shape),)
    return _check_v(name, v, inputs, "v as the inputs")


def _stack(tensors):
    from ..ops.shape import stack

    return stack(tensors)
