"""sort, argsort and topk.

The kernel finds only the order (`argsort`); the values are gathered with it. So the
values' gradient is gather's: each one flows back to the place it was taken from, with
no formula of its own. Sorts are stable whatever `stable` says (PyTorch allows any order
of equal values when it is False), and NaN counts as the largest value, as in PyTorch.
"""
from .. import dtypes
from ..tensor import Tensor
from .indexing import gather
from .reduction import return_types


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort `input` along `dim`."""
    if input.dim() == 0:
        return input.new_zeros((), dtype=dtypes.int64)
    d = input._dim_index(dim)
    return Tensor._make(input._backend.argsort(input._data, d, descending), input.device)


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices): the elements along `dim` in order, and where each came from."""
    if input.dim() == 0:
        return return_types(input.clone(), input.new_zeros((), dtype=dtypes.int64))
    d = input._dim_index(dim)
    indices = argsort(input, d, descending)
    return return_types(gather(input, d, indices), indices)


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the k largest (or smallest) elements along `dim`, in order."""
    size = input.shape[input._dim_index(dim)] if input.dim() else 1
    if not 0 <= k <= size:
        raise RuntimeError(f"topk: k={k} is out of range for a dimension of size {size} "
                           f"(input shape {tuple(input.shape)})")
    if input.dim() == 0:
        return sort(input)
    d = input._dim_index(dim)
    indices = argsort(input, d, descending=largest).narrow(d, 0, k).contiguous()
    return return_types(gather(input, d, indices), indices)
