"""Tensor dtypes and PyTorch's type promotion.

A dtype prints as PyTorch prints it (`torch.float32`), so that tutorial output reads
the same under `import engine as torch`. bfloat16 is ml_dtypes' numpy type (the one JAX
and ONNX use); float16 is numpy's own.
"""
import ml_dtypes
import numpy as np

_BOOL, _INT, _FLOAT = 0, 1, 2


class dtype:
    """An element type: its numpy twin, its category (bool < int < float) and size."""

    __slots__ = ("name", "numpy", "category", "itemsize", "narrow")

    def __init__(self, name, numpy_type, category):
        self.name = name
        self.numpy = np.dtype(numpy_type)
        self.category = category
        self.itemsize = self.numpy.itemsize
        # float16 and bfloat16: stored as themselves, computed in float32 by kernels that
        # round each result (numba has no CPU type for either; see kernels.cpu.narrow).
        self.narrow = category == _FLOAT and self.itemsize == 2

    @property
    def is_floating_point(self):
        return self.category == _FLOAT

    @property
    def is_signed(self):
        return self.numpy.kind != "u" and self.category != _BOOL

    def __repr__(self):
        return f"torch.{self.name}"

    def __reduce__(self):
        return (from_name, (self.name,))


float32 = dtype("float32", np.float32, _FLOAT)
float64 = dtype("float64", np.float64, _FLOAT)
int64 = dtype("int64", np.int64, _INT)
int32 = dtype("int32", np.int32, _INT)
int16 = dtype("int16", np.int16, _INT)
int8 = dtype("int8", np.int8, _INT)
uint8 = dtype("uint8", np.uint8, _INT)
bool_ = dtype("bool", np.bool_, _BOOL)
float16 = dtype("float16", np.float16, _FLOAT)
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, _FLOAT)

ALL = (bool_, uint8, int8, int16, int32, int64, float16, bfloat16, float32, float64)
NARROW = (float16, bfloat16)
_BY_NUMPY = {d.numpy: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
NAMES = frozenset(_BY_NAME)

_default_float = float32


def from_name(name):
    return _BY_NAME[name]


def from_numpy(numpy_dtype):
    """The engine dtype for a numpy dtype, or a TypeError that lists the supported ones."""
    found = _BY_NUMPY.get(np.dtype(numpy_dtype))
    if found is None:
        supported = ", ".join(d.name for d in ALL)
        raise TypeError(f"can't convert numpy array of type {np.dtype(numpy_dtype)}: "
                        f"the supported types are {supported}")
    return found


def get_default_dtype():
    return _default_float


def set_default_dtype(d):
    global _default_float
    if not isinstance(d, dtype) or not d.is_floating_point:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def promote_types(a, b):
    """The smallest dtype that holds both (PyTorch's table; uint8 with int8 gives int16)."""
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    if a.category == _INT and (a.numpy.kind == "u") != (b.numpy.kind == "u"):
        unsigned, signed = (a, b) if a.numpy.kind == "u" else (b, a)
        return signed if signed.itemsize > unsigned.itemsize else int16
    if a.itemsize == b.itemsize == 2 and a.category == _FLOAT:
        return float32  # float16 and bfloat16: neither holds the other's range or digits
    return a if a.itemsize >= b.itemsize else b


def scalar_dtype(value):
    """The dtype PyTorch gives a Python number: bool, int64 or the default float."""
    if isinstance(value, (bool, np.bool_)):
        return bool_
    if isinstance(value, (int, np.integer)):
        return int64
    return _default_float


def result_type(*operands):
    """PyTorch's promotion: dimensioned tensors, then 0-d tensors, then Python numbers.

    A lower-priority group only matters when it brings a higher category (an int
    tensor times 2.5 is float; a float32 tensor times a float64 0-d tensor stays float32).
    Operands are Tensors or Python numbers.
    """
    groups = ([], [], [])
    for x in operands:
        if isinstance(x, (int, float, bool, np.number, np.bool_)):
            groups[2].append(scalar_dtype(x))
        else:
            groups[0 if x.dim() else 1].append(x.dtype)
    result = None
    for group in groups:
        if not group:
            continue
        best = group[0]
        for d in group[1:]:
            best = promote_types(best, d)
        if result is None:
            result = best
        elif best.category > result.category:
            result = best
    return result


class _Info:
    """What finfo and iinfo share: two describe the same type when they name it."""

    def __eq__(self, other):
        return type(other) is type(self) and other.dtype == self.dtype

    def __hash__(self):
        return hash((type(self).__name__, self.dtype))


class finfo(_Info):
    """The limits of a floating type as Python floats (`torch.finfo(torch.bfloat16).eps`):
    epsilons and the largest finite values that programs clamp and mask with."""

    def __init__(self, type=None):  # noqa: A002 - PyTorch's parameter name
        type = _default_float if type is None else type
        if not isinstance(type, dtype) or not type.is_floating_point:
            raise TypeError(f"torch.finfo() requires a floating point input type, got {type}; "
                            f"use torch.iinfo for integer types")
        limits = ml_dtypes.finfo(type.numpy)
        self.bits = type.itemsize * 8
        self.eps, self.max, self.min = float(limits.eps), float(limits.max), float(limits.min)
        self.tiny = self.smallest_normal = float(limits.smallest_normal)
        self.resolution = 10.0 ** -limits.precision  # decimal digits, as PyTorch counts them
        self.dtype = type.name

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, "
                f"eps={self.eps:g}, smallest_normal={self.smallest_normal:g}, "
                f"tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo(_Info):
    """The range of an integer type as Python ints (`torch.iinfo(torch.int64).max`)."""

    def __init__(self, type):  # noqa: A002 - PyTorch's parameter name
        if not isinstance(type, dtype) or type.category != _INT:
            raise TypeError(f"torch.iinfo() requires an integer input type, got {type}; use "
                            f"torch.finfo for floating point types")
        limits = np.iinfo(type.numpy)
        self.bits, self.min, self.max = type.itemsize * 8, int(limits.min), int(limits.max)
        self.dtype = type.name

    def __repr__(self):
        return f"iinfo(min={self.min:g}, max={self.max:g}, dtype={self.dtype})"
