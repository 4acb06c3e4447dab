"""Sliding windows on the GPU: unfold (im2col) and fold (col2im), in the CPU's layout.

unfold runs a thread per column element, each copying one pixel (or the pad value).
fold runs a thread per image pixel, each summing the column elements that came from
it: every write has one owner, so there are no atomics and the sums are deterministic.
"""
from ..windows import positions
from .array import empty
from .layout import contiguous
from .memory import copy_into
from .runtime import cuda, grid


@cuda.jit
def _unfold(x, out, C, H, W, kh, kw, dh, dw, ph, pw, sh, sw, oh, ow, pad_value, n):
    t = cuda.grid(1)
    while t < n:
        places = oh * ow
        z = t % ow
        y = (t // ow) % oh
        row = (t // places) % (C * kh * kw)
        image = t // (places * C * kh * kw)
        j = row % kw
        i = (row // kw) % kh
        c = row // (kh * kw)
        h = y * sh - ph + i * dh
        w = z * sw - pw + j * dw
        if 0 <= h < H and 0 <= w < W:
            out[t] = x[((image * C + c) * H + h) * W + w]
        else:
            out[t] = pad_value
        t += cuda.gridsize(1)


@cuda.jit
def _fold(cols, out, C, H, W, kh, kw, dh, dw, ph, pw, sh, sw, oh, ow, n):
    t = cuda.grid(1)
    while t < n:
        w = t % W
        h = (t // W) % H
        c = (t // (H * W)) % C
        image = t // (C * H * W)
        total = 0.0
        for i in range(kh):
            top = h + ph - i * dh  # the window's top row, times the stride
            if top >= 0 and top % sh == 0 and top // sh < oh:
                for j in range(kw):
                    left = w + pw - j * dw
                    if left >= 0 and left % sw == 0 and left // sw < ow:
                        row = (c * kh + i) * kw + j
                        total += cols[((image * C * kh * kw) + row) * oh * ow
                                      + (top // sh) * ow + left // sw]
        out[t] = total
        t += cuda.gridsize(1)


def _flat(x):
    """A contiguous array's elements from its first one, for the kernels' flat indexing."""
    return x.buffer if x.offset == 0 else x.buffer[x.offset:]


def _places(size, kernel, dilation, padding, stride):
    return tuple(positions(*side) for side in zip(size, kernel, dilation, padding, stride))


def unfold(x, kernel, dilation, padding, stride, pad_value=0.0):
    """(N, C, H, W) -> (N, C * kh * kw, places); padding reads as pad_value."""
    N, C, H, W = x.shape
    oh, ow = _places((H, W), kernel, dilation, padding, stride)
    out = empty((N, C * kernel[0] * kernel[1], oh * ow), x.dtype)
    if out.size:
        source = contiguous(x)
        _unfold[grid(out.size)](_flat(source), out.buffer, C, H, W, *kernel, *dilation,
                                *padding, *stride, oh, ow, x.dtype.type(pad_value), out.size)
    return out


def fold(cols, output_size, kernel, dilation, padding, stride):
    """(N, C * kh * kw, places) -> (N, C, H, W), overlapping windows summed."""
    N, rows = cols.shape[:2]
    H, W = output_size
    C = rows // (kernel[0] * kernel[1])
    oh, ow = _places(output_size, kernel, dilation, padding, stride)
    out = empty((N, C, H, W), cols.dtype)
    if not out.size:
        return out
    if not cols.size:
        copy_into(out, 0)
        return out
    source = contiguous(cols)
    _fold[grid(out.size)](_flat(source), out.buffer, C, H, W, *kernel, *dilation, *padding,
                          *stride, oh, ow, out.size)
    return out

