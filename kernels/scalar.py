"""The scalar body of every elementwise kernel, written once for all backends.

Each function maps numbers to a number; `kernels.cpu` compiles it into a numpy ufunc
(`@vectorize`), `kernels.cuda` into a device function called from a strided loop. So
the CPU and the GPU cannot disagree about a formula. `@scalar` records the result
type ("same" as the first typed argument, or "bool") and argument types that differ
from it (`where`'s condition is bool whatever the values' dtype).
"""
import math

NAMES = []


def scalar(returns="same", arg_types=None):
    def register(fn):
        fn.returns = returns
        fn.arg_types = arg_types or (None,) * fn.__code__.co_argcount
        NAMES.append(fn.__name__)
        return fn

    return register


# ---- unary ---------------------------------------------------------------------------

@scalar()
def neg(x):
    return -x


@scalar()
def exp(x):
    return math.exp(x)


@scalar()
def log(x):
    return math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan)


@scalar()
def log1p(x):
    return math.log1p(x) if x > -1 else (-math.inf if x == -1 else math.nan)


@scalar()
def sqrt(x):
    return math.sqrt(x) if x >= 0 else math.nan


@scalar()
def abs(x):  # noqa: A001 - the backend's name for |x|
    return -x if x < 0 else x


@scalar()
def sign(x):
    if x != x:
        return x
    return 1 if x > 0 else (-1 if x < 0 else 0)


@scalar()
def floor(x):
    return math.floor(x)


@scalar()
def ceil(x):
    return math.ceil(x)


@scalar()
def round(x):  # noqa: A001 - the backend's name; halves go to the even neighbour
    r = math.floor(x + 0.5)
    if r - x == 0.5 and r % 2 != 0:
        r -= 1
    return r if x == x else x


@scalar()
def sin(x):
    return math.sin(x)


@scalar()
def cos(x):
    return math.cos(x)


@scalar()
def tanh(x):
    return math.tanh(x)


@scalar()
def tan(x):
    return math.tan(x)


@scalar()
def asin(x):
    return math.asin(x) if -1 <= x <= 1 else math.nan


@scalar()
def acos(x):
    return math.acos(x) if -1 <= x <= 1 else math.nan


@scalar()
def atan(x):
    return math.atan(x)


@scalar()
def sinh(x):
    return math.sinh(x)


@scalar()
def cosh(x):
    return math.cosh(x)


@scalar()
def erf(x):
    return math.erf(x)


@scalar()
def exp2(x):
    return 2.0 ** x


@scalar()
def expm1(x):
    return math.expm1(x)


@scalar()
def trunc(x):
    if x != x:
        return x
    return math.floor(x) if x >= 0 else math.ceil(x)


@scalar()
def sigmoid(x):
    # Two branches so that exp never overflows: sigmoid(-1000) is 0, not nan.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


@scalar()
def relu(x):
    return x if x > 0 or x != x else 0


@scalar()
def relu_backward(g, x):
    return g if x > 0 else 0


@scalar()
def sigmoid_backward(g, y):
    return g * y * (1 - y)


@scalar()
def tanh_backward(g, y):
    return g * (1 - y * y)


@scalar()
def leaky_relu(x, slope):
    return x if x > 0 else x * slope


@scalar()
def leaky_relu_backward(g, x, slope):
    return g if x > 0 else g * slope


@scalar()
def gelu(x):
    return 0.5 * x * (1.0 + math.erf(x * 0.7071067811865476))


@scalar()
def gelu_backward(g, x):
    cdf = 0.5 * (1.0 + math.erf(x * 0.7071067811865476))
    pdf = math.exp(-0.5 * x * x) * 0.3989422804014327
    return g * (cdf + x * pdf)


@scalar()
def softplus(x, beta, threshold):
    # Above the threshold log1p(exp(bx))/b equals x to working precision (PyTorch's rule).
    bx = beta * x
    return x if bx > threshold else math.log1p(math.exp(bx)) / beta


@scalar()
def clamp(x, low, high):
    if x != x:
        return x
    return low if x < low else (high if x > high else x)


@scalar(returns="bool")
def clamp_mask(x, low, high):
    return x >= low and x <= high


@scalar(returns="bool", arg_types=("bool",))
def logical_not(x):
    return not x


# ---- binary --------------------------------------------------------------------------

@scalar()
def add(a, b):
    return a + b


@scalar()
def sub(a, b):
    return a - b


@scalar()
def mul(a, b):
    return a * b


@scalar()
def div(a, b):
    if b == 0:  # IEEE division without numba's ZeroDivisionError check
        return math.nan if a == 0 or a != a else math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


# numba's // and % round toward minus infinity, as Python and PyTorch do. Both backends
# compile them with numpy's error model, so a zero divisor gives inf or nan for floats,
# as PyTorch does (Python's model would raise). An integer zero divisor gives 0 here,
# but never arrives: the op raises ZeroDivisionError first, as PyTorch does on the CPU.
@scalar()
def floor_divide(a, b):
    return a // b


@scalar()
def remainder(a, b):
    return a % b


@scalar()
def pow(a, b):  # noqa: A001 - the backend's name for a ** b
    return a ** b


@scalar()
def atan2(a, b):
    return math.atan2(a, b)


@scalar()
def fmod(a, b):
    """C's remainder, with the sign of a (remainder's, Python's %, has the sign of b).
    A zero divisor makes r NaN (floats) or 0 (integers, refused by the op)."""
    r = a % b
    return r - b if r != 0 and (r < 0) != (a < 0) else r


@scalar()
def maximum(a, b):
    return a if a > b or a != a else b


@scalar()
def minimum(a, b):
    return a if a < b or a != a else b


@scalar(returns="bool")
def eq(a, b):
    return a == b


@scalar(returns="bool")
def ne(a, b):
    return a != b


@scalar(returns="bool")
def lt(a, b):
    return a < b


@scalar(returns="bool")
def le(a, b):
    return a <= b


@scalar(returns="bool")
def gt(a, b):
    return a > b


@scalar(returns="bool")
def ge(a, b):
    return a >= b


@scalar(arg_types=("bool", None, None))
def where(cond, a, b):
    return a if cond else b
