"""`nn.functional`: PyTorch's functional API over engine ops (no kernels called here)."""
import math

import engine
from engine.ops.conv import (  # noqa: F401
    adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d, conv2d, fold, max_pool1d, max_pool2d,
    unfold,
)
from engine.ops.conv_transpose import conv_transpose1d, conv_transpose2d  # noqa: F401
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


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel (dim 1) over the batch and every dim after the channels;
    updates the running statistics in training."""
    dims = (0,) + tuple(range(2, input.dim()))
    shape = (1, -1) + (1,) * (input.dim() - 2)
    if training:
        mean = input.mean(dims)
        var = input.var(dims, correction=0)
        if running_mean is not None:
            count = input.numel() // input.shape[1]
            with engine.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach() * momentum)
                unbiased = var.detach() * (count / max(count - 1, 1))
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
    else:
        mean, var = running_mean, running_var
    out = (input - mean.reshape(shape)) * (var.reshape(shape) + eps).rsqrt()
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
