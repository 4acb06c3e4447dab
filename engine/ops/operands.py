"""Turning mixed operands (tensors, Python numbers) into tensors of one dtype and device."""
import numpy as np

from .. import dtypes
from ..device import CPU
from ..tensor import Tensor
from ..tracing import constant

NUMBER = (int, float, bool, np.number, np.bool_)
# Python numbers that never change a tensor's dtype, by the tensor's category:
# a float tensor keeps its dtype with ints and floats, an int tensor with ints.
_SAME_KIND = {dtypes._FLOAT: (int, float), dtypes._INT: (int,)}


_SCALARS = {}


def scalar(value, dtype, device):
    """A 0-d tensor holding a Python number, on `device`.

    Cached (a few hundred at most): `x * 2` in a loop would otherwise allocate the same
    constant every time. Safe because these tensors never reach user code to be written.
    """
    key = (type(value), value, dtype, device)
    t = _SCALARS.get(key)
    if t is None:
        from ..device import backend

        t = Tensor._make(backend(device).full((), value, dtype.numpy), device)
        if len(_SCALARS) < 512 and value == value:  # NaN != NaN would never hit
            _SCALARS[key] = t
    return constant(t)


def promote(op, *operands, floating=False, device=None):
    """Tensors of the promoted dtype (floating: at least the default float) for `op`.

    Numbers become 0-d tensors on the first tensor's device (or `device`, or the CPU).
    Raises TypeError naming the operand when one is neither a tensor nor a number.
    """
    if not floating and len(operands) == 2:
        a, b = operands
        if isinstance(a, Tensor):
            if isinstance(b, Tensor) and a._dtype is b._dtype:
                return operands
            if type(b) in _SAME_KIND.get(a._dtype.category, ()):
                return [a, scalar(b, a._dtype, a._device)]  # a number of the tensor's kind
    elif not floating and operands and isinstance(operands[0], Tensor):
        # The same test for three or more operands (linear, addmm), as a loop; the two-
        # operand case above is unrolled, since every binary op passes through it.
        dtype = operands[0]._dtype
        for x in operands:
            if not isinstance(x, Tensor) or x._dtype is not dtype:
                break
        else:
            return operands
    for x in operands:
        if isinstance(x, Tensor):
            device = device or x._device
        elif not isinstance(x, NUMBER):
            raise TypeError(f"{op}(): expected a Tensor or a number, got "
                            f"{type(x).__name__}")
    device = device or CPU
    target = dtypes.result_type(*operands)
    if floating and not target.is_floating_point:
        target = dtypes.get_default_dtype()
    out = []
    for x in operands:
        if isinstance(x, Tensor):
            out.append(x if x._dtype is target else x.to(target))
        else:
            out.append(scalar(x, target, device))
    return out


def same_dtype(op, *operands):
    """The operands of a product (matmul, linear, conv), which PyTorch does not promote:
    tensors of one dtype, and not bool. None (an absent bias) is skipped."""
    tensors = [x for x in operands if x is not None]
    for x in tensors:
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}(): expected a Tensor, got {type(x).__name__}")
    dtype = tensors[0]._dtype
    if any(x._dtype is not dtype for x in tensors):
        raise RuntimeError(f"{op}: expected all operands to have the same dtype, but got "
                           f"{', '.join(str(x.dtype) for x in tensors)}")
    if dtype is dtypes.bool_:
        raise RuntimeError(f"{op}: not implemented for torch.bool operands")
    return operands


def broadcast_shapes(*shapes, op="broadcast"):
    """The common shape, or an error naming every shape and the first clash."""
    ndim = max(len(s) for s in shapes)
    result = []
    for d in range(-ndim, 0):
        size = 1
        for s in shapes:
            n = s[d] if -d <= len(s) else 1
            if n != 1:
                if size not in (1, n):
                    listed = " and ".join(str(tuple(s)) for s in shapes)
                    raise RuntimeError(
                        f"{op}: shapes {listed} cannot be broadcast: the size of tensor a "
                        f"({size}) must match the size of tensor b ({n}) at non-singleton "
                        f"dimension {ndim + d}")
                size = n
        result.append(size)
    return tuple(result)


def check_broadcast(op, tensors):
    """Raise (via broadcast_shapes) if the tensors' shapes cannot broadcast together.

    A plain loop: every binary op with operands of different shapes passes here, most
    often with a 0-d operand, which broadcasts to anything."""
    first = None
    for t in tensors:
        shape = t._data.shape
        if shape:
            if first is None:
                first = shape
            elif shape != first:
                broadcast_shapes(*[t._data.shape for t in tensors if t._data.ndim], op=op)
                return
