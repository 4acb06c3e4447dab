"""Convolution and pooling, built on two primitives: unfold (im2col) and fold (col2im).

unfold copies every window of an image into a column; fold adds columns back into an
image. Each is the other's gradient, so a convolution (unfold, then one matrix product
with the weights) and a pooling (unfold, then max or mean over each column) need no
derivative formulas of their own, to any order. The 1-d ops are the 2-d ones over
images one row high; adaptive average pooling is two products with averaging matrices.
"""
from kernels.windows import positions

from ..creation import ones, tensor
from .padding import pad
from .primitive import Primitive as P


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


def same_dtype(op, x, weight, bias):
    if x.dtype is not weight.dtype or (bias is not None and bias.dtype is not x.dtype):
        raise RuntimeError(f"{op}: input, weight and bias must share a dtype, got "
                           f"{x.dtype}, {weight.dtype}"
                           f"{'' if bias is None else ', ' + str(bias.dtype)}")


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
    return out.squeeze(0) if added else out


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


def _windows(op, input, kernel_size, stride, padding, dilation, ceil_mode, pad_value):
    """(N, C, kh * kw, oh, ow): each channel's windows, for a pooling to reduce over dim 2."""
    if ceil_mode:
        raise RuntimeError(f"{op}: ceil_mode=True is not supported; pad the input instead")
    x, _ = _batched(op, input)
    _floating(op, x)
    kernel = _pair("kernel_size", kernel_size)
    stride = kernel if stride is None or stride == [] else stride
    kernel, dilation, padding, stride, (oh, ow) = _geometry(
        op, x.shape[2:], kernel, dilation, padding, stride)
    if any(2 * p > d * (k - 1) + 1 for p, k, d in zip(padding, kernel, dilation)):
        raise RuntimeError(f"{op}: padding {padding} should be at most half of the effective "
                           f"kernel size {kernel} (dilation {dilation})")
    cols = _unfold(x, kernel=kernel, dilation=dilation, padding=padding, stride=stride,
                   pad_value=pad_value)
    n, c = x.shape[:2]
    return cols.reshape(n, c, kernel[0] * kernel[1], oh, ow)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The largest value in each window; padding never wins (it reads as -inf)."""
    if return_indices:
        raise RuntimeError("max_pool2d: return_indices=True is not supported")
    windows = _windows("max_pool2d", input, kernel_size, stride, padding, dilation,
                       ceil_mode, -float("inf"))
    out = windows.max(2).values
    return out if input.dim() == 4 else out.squeeze(0)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each window: over all its places, or over those inside the input."""
    windows = _windows("avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode, 0.0)
    total = windows.sum(2)
    if divisor_override is not None:
        out = total / divisor_override
    elif count_include_pad or not padding:
        out = total / windows.shape[2]
    else:  # how many of each window's places lie inside the input
        x, _ = _batched("avg_pool2d", input)
        inside = ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
        counts = _windows("avg_pool2d", inside, kernel_size, stride, padding, 1, False, 0.0)
        out = total / counts.sum(2)
    return out if input.dim() == 4 else out.squeeze(0)



# ---- 1-d: the 2-d ops over images one row high ----------------------------------------

def _single(name, value):
    return _sides(name, value, 1, "a 1-tuple")[0]


def _rows(op, input):
    if input.dim() not in (2, 3):
        raise RuntimeError(f"{op}: expected a 2-d (C, L) or 3-d (N, C, L) input, got shape "
                           f"{tuple(input.shape)}")
    return input.unsqueeze(-2)


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
    return out.squeeze(-2)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    stride = kernel_size if stride is None or stride == [] else stride
    return max_pool2d(_rows("max_pool1d", input), (1, _single("kernel_size", kernel_size)),
                      (1, _single("stride", stride)), (0, _single("padding", padding)),
                      (1, _single("dilation", dilation)), ceil_mode,
                      return_indices).squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    stride = kernel_size if stride is None or stride == [] else stride
    return avg_pool2d(_rows("avg_pool1d", input), (1, _single("kernel_size", kernel_size)),
                      (1, _single("stride", stride)), (0, _single("padding", padding)),
                      ceil_mode, count_include_pad).squeeze(-2)


# ---- adaptive average pooling ----------------------------------------------------------

def adaptive_avg_pool2d(input, output_size):
    """Average over windows that tile each side into output_size parts, as PyTorch cuts
    them (part i spans floor(i * n / parts) to ceil((i + 1) * n / parts)). A mean over a
    rectangle is a mean over its rows of the means over its columns, so this is two
    products with averaging matrices, exact for any sizes."""
    x, added = _batched("adaptive_avg_pool2d", input)
    _floating("adaptive_avg_pool2d", x)
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(size) != 2:
        raise ValueError(f"adaptive_avg_pool2d: output_size must be an int or a pair, got "
                         f"{output_size!r}")
    h, w = x.shape[2:]
    oh, ow = (n if s is None else s for s, n in zip(size, (h, w)))
    if min(oh, ow) < 1 or min(h, w) < 1:
        raise RuntimeError(f"adaptive_avg_pool2d: cannot pool an input of shape "
                           f"{tuple(input.shape)} to output_size {size}")
    out = _averaging(oh, h, x) @ x @ _averaging(ow, w, x).t()
    return out.squeeze(0) if added else out


def _averaging(parts, n, like):
    """(parts, n): row i averages the elements of part i of a side of n."""
    rows = []
    for i in range(parts):
        start, stop = (i * n) // parts, -((-(i + 1) * n) // parts)
        rows.append([1.0 / (stop - start) if start <= j < stop else 0.0 for j in range(n)])
    return tensor(rows, dtype=like.dtype, device=like.device)
