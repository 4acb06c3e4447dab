"""Convolution, built on two primitives: unfold (im2col) and fold (col2im).

unfold copies every window of an image into a column; fold adds columns back into an
image. Each is the other's gradient, so a convolution (unfold, then one matrix product
with the weights) and a pooling (`pooling.py`: unfold, then max or mean over each
column) need no derivative formulas of their own, to any order. The 1-d ops are the 2-d
ones over images one row high.
"""
from kernels.windows import positions

from .operands import same_dtype
from .padding import pad
from .shape import as_new
from .primitive import Primitive as P
from .registry import public
from ..amp import lower_precision


def _fold_back(g, x_shape, kernel, dilation, padding, stride):
    return _fold(g, output_size=x_shape[2:], kernel=kernel, dilation=dilation,
                 padding=padding, stride=stride)


def _unfold_back(g, kernel, dilation, padding, stride):
    return _unfold(g, kernel=kernel, dilation=dilation, padding=padding, stride=stride,
                   pad_value=0.0)


_unfold = P("Im2ColBackward0",
            lambda K, x, *, kernel, dilation, padding, stride, pad_value:
                K.unfold(x, kernel, dilation, padding, stride, pad_value),
            x=_fold_back)
_fold = P("Col2ImBackward0",
          lambda K, x, *, output_size, kernel, dilation, padding, stride:
              K.fold(x, output_size, kernel, dilation, padding, stride),
          x=_unfold_back)


def _sides(name, value, n, what):
    """`value` for each of n sides: an int for all of them, or one int per side."""
    sides = (value,) * n if isinstance(value, int) else tuple(value)
    if len(sides) != n or not all(isinstance(v, int) for v in sides):
        raise ValueError(f"{name} must be an int or {what} of ints, got {value!r}")
    return sides


def _pair(name, value):
    return _sides(name, value, 2, "a pair")


def _geometry(op, size, kernel_size, dilation, padding, stride):
    """The window's four pairs, checked: every side must fit at least one window."""
    kernel, dilation = _pair("kernel_size", kernel_size), _pair("dilation", dilation)
    padding, stride = _pair("padding", padding), _pair("stride", stride)
    if min(kernel) < 1 or min(dilation) < 1 or min(stride) < 1 or min(padding) < 0:
        raise RuntimeError(f"{op}: kernel_size {kernel}, dilation {dilation} and stride "
                           f"{stride} must be positive and padding {padding} non-negative")
    places = [positions(*side) for side in zip(size, kernel, dilation, padding, stride)]
    if min(places) < 1:
        raise RuntimeError(f"{op}: a window of kernel_size {kernel} and dilation {dilation} "
                           f"does not fit an input of size {tuple(size)} padded by {padding}")
    return kernel, dilation, padding, stride, places


def _batched(op, input):
    """(N, C, H, W) and whether a batch dim was added to a (C, H, W) input."""
    if input.dim() == 3:
        return input.unsqueeze(0), True
    if input.dim() != 4:
        raise RuntimeError(f"{op}: expected a 3-d (C, H, W) or 4-d (N, C, H, W) input, got "
                           f"shape {tuple(input.shape)}")
    return input, False


def _floating(op, input):
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"{op}: expected a floating point input, got {input.dtype}")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C, H, W) -> (N, C * kh * kw, L): each of the L windows as a column."""
    x, _ = _batched("unfold", input)
    _floating("unfold", x)
    kernel, dilation, padding, stride, _ = _geometry("unfold", x.shape[2:], kernel_size,
                                                     dilation, padding, stride)
    cols = _unfold(x, kernel=kernel, dilation=dilation, padding=padding, stride=stride,
                   pad_value=0.0)
    return cols if input.dim() == 4 else cols.squeeze(0)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """(N, C * kh * kw, L) -> (N, C, H, W): columns added back where their windows lie."""
    cols = input.unsqueeze(0) if input.dim() == 2 else input
    size = _pair("output_size", output_size)
    kernel, dilation, padding, stride, places = _geometry("fold", size, kernel_size,
                                                          dilation, padding, stride)
    taps = kernel[0] * kernel[1]
    if cols.dim() != 3 or cols.shape[1] % taps or cols.shape[2] != places[0] * places[1]:
        raise RuntimeError(f"fold: expected input of shape (N, C * {taps}, "
                           f"{places[0] * places[1]}) for output_size {size} and kernel_size "
                           f"{kernel}, got {tuple(input.shape)}")
    image = _fold(cols, output_size=size, kernel=kernel, dilation=dilation, padding=padding,
                  stride=stride)
    return image if input.dim() == 3 else image.squeeze(0)


@public()
@lower_precision
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlate (N, C, H, W) with weight (O, C / groups, kh, kw), plus bias (O,)."""
    x, added = _batched("conv2d", input)
    _floating("conv2d", x)
    if weight.dim() != 4:
        raise RuntimeError(f"conv2d: expected a 4-d weight (out, in / groups, kh, kw), got "
                           f"shape {tuple(weight.shape)}")
    out_channels, per_group, kh, kw = weight.shape
    channels = x.shape[1]
    if groups < 1 or out_channels % groups or per_group * groups != channels:
        raise RuntimeError(f"conv2d: input of shape {tuple(input.shape)} ({channels} channels) "
                           f"does not match weight of shape {tuple(weight.shape)} with "
                           f"groups={groups}")
    same_dtype("conv2d", x, weight, bias)
    if isinstance(padding, str):
        x, padding = _named_padding(x, padding, (kh, kw), _pair("dilation", dilation), stride)
    kernel, dilation, padding, stride, (oh, ow) = _geometry(
        "conv2d", x.shape[2:], (kh, kw), dilation, padding, stride)
    cols = _unfold(x, kernel=kernel, dilation=dilation, padding=padding, stride=stride,
                   pad_value=0.0)
    n = x.shape[0]
    # one product per group: (G, O / G, C / G * kh * kw) @ (N, G, C / G * kh * kw, L)
    cols = cols.reshape(n, groups, per_group * kh * kw, oh * ow)
    out = weight.reshape(groups, out_channels // groups, -1) @ cols
    out = out.reshape(n, out_channels, oh, ow)
    if bias is not None:
        out = out + bias.reshape(1, out_channels, 1, 1)
    return as_new(out.squeeze(0) if added else out)


def _named_padding(x, padding, kernel, dilation, stride):
    """(x, padding) for 'valid' or 'same': 'same' pads d * (k - 1) in all along each side,
    half before and the odd one after, as PyTorch does, padding x itself when uneven."""
    if padding == "valid":
        return x, 0
    if padding != "same":
        raise ValueError(f"conv2d: padding must be 'valid', 'same' or a number, got "
                         f"{padding!r}")
    if _pair("stride", stride) != (1, 1):
        raise ValueError("conv2d: padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    if any(t % 2 for t in totals):
        (th, tw) = totals
        return pad(x, [tw // 2, tw - tw // 2, th // 2, th - th // 2]), 0
    return x, tuple(t // 2 for t in totals)


# ---- 1-d: the 2-d ops over images one row high ----------------------------------------

def _single(name, value):
    return _sides(name, value, 1, "a 1-tuple")[0]


def _rows(op, input):
    if input.dim() not in (2, 3):
        raise RuntimeError(f"{op}: expected a 2-d (C, L) or 3-d (N, C, L) input, got shape "
                           f"{tuple(input.shape)}")
    return input.unsqueeze(-2)


@public()
@lower_precision
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlate (N, C, L) with weight (O, C / groups, k), plus bias (O,)."""
    if weight.dim() != 3:
        raise RuntimeError(f"conv1d: expected a 3-d weight (out, in / groups, k), got shape "
                           f"{tuple(weight.shape)}")
    if not isinstance(padding, str):
        padding = (0, _single("padding", padding))
    out = conv2d(_rows("conv1d", input), weight.unsqueeze(-2), bias,
                 (1, _single("stride", stride)), padding, (1, _single("dilation", dilation)),
                 groups)
    return as_new(out.squeeze(-2))
