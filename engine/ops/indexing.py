"""Indexing with gradients: `t[...]`, `t[...] = v`, gather/scatter, index_select, masked_fill."""
import numpy as np

from .. import dtypes
from ..tensor import Tensor, version_counter
from .inplace import check_writable, commit, needs_history
from .operands import scalar
from .primitive import Primitive as P
from .shape import _as_view
from .registry import public


def _getitem_forward(K, x, *, index):
    return K.getitem(x, index)


def _scatter_back(g, x_shape, x_dtype, index):
    return _index_backward(g, index=index, shape=x_shape, dtype=x_dtype.numpy)


_select = P("SelectBackward0", _getitem_forward, x=_scatter_back)
_slice = P("SliceBackward0", _getitem_forward, x=_scatter_back)
_index = P("IndexBackward0", _getitem_forward, x=_scatter_back)


def _index_backward_forward(K, g, *, index, shape, dtype):
    out = K.full(shape, 0, dtype)
    K.index_add(out, index, g)
    return out


_index_backward = P("IndexPutBackward0", _index_backward_forward,
                    g=lambda gg, index: _index(gg, index=index))


def _put_forward(K, x, v, *, index):
    out = K.copy(x)
    K.setitem(out, index, v)
    return out


_zero_at = P("IndexFillBackward0", lambda K, g, *, index: _put_forward(K, g, 0, index=index),
             g=lambda gg, index: _zero_at(gg, index=index))
_index_put = P("torch::autograd::CopySlices", _put_forward,
               x=lambda g, index: _zero_at(g, index=index),
               v=lambda g, index: _index(g, index=index))


def _normalize(index, device):
    """The index with tensors and lists turned into arrays; the kind of node it makes."""
    parts = index if isinstance(index, tuple) else (index,)
    kind = _slice
    out = []
    for p in parts:
        if isinstance(p, Tensor):
            if p._device.type != "cpu" and p.dim() == 0:
                p = p.item()
            elif p._device != device and p._device.type != "cpu":
                raise IndexError(f"indices on {p.device} cannot index a tensor on {device}: "
                                 f"move the indices to {device} or to the CPU")
            else:
                if p._dtype.is_floating_point:
                    raise IndexError(f"tensors used as indices must be long, int, byte or "
                                     f"bool tensors, got {p.dtype}")
                p = p._data
                kind = _index
        elif isinstance(p, (list, range, np.ndarray)):
            p = np.asarray(p)
            if p.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors, got a float list")
            kind = _index
        elif isinstance(p, (bool, np.bool_)):
            p = np.bool_(p)
            kind = _index
        elif isinstance(p, (int, np.integer)):
            if kind is _slice:
                kind = _select
            p = int(p)
        elif p is not None and p is not Ellipsis and not isinstance(p, slice):
            raise IndexError(f"only integers, slices (`:`), ellipsis (`...`), None and long or "
                             f"byte Variables are valid indices (got {type(p).__name__})")
        out.append(p)
    return tuple(out), kind


def getitem(input, index):
    if type(index) is int:  # t[i], the DataLoader's per-sample case: nothing to normalise
        index, kind = (index,), _select
    else:
        index, kind = _normalize(index, input._device)
    try:
        out = kind(input, index=index)
    except IndexError as e:
        raise IndexError(f"{e} (indexing a tensor of shape {tuple(input.shape)})") from None
    return out if kind is _index else _as_view(out, input)


def setitem(input, index, value):
    """input[index] = value, in place; recorded as CopySlices when gradients flow."""
    index, _ = _normalize(index, input._device)
    if isinstance(value, Tensor):
        if value._device != input._device:
            raise RuntimeError(f"setitem: the value is on {value.device} but the tensor is on "
                               f"{input.device}")
        value = value if value._dtype is input._dtype else value.to(input._dtype)
    if needs_history(input, value):
        if not isinstance(value, Tensor):
            value = scalar(value, input._dtype, input._device)
        commit(input, _index_put(input, value, index=index))
        return
    check_writable(input)
    try:
        input._backend.setitem(input._data, index,
                               value._data if isinstance(value, Tensor) else value)
    except (IndexError, ValueError) as e:
        raise type(e)(f"{e} (assigning into a tensor of shape {tuple(input.shape)})") from None
    version_counter(input).value += 1


# ---- gather / scatter ----------------------------------------------------------------

def _check_index(name, input, dim, index):
    """The index's dtype and shape; its values are checked by the kernels themselves (in
    PyTorch's words), so that a trace captures the op and every replay checks."""
    if index._dtype is not dtypes.int64:
        raise RuntimeError(f"{name}(): Expected dtype int64 for index, got {index.dtype}")
    if index.dim() != input.dim():
        raise RuntimeError(f"{name}(): Index tensor must have the same number of dimensions "
                           f"as input tensor (index {tuple(index.shape)}, input "
                           f"{tuple(input.shape)})")
    for k in range(input.dim()):
        if k != dim and index.shape[k] != input.shape[k]:
            raise RuntimeError(f"{name}(): index {tuple(index.shape)} and input "
                               f"{tuple(input.shape)} must agree in every dimension but {dim}")


_gather = P("GatherBackward0", lambda K, x, index, *, dim: K.gather(x, dim, index),
            x=lambda g, x_shape, index, dim: scatter_into_zeros(g, index, dim, x_shape))


def _scatter_forward(K, src, index, *, dim, shape):
    return K.scatter_add(K.full(shape, 0, src.dtype), dim, index, src)


_scatter_zeros = P("ScatterAddBackward0", _scatter_forward,
                   src=lambda g, index, dim: _gather(g, index, dim=dim))


def scatter_into_zeros(src, index, dim, shape):
    """zeros(shape).scatter_add(dim, index, src), differentiable in src."""
    return _scatter_zeros(src, index, dim=dim, shape=tuple(shape))


@public(method=True)
def gather(input, dim, index):
    """out[i][j] = input[i][index[i][j]] for dim=1 (and likewise for any dim)."""
    d = input._dim_index(dim)
    _check_index("gather", input, d, index)
    return _gather(input, index, dim=d)


@public(method=True)
def scatter_add(input, dim, index, src):
    d = input._dim_index(dim)
    _check_index("scatter_add", input, d, index)
    if src.shape != index.shape:
        raise RuntimeError(f"scatter_add(): src {tuple(src.shape)} and index "
                           f"{tuple(index.shape)} must have the same shape")
    return input + scatter_into_zeros(src, index, d, input.shape)


@public(method=True)
def index_select(input, dim, index):
    d = input._dim_index(dim)
    return input[(slice(None),) * d + (index,)]


@public(method=True)
def masked_fill(input, mask, value):
    from .pointwise import where

    return where(mask, value, input)


@public(method=True)
def take_along_dim(input, indices, dim):
    return gather(input, dim, indices)


# ---- built on the ones above ------------------------------------------------------------

def _writes(input, dim, index):
    """How many times index names each place along dim (scatter's targets)."""
    from ..creation import ones

    return scatter_into_zeros(ones(tuple(index.shape), dtype=input.dtype,
                                   device=input.device), index, dim, input.shape)


@public(method=True)
def scatter(input, dim, index, src=None, value=None, *, reduce=None):
    """input with input[..., index[..., j, ...], ...] = src[..., j, ...] along dim (or the
    number `value`). Where index repeats a place, the values written there must agree
    (PyTorch writes one of them, unspecified which): the place gets that value, and each
    of them the place's whole gradient, as in PyTorch."""
    from .pointwise import where

    if reduce is not None:
        raise RuntimeError("scatter: reduce is not supported; use scatter_add for sums")
    if src is None and value is None:
        raise TypeError("scatter() needs src or value")
    if src is None or not isinstance(src, Tensor):
        fill = value if src is None else src
        src = input.new_full(tuple(index.shape), fill)
    d = input._dim_index(dim)
    _check_index("scatter", input, d, index)
    placed = scatter_into_zeros(src[tuple(slice(0, n) for n in index.shape)], index, d,
                                input.shape)
    writes = _writes(input, d, index)
    # c equal writes were summed: take (c - 1) of them away, detached (values as written,
    # each write's gradient whole)
    once = where(writes > 1, placed - (writes - 1) * (placed / writes).detach(), placed)
    return where(writes > 0, once, input)


@public(method=True)
def index_add(input, dim, index, source, *, alpha=1):
    """input with source's slices added at the positions index names along dim."""
    d = input._dim_index(dim)
    if index.dim() != 1 or index.shape[0] != source.shape[d]:
        raise RuntimeError(f"index_add(): index of shape {tuple(index.shape)} must be 1-d with "
                           f"one entry per slice of source {tuple(source.shape)} along dim {d}")
    shape = [1] * source.dim()
    shape[d] = -1
    spread = index.reshape(shape).expand(tuple(source.shape))
    return input + scatter_into_zeros(source * alpha if alpha != 1 else source, spread, d,
                                      input.shape)


@public(method=True)
def index_fill(input, dim, index, value):
    """input with the slices index names along dim set to value."""
    from ..creation import zeros
    from .pointwise import where

    d = input._dim_index(dim)
    marks = zeros(input.shape[d], dtype=dtypes.bool_, device=input.device)
    marks[index] = True
    shape = [1] * input.dim()
    shape[d] = -1
    return where(marks.reshape(shape), value, input)


@public(method=True)
def masked_select(input, mask):
    """The elements where mask (broadcast with input) is True, as a 1-d tensor."""
    from .arrange import broadcast_tensors

    values, keep = broadcast_tensors(input, mask)
    return values[keep]


@public(method=True)
def nonzero(input, *, as_tuple=False):
    """The indices of the non-zero elements: (count, dims), or one tensor per dim."""
    from ..creation import tensor

    found = np.argwhere(input.detach().cpu().numpy())
    if as_tuple:
        return tuple(tensor(found[:, d], dtype=dtypes.int64, device=input.device)
                     for d in range(max(input.dim(), 1)))
    return tensor(found, dtype=dtypes.int64, device=input.device).reshape(-1, input.dim())


@public(method=True)
def argwhere(input):
    return nonzero(input)
