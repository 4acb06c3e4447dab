"""The op table's public face: each op module declares its public ops beside their
definitions (`registry.public`); here they become `engine.<name>`, Tensor methods,
in-place methods and out= spellings, and the operators map onto the same ops."""
from .. import tracing
from ..tensor import Tensor, version_counter
from . import (  # noqa: F401 - importing each op module declares its ops
    activation, arrange, conv, conv_transpose, einsum, indexing, inplace, linalg, loss,
    matrix, pointwise, pooling, products, reduction, reorder, scan, searching, shape, sorting,
    triangular,
)
from .indexing import index_add, index_fill, masked_fill, scatter, scatter_add
from .linalg import matmul
from .out import with_out
from .pointwise import (  # the bare ops the operators below stand for
    add, div, eq, floor_divide, ge, gt, le, logical_and, logical_not, logical_or, logical_xor,
    lt, mul, ne, neg, remainder, sub, where,
)
from .registry import OPS

# The bare ops first: the operators and methods below use them, and pay nothing for out=.
globals().update({name: entry.fn for name, entry in OPS.items()})
__all__ = [*OPS, "with_out", "activation", "arrange", "conv", "conv_transpose", "einsum",
           "indexing", "inplace", "loss", "matrix", "pointwise", "pooling",
           "products", "reduction", "reorder", "scan", "shape", "sorting", "triangular"]
for _name, _entry in OPS.items():
    if _entry.method:
        setattr(Tensor, _name, _entry.fn)

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


for _name, _entry in OPS.items():
    if _entry.inplace == "unary":
        setattr(Tensor, _name + "_", _inplace_unary(_entry.fn))
    elif _entry.inplace:
        kernel = _entry.inplace if isinstance(_entry.inplace, str) else None
        setattr(Tensor, _name + "_", _inplace(_entry.fn, kernel))
Tensor.__iadd__ = Tensor.add_
Tensor.__isub__ = Tensor.sub_
Tensor.__imul__ = Tensor.mul_
Tensor.__itruediv__ = Tensor.div_


def _copy_(self, src, non_blocking=False):
    """Copy `src` (broadcast, converted) into this tensor's memory."""
    from .operands import NUMBER, scalar

    if isinstance(src, NUMBER):
        src = scalar(src, self.dtype, self.device)
    if src.device != self.device:
        src = src.to(self.device)
    broadcast = src.to(self.dtype).expand(self.shape)
    if inplace.needs_history(self, src) or tracing.TRACER[0] is not None:
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


def _functional_(fn):
    """Tensor.<fn>_: the functional op's result written into self (recorded when
    gradients flow), for masked_fill and the indexing ops programs call in place."""
    def method(self, *args, **kwargs):
        return inplace.update(self, lambda x, _: fn(x, *args, **kwargs), None)

    method.__name__ = fn.__name__ + "_"
    return method


def _scatter_(self, dim, index, src=None, value=None, *, reduce=None):
    """scatter_(dim, index, src) or scatter_(dim, index, value): a number third is the value."""
    if not isinstance(src, Tensor) and src is not None:
        src, value = None, src
    return inplace.update(self, lambda x, _: scatter(x, dim, index, src, value, reduce=reduce),
                          None)


def _view_(view):
    """An in-place view op (unsqueeze_, t_): self takes the view's shape and history."""
    def method(self, *args):
        inplace.check_writable(self)
        out = view(self, *args)
        self._data = out._data
        if out._grad_fn is not None:
            self._grad_fn = out._grad_fn
        return self

    method.__name__ = view.__name__ + "_"
    return method


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
Tensor.masked_fill_ = _functional_(masked_fill)
Tensor.scatter_ = _scatter_
Tensor.scatter_add_ = _functional_(scatter_add)
Tensor.index_add_ = _functional_(index_add)
Tensor.index_fill_ = _functional_(index_fill)
for _view in (shape.unsqueeze, shape.squeeze, shape.t, shape.transpose):
    setattr(Tensor, _view.__name__ + "_", _view_(_view))


# The functional spellings take out= (engine.mul(a, b, out=c)); the operators and methods
# attached above keep the bare ops, so they pay nothing for it.
for _name, _entry in OPS.items():
    if _entry.out:
        globals()[_name] = with_out(_entry.fn)
