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
from .registry import public


@public(method=True)
def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort `input` along `dim`."""
    if input.dim() == 0:
        return input.new_zeros((), dtype=dtypes.int64)
    d = input._dim_index(dim)
    return Tensor._make(input._backend.argsort(input._data, d, descending), input.device)


@public(method=True, out=True)
def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices): the elements along `dim` in order, and where each came from."""
    if input.dim() == 0:
        return return_types(input.clone(), input.new_zeros((), dtype=dtypes.int64))
    d = input._dim_index(dim)
    indices = argsort(input, d, descending)
    return return_types(gather(input, d, indices), indices)


@public(method=True, out=True)
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


@public(method=True)
def median(input, dim=None, keepdim=False):
    """The lower median: of all elements, or (values, indices) along dim. NaN sorts last,
    so a NaN in a row makes the median NaN only past the middle, as in PyTorch's sort."""
    if dim is None:
        flat = input.reshape(-1)
        if flat.numel() == 0 and flat.is_floating_point():
            return flat.sum() * float("nan")  # PyTorch's NaN, with a (vacuous) gradient
        if flat.numel() == 0:
            raise IndexError("median() cannot be computed for an empty integer tensor")
        middle = sort(flat.detach()).values[(flat.numel() - 1) // 2]
        # Its value is the middle one; its gradient, as PyTorch's, is shared evenly by
        # every element equal to it.
        hits = (flat == middle).to(flat.dtype)
        return (flat * hits).sum() / hits.sum() if bool(middle == middle) else middle
    d = input._dim_index(dim)
    n = input.shape[d] if input.dim() else 1
    if n == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size")
    ordered = sort(input, d) if input.dim() else return_types(input, input.new_zeros(
        (), dtype=dtypes.int64))
    pick = (slice(None),) * d + (slice((n - 1) // 2, (n - 1) // 2 + 1),)
    values, indices = ordered.values[pick], ordered.indices[pick]
    if not keepdim and input.dim():
        values, indices = values.squeeze(d), indices.squeeze(d)
    return return_types(values, indices)


@public(method=True)
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct values, sorted (with, on request, where each element went and how
    often each value occurs). No gradient, as in PyTorch."""
    import numpy as np

    from ..creation import tensor

    if dim is not None:
        raise NotImplementedError("unique: dim is not supported; flatten the input first")
    values, inverse, counts = np.unique(input.detach().cpu().numpy(), return_inverse=True,
                                        return_counts=True)
    out = [tensor(values, dtype=input.dtype, device=input.device)]
    if return_inverse:
        out.append(tensor(inverse.reshape(tuple(input.shape)), dtype=dtypes.int64,
                          device=input.device))
    if return_counts:
        out.append(tensor(counts, dtype=dtypes.int64, device=input.device))
    return out[0] if len(out) == 1 else tuple(out)
