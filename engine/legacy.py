"""PyTorch's typed constructors, still common in tutorials: `torch.LongTensor(ids)`
makes an int64 tensor of the data, `torch.FloatTensor(2, 3)` an uninitialised float32
one of that size, and `isinstance(t, torch.FloatTensor)` asks a CPU tensor's dtype."""
from . import dtypes
from .creation import empty, tensor
from .tensor import Tensor


class _TypedConstructor(type):
    def __instancecheck__(cls, obj):
        return isinstance(obj, Tensor) and obj.dtype is cls.dtype and obj.device.type == "cpu"

    def __call__(cls, *args):
        if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            return empty(args or (0,), dtype=cls.dtype)  # a size; none at all: empty
        if len(args) != 1:
            raise TypeError(f"{cls.__name__}(): expected one sequence of data or integer "
                            f"sizes, got {len(args)} arguments")
        data = args[0]
        if isinstance(data, Tensor):
            return data.detach().to(cls.dtype).clone()
        return tensor(data, dtype=cls.dtype)


def _typed(name, dtype):
    return _TypedConstructor(name, (), {"dtype": dtype, "__doc__": f"{dtype} on the CPU."})


FloatTensor = _typed("FloatTensor", dtypes.float32)
DoubleTensor = _typed("DoubleTensor", dtypes.float64)
LongTensor = _typed("LongTensor", dtypes.int64)
IntTensor = _typed("IntTensor", dtypes.int32)
ShortTensor = _typed("ShortTensor", dtypes.int16)
CharTensor = _typed("CharTensor", dtypes.int8)
ByteTensor = _typed("ByteTensor", dtypes.uint8)
BoolTensor = _typed("BoolTensor", dtypes.bool_)
