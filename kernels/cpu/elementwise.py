"""Elementwise kernels: one scalar function each, compiled by numba into a numpy ufunc.

A ufunc brings broadcasting, arbitrary strides and `out=` for free. Each function is
compiled per dtype on first use (``@vectorize`` with one explicit signature, cached
to disk), so a program pays only for the dtypes it touches and the result dtype is
exactly the declared one.
"""
import math

import numba
import numpy as np

from .quiet import call_quietly

_NUMBA_NAMES = {np.dtype(np.bool_): "boolean"}


def _numba_name(dtype):
    dtype = np.dtype(dtype)
    return _NUMBA_NAMES.get(dtype, dtype.name)


class Elementwise:
    """A scalar function turned into a ufunc per dtype, lazily.

    `returns` is "same" (the dtype of the first argument) or "bool". `arg_types`
    overrides argument types, e.g. ("bool", None, None) for `where`'s condition.
    """

    def __init__(self, fn, returns="same", arg_types=None):
        self.fn = fn
        self.__name__ = fn.__name__
        self.nin = fn.__code__.co_argcount
        self.returns = returns
        self.arg_types = arg_types or (None,) * self.nin
        self._typed = [i for i, t in enumerate(self.arg_types) if t is None]
        self._ufuncs = {}

    def _compile(self, dtype):
        name = _numba_name(dtype)
        args = ", ".join("boolean" if t == "bool" else name for t in self.arg_types)
        result = "boolean" if self.returns == "bool" else name
        ufunc = numba.vectorize([f"{result}({args})"], cache=True)(self.fn).ufunc
        self._ufuncs[dtype] = ufunc
        return ufunc

    def __call__(self, *args, out=None):
        # The first array argument decides the dtype; Python numbers adapt to it.
        for i in self._typed:
            key = getattr(args[i], "dtype", None)
            if key is not None:
                break
        ufunc = self._ufuncs.get(key) or self._compile(key)
        if out is None:
            result = call_quietly(ufunc, *args)
            # ufuncs give numpy scalars for 0-d inputs; the backend deals only in arrays.
            return result if type(result) is np.ndarray else np.asarray(result)
        return call_quietly(ufunc, *args, out=out)


def elementwise(returns="same", arg_types=None):
    return lambda fn: Elementwise(fn, returns, arg_types)


# ---- unary ---------------------------------------------------------------------------

@elementwise()
def neg(x):
    return -x


@elementwise()
def exp(x):
    return math.exp(x)


@elementwise()
def log(x):
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


@elementwise()
def log1p(x):
    return math.log1p(x) if x > -1 else (-math.inf if x == -1 else math.nan)


@elementwise()
def sqrt(x):
    return math.sqrt(x) if x >= 0 else math.nan


@elementwise()
def abs(x):  # noqa: A001 - the backend's name for |x|
    return -x if x < 0 else x


@elementwise()
def sign(x):
    return (x > 0) - (x < 0) if x == x else x


@elementwise()
def floor(x):
    return math.floor(x)


@elementwise()
def ceil(x):
    return math.ceil(x)


@elementwise()
def round(x):  # noqa: A001 - the backend's name; halves go to the even neighbour
    r = math.floor(x + 0.5)
    if r - x == 0.5 and r % 2 != 0:
        r -= 1
    return r if x == x else x


@elementwise()
def sin(x):
    return math.sin(x)


@elementwise()
def cos(x):
    return math.cos(x)


@elementwise()
def tanh(x):
    return math.tanh(x)


@elementwise()
def sigmoid(x):
    # Two branches so that exp never overflows: sigmoid(-1000) is 0, not nan.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@elementwise()
def relu(x):
    return x if x > 0 or x != x else 0


@elementwise()
def relu_backward(g, x):
    return g if x > 0 else 0


@elementwise()
def sigmoid_backward(g, y):
    return g * y * (1 - y)


@elementwise()
def tanh_backward(g, y):
    return g * (1 - y * y)


@elementwise()
def leaky_relu(x, slope):
    return x if x > 0 else x * slope


@elementwise()
def leaky_relu_backward(g, x, slope):
    return g if x > 0 else g * slope


@elementwise()
def gelu(x):
    return 0.5 * x * (1.0 + math.erf(x * 0.7071067811865476))


@elementwise()
def gelu_backward(g, x):
    cdf = 0.5 * (1.0 + math.erf(x * 0.7071067811865476))
    pdf = math.exp(-0.5 * x * x) * 0.3989422804014327
    return g * (cdf + x * pdf)


@elementwise()
def softplus(x, beta, threshold):
    # Above the threshold log1p(exp(bx))/b equals x to working precision (PyTorch's rule).
    bx = beta * x
    return x if bx > threshold else math.log1p(math.exp(bx)) / beta


@elementwise()
def clamp(x, low, high):
    if x != x:
        return x
    return low if x < low else (high if x > high else x)


@elementwise(returns="bool")
def clamp_mask(x, low, high):
    return x >= low and x <= high


@elementwise(returns="bool", arg_types=("bool",))
def logical_not(x):
    return not x


# ---- binary --------------------------------------------------------------------------

@elementwise()
def add(a, b):
    return a + b


@elementwise()
def sub(a, b):
    return a - b


@elementwise()
def mul(a, b):
    return a * b


@elementwise()
def div(a, b):
    if b == 0:  # IEEE division without numba's ZeroDivisionError check
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


# numba's // and % already round toward minus infinity, as Python and PyTorch do. A zero
# divisor gives 0 (numba would raise): PyTorch raises for integers and gives inf or nan
# for floats, which one compiled body cannot do for both.
@elementwise()
def floor_divide(a, b):
    return a * 0 if b == 0 else a // b


@elementwise()
def remainder(a, b):
    return a * 0 if b == 0 else a % b


@elementwise()
def pow(a, b):  # noqa: A001 - the backend's name for a ** b
    return a ** b


@elementwise()
def maximum(a, b):
    return a if a > b or a != a else b


@elementwise()
def minimum(a, b):
    return a if a < b or a != a else b


@elementwise(returns="bool")
def eq(a, b):
    return a == b


@elementwise(returns="bool")
def ne(a, b):
    return a != b


@elementwise(returns="bool")
def lt(a, b):
    return a < b


@elementwise(returns="bool")
def le(a, b):
    return a <= b


@elementwise(returns="bool")
def gt(a, b):
    return a > b


@elementwise(returns="bool")
def ge(a, b):
    return a >= b


@elementwise(arg_types=("bool", None, None))
def where(cond, a, b):
    return a if cond else b
