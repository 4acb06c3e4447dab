"""`backward` and `autograd.grad`: check what the user asked for, then walk the graph."""
from ..creation import ones_like, zeros_like
from ..tensor import Tensor
from .graph import run_backward
from .node import edge_of


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _root_gradients(outputs, grad_outputs):
    grads = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not "
                               f"have a grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs "
                                   f"(the output has shape {tuple(out.shape)}); pass a "
                                   f"gradient of that shape")
            g = ones_like(out)
        elif g.shape != out.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{tuple(g.shape)} and output[{i}] has a shape of "
                               f"{tuple(out.shape)}.")
        elif g.device != out.device:
            raise RuntimeError(f"grad_output[{i}] is on {g.device} but output[{i}] is on "
                               f"{out.device}")
        grads.append(g)
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of `tensors` into the `.grad` of the leaves (or `inputs`)."""
    outputs = _as_tuple(tensors)
    grads = _root_gradients(outputs, _as_tuple(grad_tensors) if grad_tensors is not None
                            else (None,) * len(outputs))
    if retain_graph is None:
        retain_graph = create_graph
    roots = [edge_of(out) for out in outputs]
    if inputs is None:
        run_backward(roots, grads, retain_graph, create_graph)
        return
    chosen = _as_tuple(inputs)
    captured = run_backward(roots, grads, retain_graph, create_graph,
                            capture={edge_of(t) for t in chosen})
    for t in chosen:
        g = captured.get(edge_of(t))
        if g is not None:
            t._grad = g.detach() if t._grad is None else (t._grad + g).detach()


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """The gradients of `outputs` with respect to `inputs`, returned rather than stored."""
    outputs = _as_tuple(outputs)
    inputs = _as_tuple(inputs)
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            raise RuntimeError(f"One of the differentiated Tensors (input {i}, shape "
                               f"{tuple(t.shape)}) does not require grad")
    grads = _root_gradients(outputs, _as_tuple(grad_outputs) if grad_outputs is not None
                            else (None,) * len(outputs))
    if retain_graph is None:
        retain_graph = create_graph
    edges = [edge_of(t) for t in inputs]
    captured = run_backward([edge_of(out) for out in outputs], grads, retain_graph,
                            create_graph, capture=set(edges))
    result = []
    for i, (t, edge) in enumerate(zip(inputs, edges)):
        g = captured.get(edge)
        if g is None:
            if materialize_grads:
                g = zeros_like(t)
            elif not allow_unused:
                raise RuntimeError(f"One of the differentiated Tensors (input {i}, shape "
                                   f"{tuple(t.shape)}) appears to not have been used in the "
                                   f"graph. Set allow_unused=True if this is the desired "
                                   f"behavior.")
        result.append(g)
    return tuple(result)


def _tensor_backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate d(self)/d(leaf) into the `.grad` of every leaf that requires grad."""
    backward(self, gradient, retain_graph, create_graph, inputs)


# Attached here, as engine.ops attaches the ops: tensor.py cannot import autograd, and an
# import inside the method cost 2 us per call.
Tensor.backward = _tensor_backward


def zero_grads(params, set_to_none):
    """Optimizer.zero_grad and Module.zero_grad: clear each gradient, or zero its memory."""
    for p in params:
        if p.grad is not None:
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_()
                p.grad.zero_()
