"""`nn.functional`: PyTorch's functional API over engine ops (no kernels called here)."""
import math
import warnings

import engine
from engine.amp import float32_inside
from engine.ops.conv import conv1d, conv2d, fold, unfold  # noqa: F401
from engine.ops.pooling import (  # noqa: F401
    adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool1d, adaptive_max_pool2d,
    avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, max_unpool1d, max_unpool2d,
)
from engine.ops.conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: F401
from engine.ops.interpolate import interpolate  # noqa: F401
from engine.ops.activation import maybe_inplace
from .composite_losses import (  # noqa: F401
    cosine_embedding_loss, cosine_similarity, gaussian_nll_loss, hinge_embedding_loss,
    margin_ranking_loss, multi_margin_loss, multilabel_soft_margin_loss, pairwise_distance,
    poisson_nll_loss, soft_margin_loss, triplet_margin_loss,
)
from .composite import (  # noqa: F401
    celu, glu, hardshrink, hardsigmoid, hardswish, mish, prelu, selu, softmin, softshrink,
    softsign, tanhshrink, threshold,
)
from engine.ops.linalg import linear  # noqa: F401
from engine.ops.padding import pad  # noqa: F401
from engine.ops.activation import (  # noqa: F401
    dropout, elu, gelu, hardtanh, leaky_relu, log_softmax, relu, relu6, sigmoid, silu,
    softmax, softplus, tanh,
)
from engine.ops.loss import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss,
    kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss,
)


@float32_inside
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing `normalized_shape` dims, then scale and shift."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    n = len(normalized_shape)
    if tuple(input.shape[input.dim() - n:]) != tuple(normalized_shape):
        raise RuntimeError(f"layer_norm: input of shape {tuple(input.shape)} does not end "
                           f"with normalized_shape {tuple(normalized_shape)}")
    dims = tuple(range(input.dim() - n, input.dim()))
    centred = input - input.mean(dims, keepdim=True)
    variance = (centred * centred).mean(dims, keepdim=True)
    out = centred * (variance + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out + bias if bias is not None else out


def logsigmoid(input):
    return -softplus(-input)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


def one_hot(tensor, num_classes=-1):
    classes = int(tensor.max()) + 1 if num_classes == -1 else num_classes
    return (tensor.unsqueeze(-1) == engine.arange(classes, device=tensor.device)).long()


def bilinear(input1, input2, weight, bias=None):
    """y[n, o] = sum_ij input1[n, i] weight[o, i, j] input2[n, j] + bias[o]."""
    left = (input1.unsqueeze(-2).unsqueeze(-3) @ weight).squeeze(-2)
    out = (left * input2.unsqueeze(-2)).sum(-1)
    return out if bias is None else out + bias


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Rows of `weight` picked by `input`; the padding row gets no gradient."""
    if input.dtype.is_floating_point:
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {input.dtype} instead")
    rows = weight[input]
    if padding_idx is None:
        return rows
    keep = (input != padding_idx).unsqueeze(-1)
    return engine.where(keep, rows, rows.detach())


_BAG_MODES = ("sum", "mean", "max")


def check_bag_mode(mode):
    if mode not in _BAG_MODES:
        raise ValueError(f"mode has to be one of sum, mean or max, got {mode!r}")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2,
                  scale_grad_by_freq=False, mode="mean", sparse=False, per_sample_weights=None,
                  include_last_offset=False, padding_idx=None):
    """The sum, mean or max of the rows of `weight` in each bag of indices.

    Bags become rows of one (bags, longest bag) index matrix, with a mask for the places
    past each bag's end or holding padding_idx; a lookup, a masked reduction over the
    bag dim, and the gradient is embedding's. An empty bag gives zeros, as in PyTorch.
    """
    check_bag_mode(mode)
    if max_norm is not None or scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding_bag: max_norm, scale_grad_by_freq and sparse are "
                                  "not supported")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                  f"per_sample_weights is only supported for mode='sum' "
                                  f"(got mode={mode!r})")
    if per_sample_weights is not None and tuple(per_sample_weights.shape) != tuple(input.shape):
        raise ValueError(f"embedding_bag: per_sample_weights of shape "
                         f"{tuple(per_sample_weights.shape)} must match input of shape "
                         f"{tuple(input.shape)}")
    index, present, scale = _bags(input, offsets, include_last_offset, per_sample_weights)
    if padding_idx is not None:
        present = present & (index != padding_idx % weight.shape[0])
    rows = embedding(index, weight)
    if scale is not None:
        rows = rows * scale.unsqueeze(-1)
    keep = present.unsqueeze(-1)
    if mode == "max":
        if rows.shape[1] == 0:
            return rows.sum(1)
        best = rows.masked_fill(keep.logical_not(), -math.inf).max(1).values
        return engine.where(keep.any(1), best, 0.0)
    total = rows.masked_fill(keep.logical_not(), 0.0).sum(1)
    if mode == "sum":
        return total
    return total / present.sum(1, keepdim=True).clamp_min(1).to(total.dtype)


def _bags(input, offsets, include_last_offset, per_sample_weights):
    """(index, present, per-place weights): one row per bag, padded to the longest."""
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is "
                             f"treated is a mini-batch of fixed length sequences. However, "
                             f"found offsets of shape {tuple(offsets.shape)}")
        present = engine.ones(input.shape, dtype=engine.bool, device=input.device)
        return input, present, per_sample_weights
    if input.dim() != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.dim()} (shape {tuple(input.shape)})")
    if offsets is None or offsets.dim() != 1:
        raise ValueError(f"offsets has to be a 1D Tensor, got "
                         f"{None if offsets is None else tuple(offsets.shape)}")
    starts = [int(v) for v in offsets.tolist()]
    total = input.shape[0]
    if starts and starts[0] != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the "
                           f"mini-batch has to start from position 0. However, got "
                           f"{starts[0]}")
    ends = starts[1:] if include_last_offset else starts[1:] + [total]
    starts = starts[:-1] if include_last_offset else starts
    if any(b < a for a, b in zip(starts, ends)) or (ends and ends[-1] > total):
        raise RuntimeError(f"offsets {offsets.tolist()} must be non-decreasing and at most "
                           f"the input's length {total}")
    longest = max([b - a for a, b in zip(starts, ends)], default=0)
    places = [[min(a + j, max(total - 1, 0)) for j in range(longest)] for a in starts]
    inside = [[a + j < b for j in range(longest)] for a, b in zip(starts, ends)]
    at = engine.tensor(places, dtype=engine.int64).reshape(len(starts), longest)
    present = engine.tensor(inside, dtype=engine.bool).reshape(len(starts), longest)
    scale = per_sample_weights[at] if per_sample_weights is not None else None
    return input[at], present.to(input.device), scale


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over the batch and every dim after the channels;
    updates the running statistics in training."""
    if training:
        dims = (0,) + tuple(range(2, input.dim()))
        mean = input.mean(dims)
        var = input.var(dims, correction=0)
        if running_mean is not None:
            count = input.numel() // input.shape[1]
            update_running_stats(running_mean, running_var, mean, var,
                                 count / max(count - 1, 1), momentum)
    else:
        mean, var = running_mean, running_var
    return normalize_channels(centred(input, mean), var, weight, bias, eps)


def update_running_stats(running_mean, running_var, mean, var, unbias, momentum):
    """Move the running statistics toward a batch's (its variance times `unbias`, the
    count's n / (n - 1), for the running variance), in place and untracked."""
    with engine.no_grad():
        running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
        running_var.mul_(1 - momentum).add_(var.detach() * unbias * momentum)


def centred(input, mean):
    """input - mean, one mean per channel (dim 1)."""
    return input - mean.reshape(_channels(input))


def normalize_channels(deviations, var, weight, bias, eps):
    """deviations / sqrt(var + eps) per channel (dim 1), then the affine transform."""
    shape = _channels(deviations)
    out = deviations * (var.reshape(shape) + eps).rsqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def _channels(input):
    """The shape that puts one value per channel against `input`."""
    return (1, -1) + (1,) * (input.dim() - 2)


def _channel_dropout(name, input, p, training, dims):
    """Zero whole channels: one keep-or-drop draw per (sample, channel), the kept ones
    scaled by 1 / (1 - p). `dims` are the input ranks accepted, unbatched first."""
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.dim() not in dims:
        raise RuntimeError(f"{name}: expected a {dims[0]}-d or {dims[1]}-d input, got shape "
                           f"{tuple(input.shape)}")
    if not training or p == 0:
        return input
    lead = 1 if input.dim() == 2 else 2  # (C, L) has one lead dim; dropout2d's 3-d is NCL
    shape = tuple(input.shape[:lead]) + (1,) * (input.dim() - lead)
    if p == 1:
        return input * engine.zeros(shape, dtype=input.dtype, device=input.device)
    keep = engine.rand(shape, dtype=input.dtype, device=input.device) >= p
    return input * (keep.to(input.dtype) / (1 - p))


def dropout1d(input, p=0.5, training=True, inplace=False):
    return maybe_inplace(input, inplace,
                         lambda x: _channel_dropout("Dropout1d", x, p, training, (2, 3)))


def dropout2d(input, p=0.5, training=True, inplace=False):
    if input.dim() == 2:  # PyTorch warns, then drops elements: each is its own "channel"
        warnings.warn("dropout2d: Received a 2-D input to dropout2d, which is deprecated and "
                      "will result in an error in a future release. To retain the behavior "
                      "and silence this warning, please use dropout instead. Note that "
                      "dropout2d exists to provide channel-wise dropout on inputs with 2 "
                      "spatial dimensions, a channel dimension, and an optional batch "
                      "dimension (i.e. 3D or 4D inputs).", UserWarning, stacklevel=2)
        return dropout(input, p, training, inplace)
    return maybe_inplace(input, inplace,
                         lambda x: _channel_dropout("Dropout2d", x, p, training, (3, 4)))


@float32_inside
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each sample over groups of channels (and every position), then scale and
    shift each channel."""
    if input.dim() < 2 or input.shape[1] % num_groups:
        raise RuntimeError(f"group_norm: expected an input of shape (N, C, ...) whose C is "
                           f"divisible by num_groups={num_groups}, got shape "
                           f"{tuple(input.shape)}")
    n = input.shape[0]
    if input.numel() // num_groups == 1:  # PyTorch's check: one value per group in all
        raise ValueError(f"Expected more than 1 value per channel when training, got input "
                         f"size {[n * input.shape[1] // num_groups, num_groups]}")
    grouped = input.reshape(n, num_groups, -1)
    centred = grouped - grouped.mean(-1, keepdim=True)
    variance = (centred * centred).mean(-1, keepdim=True)
    out = (centred * (variance + eps).rsqrt()).reshape(input.shape)
    shape = (1, -1) + (1,) * (input.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Batch norm over each (sample, channel) pair on its own: the input seen as one
    sample of N * C channels. Running statistics, when kept, average the samples'."""
    n, c = input.shape[:2]
    flat = input.reshape((1, n * c) + tuple(input.shape[2:]))
    tiled = [None if s is None else s.repeat(n) for s in (running_mean, running_var)]
    out = batch_norm(flat, tiled[0], tiled[1], None, None, use_input_stats, momentum,
                     eps).reshape(input.shape)
    if use_input_stats and running_mean is not None:
        with engine.no_grad():
            running_mean.copy_(tiled[0].reshape(n, c).mean(0))
            running_var.copy_(tiled[1].reshape(n, c).mean(0))
    shape = (1, -1) + (1,) * (input.dim() - 2)
    if weight is not None:
        out = out * weight.reshape(shape)
    return out if bias is None else out + bias.reshape(shape)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """softmax(query key^T * scale + mask) value over the last two dims, as PyTorch's
    reference spells it: a bool mask says which keys each query may attend to (False
    becomes -inf before the softmax), a float mask is added, and is_causal lets query i
    see keys 0..i. Dropout, when asked for, always applies, as in PyTorch."""
    if enable_gqa:
        raise RuntimeError("scaled_dot_product_attention: enable_gqa is not supported; "
                           "repeat the key and value heads instead")
    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: pass either attn_mask or "
                           "is_causal=True, not both")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: query {tuple(query.shape)}, key "
                           f"{tuple(key.shape)} and value {tuple(value.shape)} do not fit: "
                           f"query and key need one embedding size, key and value one "
                           f"length")
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else scale
    scores = query @ key.transpose(-2, -1) * scale
    if is_causal:
        places = engine.arange(max(query.shape[-2], key.shape[-2]), device=query.device)
        attn_mask = places[:query.shape[-2]].unsqueeze(1) >= places[:key.shape[-2]]
    if attn_mask is not None:
        if attn_mask.dtype is engine.bool:
            scores = scores.masked_fill(attn_mask.logical_not(), -math.inf)
        else:
            scores = scores + attn_mask
    weights = softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, True)
    return weights @ value


def _at_least_3d(name, input):
    if input.dim() < 3:
        raise RuntimeError(f"{name} expects input to have at least 3 dimensions, but got "
                           f"input with {input.dim()} dimension(s)")
    return tuple(input.shape[:-3]), tuple(input.shape[-3:])


def pixel_shuffle(input, upscale_factor):
    """Each group of r^2 channels spread into an r x r block of pixels: a reshape, a
    permute and a reshape, so its gradient is theirs."""
    lead, (c, h, w) = _at_least_3d("pixel_shuffle", input)
    r = upscale_factor
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    n = len(lead)
    x = input.reshape(lead + (c // (r * r), r, r, h, w))
    x = x.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(lead + (c // (r * r), h * r, w * r))


def pixel_unshuffle(input, downscale_factor):
    """Each r x r block of pixels gathered into r^2 channels (pixel_shuffle's inverse)."""
    lead, (c, h, w) = _at_least_3d("pixel_unshuffle", input)
    r = downscale_factor
    for side, size in (("height", h), ("width", w)):
        if size % r:
            index = -2 if side == "height" else -1
            raise RuntimeError(f"pixel_unshuffle expects {side} to be divisible by "
                               f"downscale_factor, but input.size({index})={size} is not "
                               f"divisible by {r}")
    n = len(lead)
    x = input.reshape(lead + (c, h // r, r, w // r, r))
    x = x.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(lead + (c * r * r, h // r, w // r))
