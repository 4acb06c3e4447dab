"""Resizing images and signals: `interpolate` in PyTorch's nearest, linear, bilinear and
area modes.

Every mode is separable, so each resizes one spatial dim at a time. Nearest picks
source positions (an index_select); linear weighs the two nearest sources, which for a
whole dim is a product with an (out, in) matrix of weights; area is adaptive average
pooling. So resizing needs no derivative formula of its own. Positions follow PyTorch's
rules: `align_corners` maps the corner pixels' centres onto each other, otherwise the
pixel areas line up, and a given scale_factor (unless recomputed) sets the step.
"""
import math

import numpy as np

from ..creation import from_values
from .pooling import adaptive_avg_pool2d
from .indexing import index_select

_DIMS = {"linear": 1, "bilinear": 2}


def _sources(n_in, n_out, scale, align_corners):
    """The source position of each output position, for linear modes."""
    if align_corners:
        step = (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        return np.arange(n_out) * step
    step = 1.0 / scale if scale else n_in / n_out
    return np.maximum(step * (np.arange(n_out) + 0.5) - 0.5, 0.0)


def _linear_weights(n_in, n_out, scale, align_corners):
    """(n_out, n_in): row j weighs the two inputs around output j's source position."""
    src = _sources(n_in, n_out, scale, align_corners)
    low = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    high = np.minimum(low + 1, n_in - 1)
    frac = src - low
    weights = np.zeros((n_out, n_in))
    np.add.at(weights, (np.arange(n_out), low), 1.0 - frac)
    np.add.at(weights, (np.arange(n_out), high), frac)
    return weights


def _nearest_sources(n_in, n_out, scale, exact):
    """PyTorch's nearest source index, computed in float32 as its kernels do."""
    step = np.float32(1.0 / scale if scale else n_in / n_out)
    at = np.arange(n_out, dtype=np.float32) + np.float32(0.5 if exact else 0.0)
    return np.minimum(np.floor(at * step).astype(np.int64), n_in - 1)


def _resize_dim(x, dim, n_out, scale, mode, align_corners):
    n_in = x.shape[dim]
    if mode in ("nearest", "nearest-exact"):
        picks = _nearest_sources(n_in, n_out, scale, mode == "nearest-exact")
        return index_select(x, dim, from_values(picks, device=x.device))
    weights = from_values(_linear_weights(n_in, n_out, scale, align_corners), dtype=x.dtype,
                          device=x.device)
    moved = x.transpose(dim, -1)
    return (moved @ weights.t()).transpose(dim, -1)


def _sizes_and_scales(op, input, size, scale_factor, recompute_scale_factor):
    spatial = input.dim() - 2
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor (got size={size}, "
                         f"scale_factor={scale_factor})")
    if size is not None:
        sizes = (size,) * spatial if isinstance(size, int) else tuple(size)
        if len(sizes) != spatial:
            raise ValueError(f"{op}: input of shape {tuple(input.shape)} has {spatial} spatial "
                             f"dims, but size {size} gives {len(sizes)}")
        return sizes, (None,) * spatial
    scales = ((scale_factor,) * spatial if isinstance(scale_factor, (int, float))
              else tuple(scale_factor))
    if len(scales) != spatial:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} has {spatial} spatial "
                         f"dims, but scale_factor {scale_factor} gives {len(scales)}")
    sizes = tuple(math.floor(n * float(s)) for n, s in zip(input.shape[2:], scales))
    return sizes, ((None,) * spatial if recompute_scale_factor else tuple(map(float, scales)))


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims (all after the first two) of a 3-d, 4-d or 5-d input."""
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    modes = ("nearest", "nearest-exact", "linear", "bilinear", "area")
    if mode not in modes:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported; the modes "
                                  f"are {', '.join(modes)}")
    if align_corners is not None and mode not in _DIMS:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    wanted = _DIMS.get(mode)
    if input.dim() not in (3, 4, 5) or (wanted and input.dim() - 2 != wanted):
        raise NotImplementedError(f"interpolate: mode {mode!r} cannot resize an input of shape "
                                  f"{tuple(input.shape)}")
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"interpolate: expected a floating point input, got {input.dtype}")
    sizes, scales = _sizes_and_scales("interpolate", input, size, scale_factor,
                                      recompute_scale_factor)
    if min(sizes, default=1) < 1:
        raise ValueError(f"interpolate: the output size {sizes} for an input of shape "
                         f"{tuple(input.shape)} must be positive")
    if mode == "area":
        if input.dim() != 4:
            return _area_rows(input, sizes)
        return adaptive_avg_pool2d(input, sizes)
    out = input
    for d, (n_out, scale) in enumerate(zip(sizes, scales), start=2):
        out = _resize_dim(out, d, n_out, scale, mode, bool(align_corners))
    return out


def _area_rows(input, sizes):
    """Area mode for 1-d signals, through the 2-d pooling one row high."""
    if input.dim() != 3:
        raise NotImplementedError("interpolate: mode 'area' resizes 3-d or 4-d inputs only")
    return adaptive_avg_pool2d(input.unsqueeze(2), (1, sizes[0])).squeeze(2)
