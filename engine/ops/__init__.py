"""The op table's public face: each function serves as `engine.<name>` and, where it
takes a tensor first, as the method `Tensor.<name>`; operators map onto the same ones."""
from ..tensor import Tensor, version_counter
from .out import with_out
from . import indexing, inplace, loss, shape  # noqa: F401
from .activation import (  # noqa: F401
    dropout, elu, gelu, hardtanh, leaky_relu, log_softmax, relu, relu6, sigmoid, silu,
    softmax, softplus, tanh,
)
from .indexing import (  # noqa: F401
    argwhere, gather, index_add, index_fill, index_select, masked_fill, masked_select,
    nonzero, scatter, scatter_add, take_along_dim,
)
from .arrange import (  # noqa: F401
    broadcast_tensors, column_stack, dstack, hstack, meshgrid, repeat_interleave, reshape_as,
    row_stack, view_as, vstack,
)
from .conv import conv1d, conv2d  # noqa: F401
from .pooling import max_pool1d, max_pool2d  # noqa: F401
from .conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: F401
from .linalg import addmm, bmm, dot, matmul, mm, mv, outer  # noqa: F401
from .pointwise import (  # noqa: F401
    abs, acos, add, addcdiv, addcmul, allclose, arccos, arcsin, arctan, arctan2, asin, atan,
    atan2, ceil, clamp, clamp_max, clamp_min, clip, cos, cosh, div, divide, eq, equal, erf, exp,
    exp2, expm1, fix, floor, floor_divide, fmod, frac, ge, greater, greater_equal, gt, hypot,
    isclose, isfinite, isinf, isnan, le, lerp, less, less_equal, log, log10, log1p, log2,
    logaddexp, logical_and, logical_not, logical_or, logical_xor, lt, maximum, minimum, mul, ne,
    neg, negative, nan_to_num, not_equal, pow, reciprocal, remainder, round, rsqrt, sign, sin,
    sinh, sqrt, square, sub, subtract, tan, true_divide, trunc, where, xlogy,
)
from .reduction import (  # noqa: F401
    all, amax, amin, any, argmax, argmin, count_nonzero, logsumexp, max, mean, min, norm, std,
    sum, var,
)
from .sorting import argsort, median, sort, topk, unique  # noqa: F401
from .triangular import tril, triu  # noqa: F401
from .reorder import flip, roll  # noqa: F401
from .scan import cumsum  # noqa: F401
from .einsum import einsum  # noqa: F401
from .matrix import baddbmm, cdist, diag, diagonal, inner, trace  # noqa: F401
from .products import cumprod, prod  # noqa: F401
from .shape import (  # noqa: F401
    broadcast_to, cat, chunk, clone, concat, concatenate, contiguous, expand, expand_as,
    flatten, narrow, permute, repeat, reshape, select, split, squeeze, stack, swapaxes,
    swapdims, t, transpose, unbind, unflatten, unsqueeze, view,
)

multiply = mul

_METHODS = """
abs add allclose equal clamp clamp_max clamp_min clip cos div divide eq exp ge greater greater_equal
gt isclose isfinite isinf isnan le less less_equal log log1p log2 log10 logical_and logical_not
logical_or logical_xor lt maximum minimum mul multiply ne neg negative not_equal pow
reciprocal rsqrt sign sin sqrt square sub subtract true_divide xlogy floor_divide remainder
floor ceil round tan asin acos atan sinh cosh erf exp2 expm1 trunc fix frac logaddexp
atan2 arctan2 fmod hypot arcsin arccos arctan
all amax amin any argmax argmin logsumexp max mean min norm std sum var
broadcast_to chunk clone contiguous expand expand_as flatten narrow permute repeat reshape
select split squeeze swapaxes swapdims t transpose unbind unflatten unsqueeze view
gather index_select masked_fill scatter_add take_along_dim argsort sort topk tril triu
argwhere index_add index_fill masked_select nonzero scatter repeat_interleave reshape_as view_as
prod cumprod diag diagonal trace inner baddbmm count_nonzero median unique lerp addcmul addcdiv
nan_to_num
flip roll cumsum
matmul mm mv dot bmm addmm outer
relu sigmoid tanh softmax log_softmax
""".split()

for _name in _METHODS:
    setattr(Tensor, _name, globals()[_name])


def _swap(fn):
    return lambda self, other: fn(other, self)


def _rpow(self, other):
    return pow(other, self)


# Operators are the op functions themselves (not wrappers), to keep a frame off every call.
Tensor.where = lambda self, condition, other: where(condition, self, other)
Tensor.__add__ = Tensor.__radd__ = add
Tensor.__sub__ = sub
Tensor.__rsub__ = _swap(sub)
Tensor.__mul__ = Tensor.__rmul__ = mul
Tensor.__truediv__ = div
Tensor.__rtruediv__ = _swap(div)
Tensor.__pow__ = pow
Tensor.__rpow__ = _rpow
Tensor.__floordiv__ = floor_divide
Tensor.__rfloordiv__ = _swap(floor_divide)
Tensor.__mod__ = remainder
Tensor.__rmod__ = _swap(remainder)
Tensor.__matmul__ = matmul
Tensor.__rmatmul__ = _swap(matmul)
Tensor.__neg__ = neg
Tensor.__abs__ = abs
Tensor.__pos__ = lambda self: self
Tensor.__eq__ = eq
Tensor.__ne__ = ne
Tensor.__lt__ = lt
Tensor.__le__ = le
Tensor.__gt__ = gt
Tensor.__ge__ = ge
Tensor.__invert__ = logical_not
Tensor.__and__ = lambda self, other: _bitwise(self, other, logical_and)
Tensor.__or__ = lambda self, other: _bitwise(self, other, logical_or)
Tensor.__xor__ = lambda self, other: _bitwise(self, other, logical_xor)
Tensor.__getitem__ = indexing.getitem
Tensor.__setitem__ = indexing.setitem
Tensor.T = property(shape.numpy_T)
Tensor.mT = property(shape.matrix_transpose)


def _bitwise(a, b, logical):
    from .. import dtypes

    if a.dtype is not dtypes.bool_:
        raise TypeError(f"bitwise ops are only supported on bool tensors here, got {a.dtype}")
    return logical(a, b)


def _new(fn):
    def method(self, size, *args, dtype=None, device=None, requires_grad=False):
        return fn(size, *args, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)

    return method


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    from ..creation import tensor

    return tensor(data, dtype=dtype or self.dtype, device=device or self.device,
                  requires_grad=requires_grad)


def _attach_creation():
    from .. import creation

    Tensor.new_zeros = _new(creation.zeros)
    Tensor.new_ones = _new(creation.ones)
    Tensor.new_empty = _new(creation.empty)
    Tensor.new_full = _new(creation.full)
    Tensor.new_tensor = _new_tensor


_attach_creation()


# ---- in-place ------------------------------------------------------------------------

def _inplace(fn, kernel=None):
    def method(self, other, **kwargs):
        return inplace.update(self, fn, other, kernel, **kwargs)

    return method


def _inplace_unary(fn):
    def method(self, *args, **kwargs):
        return inplace.update(self, lambda x, _, **kw: fn(x, *args, **kw), None, **kwargs)

    return method


Tensor.add_ = _inplace(add, "add_")
Tensor.sub_ = _inplace(sub, "sub_")
Tensor.mul_ = _inplace(mul, "mul_")
Tensor.div_ = _inplace(div, "div_")
Tensor.pow_ = _inplace(pow)
Tensor.__iadd__ = Tensor.add_
Tensor.__isub__ = Tensor.sub_
Tensor.__imul__ = Tensor.mul_
Tensor.__itruediv__ = Tensor.div_
for _name in ("clamp", "exp", "log", "neg", "sqrt", "abs", "relu", "sigmoid", "tanh",
              "sin", "cos", "clamp_min", "clamp_max"):
    setattr(Tensor, _name + "_", _inplace_unary(globals()[_name]))


def _copy_(self, src, non_blocking=False):
    """Copy `src` (broadcast, converted) into this tensor's memory."""
    from .operands import NUMBER, scalar

    if isinstance(src, NUMBER):
        src = scalar(src, self.dtype, self.device)
    if src.device != self.device:
        src = src.to(self.device)
    broadcast = src.to(self.dtype).expand(self.shape)
    if inplace.needs_history(self, src):
        return inplace.commit(self, broadcast.clone())
    inplace.check_writable(self)
    self._backend.copy_into(self._data, broadcast._data)
    version_counter(self).value += 1
    return self


def _fill_(self, value):
    from .. import creation

    with_value = creation.full_like(self, value.item() if isinstance(value, Tensor) else value)
    return _copy_(self, with_value)


def _zero_(self):
    return _fill_(self, 0)


def _masked_fill_(self, mask, value):
    return inplace.update(self, lambda x, _: masked_fill(x, mask, value), None)


def _random_(draw):
    """In-place random fill, drawn straight from the backend (no arithmetic kernels)."""
    def method(self, a=0.0, b=1.0, *, generator=None):
        from ..random import generator_for

        inplace.check_writable(self)
        values = draw(self._backend, generator_for(self._device, generator), self.shape,
                      float(a), float(b), self._dtype.numpy)
        self._backend.copy_into(self._data, values)
        version_counter(self).value += 1
        return self

    return method


Tensor.uniform_ = _random_(lambda K, gen, shape, low, high, dt:
                           K.uniform(gen, shape, low, high, dt))  # uniform_(from, to)
Tensor.normal_ = _random_(lambda K, gen, shape, loc, scale, dt:
                          K.normal(gen, shape, loc, scale, dt))  # normal_(mean, std)
Tensor.copy_ = _copy_
Tensor.fill_ = _fill_
Tensor.zero_ = _zero_
Tensor.masked_fill_ = _masked_fill_


# The functional spellings take out= (engine.mul(a, b, out=c)); the operators and methods
# attached above keep the bare ops, so they pay nothing for it.
_WITH_OUT = """
abs add ceil clamp clamp_max clamp_min clip cos div divide eq exp floor floor_divide ge
greater greater_equal gt le less less_equal log log1p log2 log10 logical_and logical_not
logical_or logical_xor lt maximum minimum mul multiply ne neg negative not_equal pow
reciprocal remainder round rsqrt sign sin sqrt square sub subtract true_divide where xlogy
tan asin acos atan sinh cosh erf exp2 expm1 trunc atan2 fmod hypot logaddexp
all amax amin any argmax argmin logsumexp max mean min norm std sum var sort topk
matmul mm mv dot bmm addmm outer cat concat concatenate stack sigmoid tanh tril triu
cumsum
""".split()

for _name in _WITH_OUT:
    globals()[_name] = with_out(globals()[_name])
