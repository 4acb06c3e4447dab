"""Elementwise ops: each one's kernel and derivative, side by side.

Formulas read like PyTorch's derivatives.yaml: `a=lambda g, b: g * b` is
"d(out)/d(a), given the output gradient g, is g * b". Broadcasting is undone
by the engine (see `primitive.sum_to`), never here.
"""
import math

import numpy as np

from .. import dtypes
from .operands import NUMBER, check_broadcast, promote, scalar
from .primitive import Primitive as P
from .registry import public

# ---- arithmetic ----------------------------------------------------------------------

_add = P("AddBackward0", lambda K, a, b: K.add(a, b),
         a=lambda g: g,
         b=lambda g: g)
_sub = P("SubBackward0", lambda K, a, b: K.sub(a, b),
         a=lambda g: g,
         b=lambda g: -g)
_mul = P("MulBackward0", lambda K, a, b: K.mul(a, b),
         a=lambda g, b: g * b,
         b=lambda g, a: g * a)
_div = P("DivBackward0", lambda K, a, b: K.div(a, b),
         a=lambda g, b: g / b,
         b=lambda g, a, b: -g * a / (b * b))
_pow = P("PowBackward1", lambda K, a, b: K.pow(a, b),
         a=lambda g, a, b: g * b * a ** (b - 1),
         b=lambda g, a, b, out: where((a == 0) & (b >= 0), 0.0, g * out * log(a)))
_pow_scalar = P("PowBackward0", lambda K, a, *, exponent: K.pow(a, exponent),
                a=lambda g, a, exponent: (g * 0 if exponent == 0
                                          else g * exponent * a ** (exponent - 1)))
_atan2 = P("Atan2Backward0", lambda K, a, b: K.atan2(a, b),
           a=lambda g, a, b: g * b * _inverse_or_zero(a * a + b * b),
           b=lambda g, a, b: -g * a * _inverse_or_zero(a * a + b * b))


def _inverse_or_zero(t):
    """1 / t, and 0 where t is 0 (atan2's gradient at the origin, as PyTorch gives it)."""
    return where(t == 0, 0.0, 1 / where(t == 0, 1.0, t))
_fmod = P("FmodBackward1", lambda K, a, b: K.fmod(a, b),
          a=lambda g: g,
          b=lambda g, a, b: -g * trunc(a / b))
_floor_divide = P("floor_divide", lambda K, a, b: K.floor_divide(a, b))  # no gradient
_remainder = P("RemainderBackward1", lambda K, a, b: K.remainder(a, b),
               a=lambda g: g,
               b=lambda g, a, b: -g * floor_divide(a, b))
_maximum = P("MaximumBackward0", lambda K, a, b: K.maximum(a, b),
             a=lambda g, a, b: g * _winner_share(a, b),
             b=lambda g, a, b: g * _winner_share(b, a))
_minimum = P("MinimumBackward0", lambda K, a, b: K.minimum(a, b),
             a=lambda g, a, b: g * _winner_share(b, a),
             b=lambda g, a, b: g * _winner_share(a, b))
_where = P("WhereBackward0", lambda K, cond, a, b: K.where(cond, a, b),
           a=lambda g, cond: where(cond, g, 0.0),
           b=lambda g, cond: where(cond, 0.0, g))


def _winner_share(a, b):
    """1 where a wins, 1/2 on ties (PyTorch splits the gradient of max and min evenly)."""
    return where(a > b, 1.0, where(a == b, 0.5, 0.0)).to(a.dtype)


def _binary(prim, name, floating=False, float_scalar=False):
    """`float_scalar`: a float16/bfloat16 tensor meets a Python float at float32
    precision, not rounded to the tensor's type first (PyTorch's mul and div)."""
    def op(input, other):
        if float_scalar and type(other) is float and getattr(input, "_dtype", dtypes.int64).narrow:
            return prim(input, scalar(other, dtypes.float32, input._device))
        a, b = promote(name, input, other, floating=floating)
        if a._data.shape != b._data.shape:
            check_broadcast(name, (a, b))
        return prim(a, b)

    op.__name__ = name
    return op


class IntegerDivisionByZero(RuntimeError, ZeroDivisionError):
    """PyTorch raises RuntimeError("ZeroDivisionError"); this is both kinds of error."""


def _integer_division(prim, name):
    """A division-like op that refuses integer division by zero, as PyTorch does on the
    CPU (floats give inf or nan there, and from the kernels here)."""
    def op(input, other):
        a, b = promote(name, input, other)
        if a._data.shape != b._data.shape:
            check_broadcast(name, (a, b))
        if not b._dtype.is_floating_point and b._device.type == "cpu" and not b._data.all():
            raise IntegerDivisionByZero(f"ZeroDivisionError: {name}: integer division by "
                                        f"zero")
        return prim(a, b)

    op.__name__ = name
    return op


mul = public("multiply", method=True, out=True, inplace="mul_")(
    _binary(_mul, "mul", float_scalar=True))
floor_divide = public(method=True, out=True)(_integer_division(_floor_divide, "floor_divide"))
remainder = public(method=True, out=True)(_integer_division(_remainder, "remainder"))
div = public("divide", "true_divide", method=True, out=True, inplace="div_")(
    _binary(_div, "div", floating=True, float_scalar=True))
maximum = public(method=True, out=True)(_binary(_maximum, "maximum"))
minimum = public(method=True, out=True)(_binary(_minimum, "minimum"))
atan2 = public("arctan2", method=True, out=True)(_binary(_atan2, "atan2", floating=True))
fmod = public(method=True, out=True)(_integer_division(_fmod, "fmod"))


@public(method=True, out=True)
def hypot(input, other):
    return sqrt(input * input + other * other)


@public(method=True)
def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return input + weight * (end - input)


@public(method=True, inplace="unary")
def addcmul(input, tensor1, tensor2, *, value=1):
    return input + value * tensor1 * tensor2


@public(method=True, inplace="unary")
def addcdiv(input, tensor1, tensor2, *, value=1):
    return input + value * tensor1 / tensor2


@public(method=True)
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced (by default with 0 and the dtype's largest and smallest
    finite values)."""
    if not input._dtype.is_floating_point:
        return input.clone()
    info = dtypes.finfo(input._dtype)
    high = float(info.max) if posinf is None else posinf
    low = float(info.min) if neginf is None else neginf
    return where(input != input, nan, where(input == math.inf, high,
                                            where(input == -math.inf, low, input)))


@public(method=True, out=True, inplace="add_")
def add(input, other, *, alpha=1):
    """input + alpha * other."""
    a, b = promote("add", input, other)
    if alpha != 1:
        b = b * alpha
    if a._data.shape != b._data.shape:
        check_broadcast("add", (a, b))
    return _add(a, b)


@public("subtract", method=True, out=True, inplace="sub_")
def sub(input, other, *, alpha=1):
    """input - alpha * other."""
    a, b = promote("sub", input, other)
    if a._dtype is dtypes.bool_:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not "
                           "supported. Use the `^` or `logical_xor()` operator instead.")
    if alpha != 1:
        b = b * alpha
    if a._data.shape != b._data.shape:
        check_broadcast("sub", (a, b))
    return _sub(a, b)


@public(method=True, out=True, inplace=True)
def pow(input, exponent):  # noqa: A001 - PyTorch's name
    """input ** exponent; a number exponent is an attribute, not a tensor input."""
    if isinstance(exponent, NUMBER) and not isinstance(input, NUMBER):
        a = promote("pow", input, exponent)[0]
        return _pow_scalar(a, exponent=exponent)
    a, b = promote("pow", input, exponent)
    check_broadcast("pow", (a, b))
    return _pow(a, b)


@public(out=True)
def where(condition, input, other):
    """Elements of `input` where `condition` holds, else of `other`."""
    a, b = promote("where", input, other, device=condition.device)
    cond = condition if condition._dtype is dtypes.bool_ else condition.to(dtypes.bool_)
    check_broadcast("where", (cond, a, b))
    return _where(cond, a, b)


# ---- comparisons (no gradient: their results are bool) ---------------------------------

def _comparison(kernel_name, name):
    prim = P(f"{name}", lambda K, a, b: getattr(K, kernel_name)(a, b))
    return _binary(prim, name)


eq = public(method=True, out=True)(_comparison("eq", "eq"))
ne = public("not_equal", method=True, out=True)(_comparison("ne", "ne"))
lt = public("less", method=True, out=True)(_comparison("lt", "lt"))
le = public("less_equal", method=True, out=True)(_comparison("le", "le"))
gt = public("greater", method=True, out=True)(_comparison("gt", "gt"))
ge = public("greater_equal", method=True, out=True)(_comparison("ge", "ge"))


# ---- unary ---------------------------------------------------------------------------

_neg = P("NegBackward0", lambda K, x: K.neg(x), x=lambda g: -g)
_exp = P("ExpBackward0", lambda K, x: K.exp(x), x=lambda g, out: g * out)
_log = P("LogBackward0", lambda K, x: K.log(x), x=lambda g, x: g / x)
_log1p = P("Log1PBackward0", lambda K, x: K.log1p(x), x=lambda g, x: g / (x + 1))
_sqrt = P("SqrtBackward0", lambda K, x: K.sqrt(x), x=lambda g, out: g / (2 * out))
_abs = P("AbsBackward0", lambda K, x: K.abs(x), x=lambda g, x: g * sign(x))
_sign = P("SignBackward0", lambda K, x: K.sign(x), x=lambda g: g * 0)
# Step functions: zero derivative almost everywhere, as PyTorch defines it.
_floor = P("FloorBackward0", lambda K, x: K.floor(x), x=lambda g: g * 0)
_ceil = P("CeilBackward0", lambda K, x: K.ceil(x), x=lambda g: g * 0)
_round = P("RoundBackward0", lambda K, x: K.round(x), x=lambda g: g * 0)
_sin = P("SinBackward0", lambda K, x: K.sin(x), x=lambda g, x: g * cos(x))
_cos = P("CosBackward0", lambda K, x: K.cos(x), x=lambda g, x: -g * sin(x))
_tan = P("TanBackward0", lambda K, x: K.tan(x), x=lambda g, out: g * (1 + out * out))
_asin = P("AsinBackward0", lambda K, x: K.asin(x), x=lambda g, x: g / sqrt(1 - x * x))
_acos = P("AcosBackward0", lambda K, x: K.acos(x), x=lambda g, x: -g / sqrt(1 - x * x))
_atan = P("AtanBackward0", lambda K, x: K.atan(x), x=lambda g, x: g / (1 + x * x))
_sinh = P("SinhBackward0", lambda K, x: K.sinh(x), x=lambda g, x: g * cosh(x))
_cosh = P("CoshBackward0", lambda K, x: K.cosh(x), x=lambda g, x: g * sinh(x))
_erf = P("ErfBackward0", lambda K, x: K.erf(x),
         x=lambda g, x: g * (2 / math.sqrt(math.pi)) * exp(-x * x))
_exp2 = P("Exp2Backward0", lambda K, x: K.exp2(x), x=lambda g, out: g * out * math.log(2))
_expm1 = P("Expm1Backward0", lambda K, x: K.expm1(x), x=lambda g, out: g * (out + 1))
_trunc = P("TruncBackward0", lambda K, x: K.trunc(x), x=lambda g: g * 0)


def _unary(prim, name, floating=True):
    def op(input):
        if floating and not input._dtype.is_floating_point:
            input = input.to(dtypes.get_default_dtype())
        return prim(input)

    op.__name__ = name
    return op


neg = public("negative", method=True, out=True, inplace="unary")(
    _unary(_neg, "neg", floating=False))
abs = public("absolute", method=True, out=True, inplace="unary")(
    _unary(_abs, "abs", floating=False))
sign = public(method=True, out=True)(_unary(_sign, "sign", floating=False))
exp = public(method=True, out=True, inplace="unary")(_unary(_exp, "exp"))
log = public(method=True, out=True, inplace="unary")(_unary(_log, "log"))
log1p = public(method=True, out=True)(_unary(_log1p, "log1p"))
sqrt = public(method=True, out=True, inplace="unary")(_unary(_sqrt, "sqrt"))
sin = public(method=True, out=True, inplace="unary")(_unary(_sin, "sin"))
floor = public(method=True, out=True)(_unary(_floor, "floor", floating=False))
ceil = public(method=True, out=True)(_unary(_ceil, "ceil", floating=False))
round = public(method=True, out=True)(_unary(_round, "round", floating=False))
cos = public(method=True, out=True, inplace="unary")(_unary(_cos, "cos"))
tan = public(method=True, out=True)(_unary(_tan, "tan"))
asin = public("arcsin", method=True, out=True)(_unary(_asin, "asin"))
acos = public("arccos", method=True, out=True)(_unary(_acos, "acos"))
atan = public("arctan", method=True, out=True)(_unary(_atan, "atan"))
sinh = public(method=True, out=True)(_unary(_sinh, "sinh"))
cosh = public(method=True, out=True)(_unary(_cosh, "cosh"))
erf = public(method=True, out=True)(_unary(_erf, "erf"))
exp2 = public(method=True, out=True)(_unary(_exp2, "exp2"))
expm1 = public(method=True, out=True)(_unary(_expm1, "expm1"))
trunc = public("fix", method=True, out=True)(_unary(_trunc, "trunc", floating=False))


@public(method=True)
def frac(input):
    """The fractional part, with the sign of the input: x - trunc(x)."""
    return input - trunc(input)


@public(method=True, out=True)
def logaddexp(input, other):
    """log(exp(a) + exp(b)) without overflow: the larger plus log1p of the other's share."""
    high = maximum(input, other)
    return high + log1p(exp(-abs(input - other)))


@public(method=True, out=True)
def rsqrt(input):
    return 1 / sqrt(input)


@public(method=True, out=True)
def square(input):
    return input * input


@public(method=True, out=True)
def reciprocal(input):
    return 1 / input


@public(method=True, out=True)
def log2(input):
    return log(input) / math.log(2)


@public(method=True, out=True)
def log10(input):
    return log(input) / math.log(10)


@public(method=True)
def isnan(input):
    return input != input


@public(method=True)
def isinf(input):
    return abs(input) == math.inf


@public(method=True, out=True)
def isposinf(input):
    return input == math.inf


@public(method=True, out=True)
def isneginf(input):
    return input == -math.inf


@public(method=True)
def positive(input):
    """The tensor itself (unary plus); bool tensors are refused, as in PyTorch."""
    if input._dtype is dtypes.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


@public(method=True, out=True, inplace="unary")
def deg2rad(input):
    return _floating_input(input) * (math.pi / 180)


@public(method=True, out=True, inplace="unary")
def rad2deg(input):
    return _floating_input(input) * (180 / math.pi)


@public(method=True, out=True, inplace="unary")
def logit(input, eps=None):
    """log(p / (1 - p)), p first clamped to [eps, 1 - eps] if eps is given (so the
    gradient is zero outside it)."""
    p = input if eps is None else clamp(input, eps, 1 - eps)
    return log(p / (1 - p))


@public(method=True, out=True)
def fmax(input, other):
    """The larger of each pair, a NaN losing to a number (maximum propagates NaNs); a
    tie's gradient goes to input, as PyTorch's does."""
    return where((input >= other) | isnan(other), input, other)


@public(method=True, out=True)
def fmin(input, other):
    """The smaller of each pair, a NaN losing to a number; ties as fmax."""
    return where((input <= other) | isnan(other), input, other)


def _floating_input(input):
    return input if input._dtype.is_floating_point else input.to(dtypes.get_default_dtype())


@public(method=True)
def isfinite(input):
    return (input == input) & (abs(input) != math.inf)


@public(method=True)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """|input - other| <= atol + rtol * |other| elementwise, for operands of one dtype.
    Equal values are close (infinities included); NaN is close to NaN only with
    equal_nan. Nothing is recorded: the answer is a bool mask."""
    if input.dtype is not other.dtype:
        raise RuntimeError(f"isclose: {input.dtype} did not match {other.dtype}")
    if rtol < 0 or atol < 0:
        raise RuntimeError(f"isclose: rtol and atol must be non-negative, got rtol={rtol} "
                           f"and atol={atol}")
    a, b = input.detach(), other.detach()
    close = eq(a, b)
    if a.dtype is dtypes.bool_:
        return close
    finite = logical_and(isfinite(a), isfinite(b))
    within = logical_and(finite, le(abs(a - b), atol + rtol * abs(b)))
    close = logical_or(close, within)
    return logical_or(close, logical_and(isnan(a), isnan(b))) if equal_nan else close


@public(method=True)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element is close (see isclose): a Python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


@public(method=True)
def equal(input, other):
    """Whether both have the same shape and the same elements: a Python bool (NaN is
    never equal, as in PyTorch)."""
    if input.device != other.device:
        raise RuntimeError(f"Expected all tensors to be on the same device, but found at "
                           f"least two devices, {input.device} and {other.device}! (equal)")
    return tuple(input.shape) == tuple(other.shape) and bool((input == other).all())


@public(method=True, out=True)
def logical_not(input):
    return _logical_not(input if input._dtype is dtypes.bool_ else input.to(dtypes.bool_))


_logical_not = P("logical_not", lambda K, x: K.logical_not(x))


@public(method=True, out=True)
def logical_and(input, other):
    return (input.to(dtypes.bool_) * other.to(dtypes.bool_)).to(dtypes.bool_)


@public(method=True, out=True)
def logical_or(input, other):
    return (input.to(dtypes.bool_).long() + other.to(dtypes.bool_).long()) > 0


@public(method=True, out=True)
def logical_xor(input, other):
    return input.to(dtypes.bool_) != other.to(dtypes.bool_)


# ---- clamp ---------------------------------------------------------------------------

_clamp = P("ClampBackward1", lambda K, x, *, low, high: K.clamp(x, low, high),
           x=lambda g, x, low, high: g * _clamp_mask(x, low=low, high=high))
_clamp_mask = P("clamp_mask", lambda K, x, *, low, high: K.clamp_mask(x, low, high))


@public("clip", method=True, out=True, inplace="unary")
def clamp(input, min=None, max=None):  # noqa: A002 - PyTorch's argument names
    """Limit every element to [min, max]; either bound may be None."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if input._dtype.is_floating_point:
        low = -math.inf if min is None else float(min)
        high = math.inf if max is None else float(max)
    else:
        info = _int_limits(input._dtype)
        low = info[0] if min is None else min
        high = info[1] if max is None else max
    return _clamp(input, low=low, high=high)


def _int_limits(dtype):
    if dtype is dtypes.bool_:
        return (0, 1)
    info = np.iinfo(dtype.numpy)
    return (int(info.min), int(info.max))




@public(method=True, out=True, inplace="unary")
def clamp_min(input, min):  # noqa: A002
    return clamp(input, min=min)


@public(method=True, out=True, inplace="unary")
def clamp_max(input, max):  # noqa: A002
    return clamp(input, max=max)


@public(method=True, out=True)
def xlogy(input, other):
    """x * log(y), defined as 0 where x is 0 (as in KL divergence)."""
    return where(input == 0, 0.0, input * log(where(input == 0, 1.0, other)))
