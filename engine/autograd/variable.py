"""`Variable`, from PyTorch before 0.4, when tensors could not hold gradients: older
tutorials still wrap their data in it. Since then it makes a plain tensor (sharing the
data, with requires_grad as asked), and every tensor counts as a Variable."""


class _VariableMeta(type):
    def __instancecheck__(cls, obj):
        from ..tensor import Tensor

        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    def __new__(cls, data, requires_grad=False, volatile=False):
        from ..tensor import Tensor

        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got "
                            f"{type(data).__name__}")
        return data.detach().requires_grad_(requires_grad)
