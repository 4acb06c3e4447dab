"""Pooling: a max or a mean over each window that conv's `unfold` lays out as a column.

ceil_mode lets the last window hang over the far edge (it must still start inside the
input or its leading padding), which is one more pad before unfolding. Max pooling can
return where each maximum came from, as flat indices into each input plane, and
max_unpool puts values back there. Adaptive pooling cuts each side into output_size
parts as PyTorch cuts them: part i spans floor(i * n / parts) to ceil((i + 1) * n / parts).
The 1-d ops are the 2-d ones over images one row high. No formula of its own anywhere.
"""
import numpy as np

from kernels.windows import positions

from ..creation import arange, ones, tensor, zeros
from .conv import _batched, _floating, _geometry, _pair, _rows, _single, _unfold
from .padding import pad
from .pointwise import where
from .registry import public


def _ceil_extra(size, kernel, dilation, padding, stride):
    """Padding past the far edge that ceil_mode adds, per side."""
    extra = []
    for n, k, d, p, s in zip(size, kernel, dilation, padding, stride):
        span = d * (k - 1) + 1
        out = -(-(n + 2 * p - span) // s) + 1
        if (out - 1) * s >= n + p:  # that window would start in the trailing padding
            out -= 1
        extra.append(max(0, (out - 1) * s + span - (n + 2 * p)))
    return extra


def _windows(op, input, kernel_size, stride, padding, dilation, ceil_mode, pad_value):
    """(windows (N, C, kh * kw, oh, ow), geometry, the ceil extra) of an image batch."""
    x, _ = _batched(op, input)
    _floating(op, x)
    kernel = _pair("kernel_size", kernel_size)
    stride = kernel if stride is None or stride == [] else stride
    kernel, dilation, padding, stride, _ = _geometry(op, x.shape[2:], kernel, dilation,
                                                     padding, stride)
    if any(2 * p > d * (k - 1) + 1 for p, k, d in zip(padding, kernel, dilation)):
        raise RuntimeError(f"{op}: padding {padding} should be at most half of the effective "
                           f"kernel size {kernel} (dilation {dilation})")
    extra = _ceil_extra(x.shape[2:], kernel, dilation, padding, stride) if ceil_mode \
        else [0, 0]
    if any(extra):
        x = pad(x, (0, extra[1], 0, extra[0]), value=pad_value)
    oh, ow = (positions(*side) for side in zip(x.shape[2:], kernel, dilation, padding, stride))
    cols = _unfold(x, kernel=kernel, dilation=dilation, padding=padding, stride=stride,
                   pad_value=pad_value)
    n, c = x.shape[:2]
    return cols.reshape(n, c, kernel[0] * kernel[1], oh, ow), \
        (kernel, dilation, padding, stride), extra


@public()
def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """The largest value in each window; padding never wins (it reads as -inf)."""
    windows, geometry, _ = _windows("max_pool2d", input, kernel_size, stride, padding,
                                    dilation, ceil_mode, -float("inf"))
    out, picked = windows.max(2)
    if input.dim() == 3:
        out, picked = out.squeeze(0), picked.squeeze(0)
    if not return_indices:
        return out
    return out, _flat_indices(picked, geometry, input.shape[-1])


def _flat_indices(picked, geometry, width):
    """Window offsets of the maxima as flat h * width + w positions in the input."""
    (kh, kw), (dh, dw), (ph, pw), (sh, sw) = geometry
    oh, ow = picked.shape[-2:]
    rows = (arange(oh, device=picked.device) * sh - ph).reshape(oh, 1)
    cols = arange(ow, device=picked.device) * sw - pw
    h = rows + (picked // kw) * dh
    w = cols + (picked % kw) * dw
    return h * width + w


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """The mean of each window: over its places within the (padded) input, or, without
    count_include_pad, over those inside the input itself."""
    windows, (kernel, _, padding, stride), extra = _windows(
        "avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode, 0.0)
    total = windows.sum(2)
    if divisor_override is not None:
        out = total / divisor_override
    elif not any(extra) and (count_include_pad or padding == (0, 0)):
        out = total / windows.shape[2]
    else:  # count each window's places that lie inside what it may average over
        x, _ = _batched("avg_pool2d", input)
        inside = ones((1, 1) + tuple(x.shape[2:]), dtype=x.dtype, device=x.device)
        (ph, pw), fill = padding, (1.0 if count_include_pad else 0.0)
        inside = pad(pad(inside, (pw, pw, ph, ph), value=fill), (0, extra[1], 0, extra[0]))
        counts = _unfold(inside, kernel=kernel, dilation=(1, 1), padding=(0, 0),
                         stride=stride, pad_value=0.0).sum(1)
        out = total / counts.reshape(total.shape[-2:])
    return out if input.dim() == 4 else out.squeeze(0)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Put each value at the flat position `indices` gives (max_pool2d's), zeros elsewhere."""
    kernel = _pair("kernel_size", kernel_size)
    stride = _pair("stride", kernel if stride is None else stride)
    padding = _pair("padding", padding)
    if tuple(indices.shape) != tuple(input.shape):
        raise RuntimeError(f"max_unpool2d: indices of shape {tuple(indices.shape)} must match "
                           f"input of shape {tuple(input.shape)}")
    x, added = _batched("max_unpool2d", input)
    idx = indices.unsqueeze(0) if added else indices
    size = tuple((n - 1) * s - 2 * p + k for n, s, p, k in
                 zip(x.shape[2:], stride, padding, kernel))
    if output_size is not None:
        size = tuple(output_size)[-2:]
    n, c = x.shape[:2]
    flat = zeros((n, c, size[0] * size[1]), dtype=x.dtype, device=x.device)
    if idx.numel() and (int(idx.min().item()) < 0 or int(idx.max().item()) >= flat.shape[2]):
        raise RuntimeError(f"max_unpool2d: found an invalid max index (outside an output of "
                           f"size {size})")
    idx, values = idx.reshape(n, c, -1), x.reshape(n, c, -1)
    # Where indices repeat (overlapping windows that kept the same maximum), PyTorch's
    # last write wins, yet each copy gets the gradient at its place: so only the last
    # copy adds its value, and the others add zero that still carries their gradient.
    last = _last_copies(idx, flat.shape[2])
    values = where(last, values, values - values.detach())
    out = flat.scatter_add(2, idx, values).reshape((n, c) + size)
    return out.squeeze(0) if added else out


def _last_copies(idx, size):
    """A bool tensor like idx (N, C, L): True at the last occurrence of each index in its
    (n, c) row."""
    rows = idx.reshape(-1, idx.shape[-1]).cpu().numpy()
    keys = (np.arange(rows.shape[0])[:, None] * size + rows).ravel()
    _, first_from_end = np.unique(keys[::-1], return_index=True)
    last = np.zeros(keys.size, dtype=bool)
    last[keys.size - 1 - first_from_end] = True
    return tensor(last.reshape(idx.shape), device=idx.device)


# ---- 1-d: the 2-d ops over images one row high ----------------------------------------

@public()
def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    stride = kernel_size if stride is None or stride == [] else stride
    out = max_pool2d(_rows("max_pool1d", input), (1, _single("kernel_size", kernel_size)),
                     (1, _single("stride", stride)), (0, _single("padding", padding)),
                     (1, _single("dilation", dilation)), ceil_mode, return_indices)
    return tuple(t.squeeze(-2) for t in out) if return_indices else out.squeeze(-2)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    stride = kernel_size if stride is None or stride == [] else stride
    return avg_pool2d(_rows("avg_pool1d", input), (1, _single("kernel_size", kernel_size)),
                      (1, _single("stride", stride)), (0, _single("padding", padding)),
                      ceil_mode, count_include_pad).squeeze(-2)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    size = None if output_size is None else (1, tuple(output_size)[-1])
    return max_unpool2d(_rows("max_unpool1d", input), indices.unsqueeze(-2),
                        (1, _single("kernel_size", kernel_size)),
                        (1, _single("stride", kernel_size if stride is None else stride)),
                        (0, _single("padding", padding)), size).squeeze(-2)


# ---- adaptive pooling -------------------------------------------------------------------

def _output_size(op, input, output_size):
    x, added = _batched(op, input)
    _floating(op, x)
    size = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
    if len(size) != 2:
        raise ValueError(f"{op}: output_size must be an int or a pair, got {output_size!r}")
    h, w = x.shape[2:]
    oh, ow = (n if s is None else s for s, n in zip(size, (h, w)))
    if min(oh, ow) < 1 or min(h, w) < 1:
        raise RuntimeError(f"{op}: cannot pool an input of shape {tuple(input.shape)} to "
                           f"output_size {size}")
    return x, added, oh, ow


def _part(i, n, parts):
    return (i * n) // parts, -((-(i + 1) * n) // parts)


def adaptive_avg_pool2d(input, output_size):
    """A mean over a rectangle is a mean over its rows of the means over its columns, so
    this is two products with averaging matrices, exact for any sizes."""
    x, added, oh, ow = _output_size("adaptive_avg_pool2d", input, output_size)
    out = _averaging(oh, x.shape[2], x) @ x @ _averaging(ow, x.shape[3], x).t()
    return out.squeeze(0) if added else out


def _averaging(parts, n, like):
    """(parts, n): row i averages the elements of part i of a side of n."""
    rows = []
    for i in range(parts):
        start, stop = _part(i, n, parts)
        rows.append([1.0 / (stop - start) if start <= j < stop else 0.0 for j in range(n)])
    return tensor(rows, dtype=like.dtype, device=like.device)


def _spans(parts, n, device):
    """(parts, longest): the positions of each part, the short ones padded with their own
    last position (a repeat cannot change a maximum)."""
    spans = [range(*_part(i, n, parts)) for i in range(parts)]
    longest = max(len(s) for s in spans)
    return tensor([list(s) + [s[-1]] * (longest - len(s)) for s in spans], device=device)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """The largest value of each part, gathered as (oh, ow, longest part) windows."""
    x, added, oh, ow = _output_size("adaptive_max_pool2d", input, output_size)
    h, w = x.shape[2:]
    rows, cols = _spans(oh, h, x.device), _spans(ow, w, x.device)
    lh, lw = rows.shape[1], cols.shape[1]
    windows = x[..., rows.reshape(oh, lh, 1, 1), cols.reshape(1, 1, ow, lw)]
    out, picked = windows.permute(0, 1, 2, 4, 3, 5).reshape(
        x.shape[0], x.shape[1], oh, ow, lh * lw).max(-1)
    if added:
        out, picked = out.squeeze(0), picked.squeeze(0)
    if not return_indices:
        return out
    return out, _adaptive_indices(picked, rows, cols, w)


def _adaptive_indices(picked, rows, cols, width):
    """Flat input positions of the maxima: picked is row-major within each (part, part)."""
    lw, oh, ow = cols.shape[1], rows.shape[0], cols.shape[0]
    part_rows = arange(oh, device=picked.device).reshape(oh, 1)
    part_cols = arange(ow, device=picked.device).reshape(1, ow)
    h = rows[part_rows, picked // lw]
    w = cols[part_cols, picked % lw]
    return h * width + w


def adaptive_avg_pool1d(input, output_size):
    size = _single("output_size", output_size)
    return adaptive_avg_pool2d(_rows("adaptive_avg_pool1d", input), (1, size)).squeeze(-2)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    size = _single("output_size", output_size)
    out = adaptive_max_pool2d(_rows("adaptive_max_pool1d", input), (1, size), return_indices)
    return tuple(t.squeeze(-2) for t in out) if return_indices else out.squeeze(-2)
