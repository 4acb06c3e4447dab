"""`autograd.Function`: user-defined ops with a hand-written backward, as in PyTorch.

    class Exp(Function):
        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad):
            (y,) = ctx.saved_tensors
            return grad * y

The node is named `<ClassName>Backward`, and PyTorch's ctx API is supported.
"""
from .grad_mode import is_grad_enabled, no_grad
from .node import Node


class FunctionCtx:
    """What `forward` leaves for `backward`: saved tensors and any attributes set on it."""

    def save_for_backward(self, *tensors):
        self.to_save = tensors

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def set_materialize_grads(self, value):
        self.materialize_grads = value

    @property
    def saved_tensors(self):
        node = self._node
        if node is not None and node.saved is None:
            from .node import _FREED

            raise RuntimeError(_FREED)
        return tuple(getattr(self, "to_save", ()))


class _CustomOp:
    """Adapter that lets a Node run a Function's backward like a primitive's formulas."""

    saves = ()

    def __init__(self, fn_class, ctx, n_inputs):
        self.node_name = f"{fn_class.__name__}Backward"
        self.fn_class = fn_class
        self.ctx = ctx
        self.input_index = {}
        self.n_inputs = n_inputs

    def saves_for(self, needed):
        return ()

    def backward(self, node, g, create_graph):
        grads = self.fn_class.backward(self.ctx, g)
        if not isinstance(grads, tuple):
            grads = (grads,)
        if len(grads) != self.n_inputs:
            raise RuntimeError(f"function {self.node_name} returned an incorrect number of "
                               f"gradients (expected {self.n_inputs}, got {len(grads)})")
        out = []
        for gi, shape, edge in zip(grads, node.input_meta[::2], node.edges):
            if gi is None or edge is None:
                out.append(None)
                continue
            if gi.shape != shape:
                raise RuntimeError(f"Function {self.node_name} returned an invalid gradient at "
                                   f"index {len(out)} - got {list(gi.shape)} but expected "
                                   f"shape compatible with {list(shape)}")
            out.append(gi)
        return out


class Function:
    """Base class for custom differentiable ops; call them with `MyFn.apply(*args)`."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("subclasses of Function must implement forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("subclasses of Function must implement backward")

    @classmethod
    def apply(cls, *args):
        from ..tensor import Tensor

        ctx = FunctionCtx()
        ctx._node = None
        with no_grad():
            result = cls.forward(ctx, *args)
        tensors = [a for a in args if isinstance(a, Tensor)]
        if not (is_grad_enabled() and any(t.requires_grad for t in tensors)):
            return result
        inputs = [a for a in args if isinstance(a, Tensor)]
        op = _CustomOp(cls, ctx, len(args))
        node = Node(op, inputs, {}, result, None)
        if len(inputs) != len(args):  # non-tensor arguments get no gradient
            node.edges = [node.edges[inputs.index(a)] if isinstance(a, Tensor) else None
                          for a in args]
            node.input_meta = tuple(meta for a in args for meta in (
                (a._data.shape, a._dtype) if isinstance(a, Tensor) else ((), None)))
        node.saved = ()
        ctx._node = node
        out = Tensor._make(result._data, result._device, grad_fn=node)
        return out
