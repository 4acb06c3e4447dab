"""Tensor dtypes and PyTorch's type promotion.

A dtype prints as PyTorch prints it (`torch.float32`), so that tutorial output reads
the same under `import engine as torch`.
"""
import numpy as np

_BOOL, _INT, _FLOAT = 0, 1, 2


class dtype:
    """An element type: its numpy twin, its category (bool < int < float) and size."""

    __slots__ = ("name", "numpy", "category", "itemsize")

    def __init__(self, name, numpy_type, category):
        self.name = name
        self.numpy = np.dtype(numpy_type)
        self.category = category
        self.itemsize = self.numpy.itemsize

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

ALL = (bool_, uint8, int8, int16, int32, int64, float32, float64)
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
