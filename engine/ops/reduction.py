"""Reductions: sum, mean, max/min (with indices), amax/amin, logsumexp, var/std, argmax."""
import builtins
import collections
import math

from .. import dtypes
from ..tensor import Tensor
from .pointwise import isnan, maximum, minimum, where
from .primitive import Primitive as P
from .registry import public

_SUM = lambda K, x, *, dims, keepdim, dtype: K.sum(x, dims, keepdim, dtype)  # noqa: E731
_MEAN = lambda K, x, *, dims, keepdim, count: K.div(K.sum(x, dims, keepdim), count)  # noqa: E731


def expand_reduced(g, shape, dims, keepdim):
    """Broadcast a reduction's gradient back over the reduced dimensions."""
    if not keepdim and g._data.ndim:  # a 0-d gradient (a full reduction) broadcasts as is
        g = g.reshape([1 if d in dims else n for d, n in enumerate(shape)])
    return g.expand(shape)


_sum_all = P("SumBackward0", _SUM,
             x=lambda g, x_shape, dims, keepdim: expand_reduced(g, x_shape, dims, keepdim))
_sum_dims = P("SumBackward1", _SUM,
              x=lambda g, x_shape, dims, keepdim: expand_reduced(g, x_shape, dims, keepdim))
_mean_all = P("MeanBackward0", _MEAN,
              x=lambda g, x_shape, dims, keepdim, count:
                  expand_reduced(g, x_shape, dims, keepdim) / count)
_mean_dims = P("MeanBackward1", _MEAN,
               x=lambda g, x_shape, dims, keepdim, count:
                   expand_reduced(g, x_shape, dims, keepdim) / count)


def _even_share(g, x, out, dims, keepdim):
    """amax/amin gradient: split evenly between the elements that attain the extreme."""
    hits = (x == expand_reduced(out, x.shape, dims, keepdim)).to(g.dtype)
    return expand_reduced(g, x.shape, dims, keepdim) * hits / hits.sum(dims, keepdim=True)


_amax = P("AmaxBackward0", lambda K, x, *, dims, keepdim: K.amax(x, dims, keepdim),
          x=_even_share)
_amin = P("AminBackward0", lambda K, x, *, dims, keepdim: K.amin(x, dims, keepdim),
          x=_even_share)
_max_all = P("MaxBackward1", lambda K, x, *, dims, keepdim: K.amax(x, dims, keepdim),
             x=_even_share)
_min_all = P("MinBackward1", lambda K, x, *, dims, keepdim: K.amin(x, dims, keepdim),
             x=_even_share)


def _pick_back(g, x_shape, indices, dim, keepdim):
    """max(dim)/min(dim) gradient: all of it to the element each index names."""
    from .indexing import scatter_into_zeros

    if not keepdim:
        g, indices = g.unsqueeze(dim), indices.unsqueeze(dim)
    return scatter_into_zeros(g, indices, dim, x_shape)


def _along(kernel_name):
    def forward(K, x, *, dim, keepdim):
        values, indices = getattr(K, kernel_name)(x, dim, keepdim)
        return values, {"indices": indices}

    return forward


_max_dim = P("MaxBackward0", _along("max_along"), extras=("indices",), x=_pick_back)
_min_dim = P("MinBackward0", _along("min_along"), extras=("indices",), x=_pick_back)

_logsumexp = P("LogsumexpBackward0",
               lambda K, x, *, dims, keepdim: K.logsumexp(x, dims, keepdim),
               x=lambda g, x, out, dims, keepdim:
                   expand_reduced(g, x.shape, dims, keepdim)
                   * (x - expand_reduced(out, x.shape, dims, keepdim)).exp())


def _var_forward(K, x, *, dims, keepdim, count, correction):
    mean = K.div(K.sum(x, dims, True), count)
    centred = K.sub(x, mean)
    return K.div(K.sum(K.mul(centred, centred), dims, keepdim), builtins.max(count - correction, 0))


def _centred(x, dims):
    return x - x.mean(dims, keepdim=True)


_var = P("VarBackward0", _var_forward,
         x=lambda g, x, dims, keepdim, count, correction:
             expand_reduced(g, x.shape, dims, keepdim) * 2 * _centred(x, dims)
             / (count - correction))
_std = P("StdBackward0",
         lambda K, x, *, dims, keepdim, count, correction:
             K.sqrt(_var_forward(K, x, dims=dims, keepdim=keepdim, count=count,
                                 correction=correction)),
         x=lambda g, x, out, dims, keepdim, count, correction:
             expand_reduced(g / out, x.shape, dims, keepdim) * _centred(x, dims)
             / (count - correction))


def _norm_forward(K, x, *, dims, keepdim, p):
    if p == 0:  # the count of non-zero elements
        return K.sum(K.ne(x, 0), dims, keepdim, x.dtype)
    if p == 2:  # the common case, without pow's rounding
        return K.sqrt(K.sum(K.mul(x, x), dims, keepdim))
    return K.pow(K.sum(K.pow(K.abs(x), p), dims, keepdim), 1.0 / p)


def _norm_share(g, x, out, dims, keepdim, p):
    """sign(x) |x|^(p-1) / norm^(p-1), which is x / norm for p = 2; where the norm is 0
    the gradient is 0, the subgradient PyTorch picks (not 0/0)."""
    if p == 0:
        return x * 0
    norm = expand_reduced(out, x.shape, dims, keepdim)
    share = x / norm if p == 2 else x.sign() * x.abs() ** (p - 1) / norm ** (p - 1)
    return expand_reduced(g, x.shape, dims, keepdim) * where(norm == 0, 0.0, share)


_norm = P("LinalgVectorNormBackward0", _norm_forward, x=_norm_share)


# ---- the public functions ------------------------------------------------------------

def normalize_dims(input, dim):
    """A sorted tuple of non-negative dims: None (or ()) means all of them."""
    if dim is None or dim == () or dim == []:
        return tuple(range(input.dim()))
    if isinstance(dim, int):
        dim = (dim,)
    dims = tuple(sorted(input._dim_index(d) for d in dim))
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return dims


@public(method=True, out=True)
def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001 - PyTorch's name
    """Sum over `dim` (an int, a tuple, or None for all); bools and ints sum as int64."""
    if dtype is None:
        dtype = input.dtype if input.dtype.is_floating_point else dtypes.int64
    prim = _sum_all if dim is None else _sum_dims
    return prim(input, dims=normalize_dims(input, dim), keepdim=keepdim, dtype=dtype.numpy)


@public(method=True, out=True)
def mean(input, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        input = input.to(dtype)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either "
                           f"a floating point or complex dtype. Got: {input.dtype}")
    dims = normalize_dims(input, dim)
    count = math.prod(input.shape[d] for d in dims if d < input.dim())  # 0-d: dim 0 is it
    prim = _mean_all if dim is None else _mean_dims
    return prim(input, dims=dims, keepdim=keepdim, count=count)


@public(method=True, out=True)
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """sum(), NaNs counted as zero (their gradient is zero)."""
    return sum(where(isnan(input), 0.0, input), dim, keepdim, dtype=dtype)


@public(method=True, out=True)
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the elements that are not NaN."""
    if not (dtype or input.dtype).is_floating_point:
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex "
                           f"dtype but got {input.dtype}")
    present = (~isnan(input)).sum(dim, keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / present


return_types = collections.namedtuple("return_types", ["values", "indices"])


def _extreme(name, input, dim, keepdim, full, along):
    if dim is None:
        if input.numel() == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for "
                               f"input.numel() == 0. Specify the reduction dim with the "
                               f"'dim' argument.")
        return full(input, dims=normalize_dims(input, None), keepdim=False)
    d = input._dim_index(dim)
    if input.shape[d] == 0 if input.dim() else False:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    if input.dim() == 0:
        return return_types(input.clone(), input.new_zeros((), dtype=dtypes.int64))
    values, aux = along(input, dim=d, keepdim=keepdim)
    return return_types(values, Tensor._make(aux["indices"], input.device))


@public(method=True, out=True)
def max(input, dim=None, keepdim=False):  # noqa: A001 - PyTorch's name
    """The largest element, or (values, indices) along `dim`; max(a, b) is maximum."""
    if isinstance(dim, Tensor):
        return maximum(input, dim)
    return _extreme("max", input, dim, keepdim, _max_all, _max_dim)


@public(method=True, out=True)
def min(input, dim=None, keepdim=False):  # noqa: A001 - PyTorch's name
    if isinstance(dim, Tensor):
        return minimum(input, dim)
    return _extreme("min", input, dim, keepdim, _min_all, _min_dim)


@public(method=True, out=True)
def amax(input, dim=(), keepdim=False):
    return _amax(input, dims=normalize_dims(input, dim), keepdim=keepdim)


@public(method=True, out=True)
def amin(input, dim=(), keepdim=False):
    return _amin(input, dims=normalize_dims(input, dim), keepdim=keepdim)


@public(method=True, out=True)
def argmax(input, dim=None, keepdim=False):
    if dim is None:
        return max(input.reshape(-1), 0).indices
    return max(input, dim, keepdim).indices


@public(method=True, out=True)
def argmin(input, dim=None, keepdim=False):
    if dim is None:
        return min(input.reshape(-1), 0).indices
    return min(input, dim, keepdim).indices


@public(method=True, out=True)
def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))) computed without overflow."""
    if not input.dtype.is_floating_point:
        input = input.to(dtypes.get_default_dtype())
    return _logsumexp(input, dims=normalize_dims(input, dim), keepdim=keepdim)


def _spread(prim, input, dim, unbiased, keepdim, correction):
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    dims = normalize_dims(input, dim)
    count = math.prod(input.shape[d] for d in dims)
    return prim(input, dims=dims, keepdim=keepdim, count=count, correction=correction)


@public(method=True, out=True)
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (correction=1)."""
    return _spread(_var, input, dim, unbiased, keepdim, correction)


@public(method=True, out=True)
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _spread(_std, input, dim, unbiased, keepdim, correction)


@public(method=True, out=True)
def all(input, dim=None, keepdim=False):  # noqa: A001 - PyTorch's name
    b = input.to(dtypes.bool_).long()
    return sum(b, dim, keepdim) == (b.numel() if dim is None else b.shape[dim])


@public(method=True, out=True)
def any(input, dim=None, keepdim=False):  # noqa: A001 - PyTorch's name
    return sum(input.to(dtypes.bool_).long(), dim, keepdim) > 0


@public(method=True, out=True)
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm over `dim` (all elements by default): (sum |x|^p)^(1/p), the
    largest or smallest |x| for p = inf or -inf, the count of non-zeros for p = 0.
    "fro" is the 2-norm, as it is for PyTorch over one or two dims."""
    if dtype is not None:
        input = input.to(dtype)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"norm(): input dtype should be floating point, got "
                           f"{input.dtype}")
    if p == "fro":
        p = 2
    if not isinstance(p, (int, float)):
        raise RuntimeError(f"norm(): p={p!r} is not supported; use a number, inf or \"fro\"")
    dims = normalize_dims(input, dim)
    if math.isinf(p):
        extreme = amax if p > 0 else amin
        return extreme(input.abs(), dims, keepdim)
    return _norm(input, dims=dims, keepdim=keepdim, p=p)


@public(method=True)
def count_nonzero(input, dim=None):
    return (input != 0).sum(dim)
