"""Sliding windows on the CPU: unfold (im2col) copies every window of an image into a
column, so a convolution becomes one matrix product; fold (col2im) adds columns back
into the image, which is unfold's gradient (and unfold is fold's).

Rows of the columns run over (channel, kernel row, kernel column), columns over the
window's places, row-major: PyTorch's layout, so weights reshape onto it directly.
"""
import numpy as np
from numba import njit

from ..windows import positions


# Two loops over the same (window place, kernel tap) pairs rather than one with a flag:
# numba types both branches of a flag, so the copy into the columns would make fold
# refuse a read-only source (a broadcast gradient).
@njit(cache=True)
def _unfold(x, out, kh, kw, dh, dw, ph, pw, sh, sw, oh, ow, pad_value):
    N, C, H, W = x.shape
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for y in range(oh):
                        h = y * sh - ph + i * dh
                        inside = 0 <= h < H
                        for z in range(ow):
                            w = z * sw - pw + j * dw
                            if inside and 0 <= w < W:
                                out[n, row, y * ow + z] = x[n, c, h, w]
                            else:
                                out[n, row, y * ow + z] = pad_value


@njit(cache=True)
def _fold(cols, out, kh, kw, dh, dw, ph, pw, sh, sw, oh, ow):
    N, C, H, W = out.shape
    for n in range(N):
        for c in range(C):
            for i in range(kh):
                for j in range(kw):
                    row = (c * kh + i) * kw + j
                    for y in range(oh):
                        h = y * sh - ph + i * dh
                        if 0 <= h < H:
                            for z in range(ow):
                                w = z * sw - pw + j * dw
                                if 0 <= w < W:
                                    out[n, c, h, w] += cols[n, row, y * ow + z]


def _places(size, kernel, dilation, padding, stride):
    return tuple(positions(*side) for side in zip(size, kernel, dilation, padding, stride))


def unfold(x, kernel, dilation, padding, stride, pad_value=0.0):
    """(N, C, H, W) -> (N, C * kh * kw, places); padding reads as pad_value."""
    N, C = x.shape[:2]
    oh, ow = _places(x.shape[2:], kernel, dilation, padding, stride)
    out = np.empty((N, C * kernel[0] * kernel[1], oh * ow), x.dtype)
    if out.size:
        _unfold(np.ascontiguousarray(x), out, *kernel, *dilation, *padding, *stride, oh, ow,
                pad_value)
    return out


def fold(cols, output_size, kernel, dilation, padding, stride):
    """(N, C * kh * kw, places) -> (N, C, H, W), overlapping windows summed."""
    N, rows = cols.shape[:2]
    oh, ow = _places(output_size, kernel, dilation, padding, stride)
    out = np.zeros((N, rows // (kernel[0] * kernel[1])) + tuple(output_size), cols.dtype)
    if cols.size:
        _fold(np.ascontiguousarray(cols), out, *kernel, *dilation, *padding, *stride, oh, ow)
    return out
