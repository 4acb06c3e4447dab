"""Activations, softmax and dropout.

Where a derivative needs its own kernel (relu, sigmoid, tanh, gelu, softmax), that
kernel is an op too, with its own formulas, so second derivatives still work.
"""
import math

from .. import dtypes
from .inplace import apply_
from .pointwise import exp, where
from .primitive import Primitive as P
from .registry import public

# ---- sigmoid, tanh, relu, leaky_relu, gelu -------------------------------------------

_sigmoid_backward = P("SigmoidBackwardBackward0",
                      lambda K, g, y: K.sigmoid_backward(g, y),
                      g=lambda gg, y: _sigmoid_backward(gg, y),
                      y=lambda gg, g, y: gg * g * (1 - 2 * y))
_sigmoid = P("SigmoidBackward0", lambda K, x: K.sigmoid(x),
             x=lambda g, out: _sigmoid_backward(g, out))

_tanh_backward = P("TanhBackwardBackward0", lambda K, g, y: K.tanh_backward(g, y),
                   g=lambda gg, y: _tanh_backward(gg, y),
                   y=lambda gg, g, y: -2 * gg * g * y)
_tanh = P("TanhBackward0", lambda K, x: K.tanh(x),
          x=lambda g, out: _tanh_backward(g, out))

# relu's derivative is a step: zero almost everywhere, so y gets no second-order term.
_relu_backward = P("ThresholdBackwardBackward0", lambda K, g, y: K.relu_backward(g, y),
                   g=lambda gg, y: _relu_backward(gg, y))
_relu = P("ReluBackward0", lambda K, x: K.relu(x),
          x=lambda g, out: _relu_backward(g, out))

_leaky_backward = P("LeakyReluBackwardBackward0",
                    lambda K, g, x, *, slope: K.leaky_relu_backward(g, x, slope),
                    g=lambda gg, x, slope: _leaky_backward(gg, x, slope=slope))
_leaky_relu = P("LeakyReluBackward0", lambda K, x, *, slope: K.leaky_relu(x, slope),
                x=lambda g, x, slope: _leaky_backward(g, x, slope=slope))

_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_gelu_backward = P("GeluBackwardBackward0", lambda K, g, x: K.gelu_backward(g, x),
                   g=lambda gg, x: _gelu_backward(gg, x),
                   x=lambda gg, g, x: gg * g * exp(-0.5 * x * x) * _INV_SQRT_2PI * (2 - x * x))
_gelu = P("GeluBackward0", lambda K, x: K.gelu(x), x=lambda g, x: _gelu_backward(g, x))

_softplus = P("SoftplusBackward0",
              lambda K, x, *, beta, threshold: K.softplus(x, beta, threshold),
              x=lambda g, x, beta, threshold:
                  g * where(x * beta > threshold, 1.0, sigmoid(x * beta)))


def _floating(x):
    return x if x._dtype.is_floating_point else x.to(dtypes.get_default_dtype())


@public(method=True, out=True, inplace="unary")
def sigmoid(input):
    return _sigmoid(_floating(input))


@public(method=True, out=True, inplace="unary")
def tanh(input):
    return _tanh(_floating(input))


def maybe_inplace(input, inplace, fn):
    """fn(input), written into input when `inplace` (PyTorch's flag, honoured)."""
    return apply_(input, fn) if inplace else fn(input)


@public(method=True, inplace="unary")
def relu(input, inplace=False):
    return apply_(input, _relu) if inplace else _relu(input)


@public()
def leaky_relu(input, negative_slope=0.01, inplace=False):
    return maybe_inplace(input, inplace, lambda x: _leaky_relu(x, slope=negative_slope))


@public()
def gelu(input, approximate="none"):
    """Exact GELU, x * Phi(x); approximate='tanh' gives the tanh formula."""
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1 + tanh(inner))
    if approximate != "none":
        raise ValueError(f"approximate argument must be either none or tanh, got "
                         f"'{approximate}'")
    return _gelu(_floating(input))


@public()
def softplus(input, beta=1.0, threshold=20.0):
    return _softplus(input, beta=beta, threshold=threshold)


@public()
def elu(input, alpha=1.0, inplace=False):
    # exp only sees x <= 0, so the unused branch never overflows into a NaN gradient.
    return maybe_inplace(input, inplace,
                         lambda x: where(x > 0, x, alpha * (exp(x.clamp(max=0)) - 1)))


@public()
def silu(input, inplace=False):
    return maybe_inplace(input, inplace, lambda x: x * sigmoid(x))


@public()
def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """x clamped to [min_val, max_val]; at the bounds the slope is 0, as PyTorch's (the
    bounds are constants here, where clamp's slope there is 1)."""
    return maybe_inplace(input, inplace, lambda x: where(
        x <= min_val, float(min_val), where(x >= max_val, float(max_val), x)))


@public()
def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


# ---- softmax -------------------------------------------------------------------------

_softmax_backward = P("SoftmaxBackwardDataBackward0",
                      lambda K, g, y, *, dim: K.softmax_backward(g, y, dim),
                      g=lambda gg, y, dim: _softmax_backward(gg, y, dim=dim),
                      y=lambda gg, g, y, dim: gg * (g - (g * y).sum(dim, keepdim=True))
                      - g * (gg * y).sum(dim, keepdim=True))
_softmax = P("SoftmaxBackward0", lambda K, x, *, dim: K.softmax(x, dim),
             x=lambda g, out, dim: _softmax_backward(g, out, dim=dim))

_log_softmax_backward = P("LogSoftmaxBackwardDataBackward0",
                          lambda K, g, y, *, dim: K.log_softmax_backward(g, y, dim),
                          g=lambda gg, y, dim: gg - (gg * y.exp()).sum(dim, keepdim=True),
                          y=lambda gg, g, y, dim: -gg * y.exp() * g.sum(dim, keepdim=True))
_log_softmax = P("LogSoftmaxBackward0", lambda K, x, *, dim: K.log_softmax(x, dim),
                 x=lambda g, out, dim: _log_softmax_backward(g, out, dim=dim))


def _softmax_dim(input, dim):
    if dim is None:  # PyTorch's legacy choice when no dim is given
        dim = 0 if input.dim() in (0, 1, 3) else 1
    return input._dim_index(dim)


def _rowwise(prim, input, dim, dtype):
    if dtype is not None:
        input = input.to(dtype)
    input = _floating(input)
    if input.dim() == 0:
        return prim(input.reshape(1), dim=0).reshape(())
    return prim(input, dim=_softmax_dim(input, dim))


@public(method=True)
def softmax(input, dim=None, dtype=None):
    """exp(x) / sum(exp(x)) along `dim`, shifted by the maximum so it never overflows."""
    return _rowwise(_softmax, input, dim, dtype)


@public(method=True)
def log_softmax(input, dim=None, dtype=None):
    """x - logsumexp(x) along `dim`: exact even for logits in the thousands."""
    return _rowwise(_log_softmax, input, dim, dtype)


# ---- dropout -------------------------------------------------------------------------

def _dropout_forward(K, x, *, p, generator):
    mask = K.bernoulli(generator, x.shape, 1 - p, x.dtype)
    K.mul(mask, 1 / (1 - p), out=mask)
    return K.mul(x, mask), {"mask": mask}


_dropout = P("NativeDropoutBackward0", _dropout_forward, extras=("mask",),
             x=lambda g, mask: g * mask)


@public()
def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1/(1-p), when training."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return maybe_inplace(input, inplace, lambda x: x * 0)
    from ..random import generator_for

    generator = generator_for(input.device)
    return maybe_inplace(input, inplace, lambda x: _dropout(x, p=p, generator=generator)[0])
