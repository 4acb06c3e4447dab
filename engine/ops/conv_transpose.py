"""Transposed convolution: the adjoint of conv2d, as a product and a `fold`.

conv2d is unfold, then the weights' product; its adjoint, which upsamples, is the
transposed weights' product, then fold, which adds each input pixel's kernel-sized patch
into the output where that pixel's window lies. No derivative formula of its own.
"""
from kernels.windows import positions

from .conv import _batched, _floating, _fold, _pair, _rows, _single
from .operands import same_dtype
from .padding import pad
from .registry import public
from .shape import as_new
from ..amp import lower_precision


@public()
@lower_precision
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """(N, C, H, W) with weight (C, O / groups, kh, kw) -> (N, O, H', W'), where
    H' = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1."""
    x, added = _batched("conv_transpose2d", input)
    _floating("conv_transpose2d", x)
    if weight.dim() != 4:
        raise RuntimeError(f"conv_transpose2d: expected a 4-d weight (in, out / groups, kh, "
                           f"kw), got shape {tuple(weight.shape)}")
    channels, per_group, kh, kw = weight.shape
    if groups < 1 or channels % groups or x.shape[1] != channels:
        raise RuntimeError(f"conv_transpose2d: input of shape {tuple(input.shape)} "
                           f"({x.shape[1]} channels) does not match weight of shape "
                           f"{tuple(weight.shape)} with groups={groups}")
    same_dtype("conv_transpose2d", x, weight, bias)
    stride, padding = _pair("stride", stride), _pair("padding", padding)
    extra, dilation = _pair("output_padding", output_padding), _pair("dilation", dilation)
    if min(stride) < 1 or min(dilation) < 1 or min(padding) < 0 or min(extra) < 0:
        raise RuntimeError(f"conv_transpose2d: stride {stride} and dilation {dilation} must "
                           f"be positive, padding {padding} and output_padding {extra} "
                           f"non-negative")
    if any(e >= s and e >= d for e, s, d in zip(extra, stride, dilation)):
        raise RuntimeError(f"conv_transpose2d: output padding {extra} must be smaller than "
                           f"either stride {stride} or dilation {dilation}")
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1 for n, s, p, d, k, e in
                 zip(x.shape[2:], stride, padding, dilation, (kh, kw), extra))
    if min(size) < 1:
        raise RuntimeError(f"conv_transpose2d: the output size {size} for an input of shape "
                           f"{tuple(input.shape)} is too small")
    n, (h, w) = x.shape[0], x.shape[2:]
    # one product per group: (G, O / G * kh * kw, C / G) @ (N, G, C / G, H * W)
    weights = weight.reshape(groups, channels // groups, per_group * kh * kw).transpose(1, 2)
    cols = weights @ x.reshape(n, groups, channels // groups, h * w)
    # fold's windows: one per input pixel, plus, where output_padding reaches past the
    # stride (it may, when under the dilation), empty windows at the far end.
    places = [positions(*side) for side in zip(size, (kh, kw), dilation, padding, stride)]
    cols = cols.reshape(n, groups * per_group * kh * kw, h, w)
    if places != [h, w]:
        cols = pad(cols, (0, places[1] - w, 0, places[0] - h))
    out = _fold(cols.reshape(n, -1, places[0] * places[1]), output_size=size,
                kernel=(kh, kw), dilation=dilation, padding=padding, stride=stride)
    if bias is not None:
        out = out + bias.reshape(1, -1, 1, 1)
    return as_new(out.squeeze(0) if added else out)


@public()
@lower_precision
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """(N, C, L) with weight (C, O / groups, k): conv_transpose2d one row high."""
    if weight.dim() != 3:
        raise RuntimeError(f"conv_transpose1d: expected a 3-d weight (in, out / groups, k), "
                           f"got shape {tuple(weight.shape)}")
    out = conv_transpose2d(_rows("conv_transpose1d", input), weight.unsqueeze(-2), bias,
                           (1, _single("stride", stride)), (0, _single("padding", padding)),
                           (0, _single("output_padding", output_padding)), groups,
                           (1, _single("dilation", dilation)))
    return as_new(out.squeeze(-2))
