"""`Parameter`: a tensor that a Module registers as learnable when assigned to it."""
from engine import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad (by default) and that Modules collect."""

    def __new__(cls, data=None, requires_grad=True):
        import engine

        data = engine.empty(0) if data is None else data
        p = cls._make(data._data, data._device)
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()

    def __deepcopy__(self, memo):
        out = Parameter(self.detach().clone(), self.requires_grad)
        if self.grad is not None:
            out.grad = self.grad.detach().clone()
        memo[id(self)] = out
        return out

    def __reduce_ex__(self, protocol):
        return (Parameter, (Tensor._make(self.detach().numpy().copy()), self.requires_grad))
