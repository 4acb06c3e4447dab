"""Activations and shrinkage functions that are compositions of engine ops.

Each is written so that its gradient, which autograd derives from the composition,
equals PyTorch's hand-written one, kinks included: where PyTorch's derivative takes one
side of a boundary, the `where` here puts the boundary on that side.
"""
import engine

from engine.ops.activation import elu, maybe_inplace, softmax, softplus, tanh
from engine.amp import lower_precision

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def hardsigmoid(input, inplace=False):
    """0 below -3, 1 above 3, x / 6 + 1/2 between (slope 0 at both ends)."""
    return maybe_inplace(input, inplace, lambda x: engine.where(
        x <= -3, 0.0, engine.where(x >= 3, 1.0, x / 6 + 0.5)))


def hardswish(input, inplace=False):
    """x * hardsigmoid(x); PyTorch's slope is 0 at -3 and 1 at 3 (the outer pieces')."""
    return maybe_inplace(input, inplace, lambda x: engine.where(
        x <= -3, 0.0, engine.where(x < 3, x * (x + 3) / 6, x)))


def mish(input, inplace=False):
    return maybe_inplace(input, inplace, lambda x: x * tanh(softplus(x)))


def selu(input, inplace=False):
    return maybe_inplace(input, inplace, lambda x: _SELU_SCALE * elu(x, _SELU_ALPHA))


def celu(input, alpha=1.0, inplace=False):
    """alpha * (exp(x / alpha) - 1) below 0, x above."""
    if alpha == 0:
        raise ValueError("ZeroDivisionError: alpha cannot be 0 for CELU")
    return maybe_inplace(input, inplace, lambda x: engine.where(
        x > 0, x, alpha * ((x.clamp(max=0) / alpha).exp() - 1)))


def softsign(input):
    return input / (1 + input.abs())


def tanhshrink(input):
    return input - tanh(input)


def softmin(input, dim=None, dtype=None):
    return softmax(-input, dim, dtype)


def glu(input, dim=-1):
    """The first half along `dim`, gated by the sigmoid of the second."""
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension "
                           f"{input._dim_index(dim)} is size {n}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


@lower_precision
def prelu(input, weight):
    """x above 0, weight * x below; weight has one entry, or one per channel (dim 1)."""
    if weight.numel() != 1:
        if input.dim() < 2 or input.shape[1] != weight.numel():
            raise RuntimeError(f"prelu: weight of shape {tuple(weight.shape)} needs one entry, "
                               f"or one per channel of input of shape {tuple(input.shape)}")
        weight = weight.reshape((1, -1) + (1,) * (input.dim() - 2))
    return engine.where(input > 0, input, weight * input)


def threshold(input, threshold, value, inplace=False):
    """x where x > threshold, else value."""
    return maybe_inplace(input, inplace,
                         lambda x: engine.where(x > threshold, x, float(value)))


def hardshrink(input, lambd=0.5):
    return engine.where((input >= -lambd) & (input <= lambd), 0.0, input)


def softshrink(input, lambd=0.5):
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return engine.where(input > lambd, input - lambd,
                        engine.where(input < -lambd, input + lambd, 0.0))
