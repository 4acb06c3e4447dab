"""Loss functions. The common ones are single ops with PyTorch's node names and
numerically safe forwards (BCE-with-logits at -1000, log clamped at -100 in BCE)."""
import functools

from .. import dtypes
from .activation import _softmax_backward, log_softmax, softmax, softplus
from .indexing import scatter_into_zeros
from .operands import check_broadcast, promote
from .primitive import Primitive as P
from ..amp import full_precision

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def reduce_array(K, losses, reduction, denominator=None):
    """Apply `reduction` to an array of per-element losses (inside a forward)."""
    if reduction == "none":
        return losses
    total = K.sum(losses, tuple(range(losses.ndim)))
    if reduction == "sum":
        return total
    return K.div(total, losses.size if denominator is None else denominator)


def reduction_grad(g, reduction, count):
    """The gradient each element's loss receives from the reduced loss."""
    return g / count if reduction == "mean" else g


def _pair(name, input, target):
    a, b = promote(name, input, target, floating=True)
    check_broadcast(name, (a, b))
    return a, b


# ---- regression ----------------------------------------------------------------------

def _mse_forward(K, a, b, *, reduction):
    d = K.sub(a, b)
    return reduce_array(K, K.mul(d, d), reduction)


_mse = P("MseLossBackward0", _mse_forward,
         a=lambda g, a, b, reduction: reduction_grad(g, reduction, (a - b).numel()) * 2 * (a - b),
         b=lambda g, a, b, reduction: reduction_grad(g, reduction, (a - b).numel()) * -2 * (a - b))


@full_precision
def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _mse(*_pair("mse_loss", input, target), reduction=reduction)


def legacy_reduction(size_average, reduce, reduction):
    """The reduction that PyTorch's deprecated size_average and reduce flags ask for, or
    `reduction` when neither is given."""
    if size_average is None and reduce is None:
        return reduction
    if reduce is not None and not reduce:
        return "none"
    return "mean" if size_average is None or size_average else "sum"


def _apply(losses, reduction):
    _check_reduction(reduction)
    if reduction == "mean":
        return losses.mean()
    return losses.sum() if reduction == "sum" else losses


@full_precision
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    reduction = legacy_reduction(size_average, reduce, reduction)
    a, b = _pair("l1_loss", input, target)
    return _apply((a - b).abs(), reduction)


@full_precision
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    from .pointwise import where

    reduction = legacy_reduction(size_average, reduce, reduction)
    a, b = _pair("smooth_l1_loss", input, target)
    d = (a - b).abs()
    if beta == 0:
        return _apply(d, reduction)
    return _apply(where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta), reduction)


@full_precision
def huber_loss(input, target, reduction="mean", delta=1.0):
    from .pointwise import where

    a, b = _pair("huber_loss", input, target)
    d = (a - b).abs()
    return _apply(where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta)), reduction)


# ---- binary classification -----------------------------------------------------------

def _bce_logits_forward(K, x, y, w, pw, *, reduction):
    # (1 - y) x + (1 + (pw - 1) y) softplus(-x), with softplus(-x) = log1p(e^-|x|) + max(-x, 0)
    softplus_neg = K.add(K.log1p(K.exp(K.neg(K.abs(x)))), K.maximum(K.neg(x), 0))
    scale = K.add(K.mul(K.sub(pw, 1), y), 1)
    losses = K.mul(K.add(K.mul(K.sub(1, y), x), K.mul(scale, softplus_neg)), w)
    return reduce_array(K, losses, reduction)


def _bce_logits_dx(g, x, y, w, pw, reduction):
    from .activation import sigmoid

    scale = 1 + (pw - 1) * y
    return reduction_grad(g, reduction, x.numel()) * w * (scale * sigmoid(x) - pw * y)


def _bce_logits_dy(g, x, w, pw, reduction):
    return reduction_grad(g, reduction, x.numel()) * w * (-x + (pw - 1) * softplus(-x))


_bce_logits = P("BinaryCrossEntropyWithLogitsBackward0", _bce_logits_forward,
                x=_bce_logits_dx, y=_bce_logits_dy)


@full_precision
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """BCE on logits, exact for any logit: log(sigmoid) is never formed."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError(f"Target size ({tuple(target.shape)}) must be the same as input size "
                         f"({tuple(input.shape)})")
    x, y, w, pw = promote("binary_cross_entropy_with_logits", input, target,
                          1.0 if weight is None else weight,
                          1.0 if pos_weight is None else pos_weight, floating=True)
    check_broadcast("binary_cross_entropy_with_logits", (x, w, pw))
    return _bce_logits(x, y, w, pw, reduction=reduction)


def _check_probabilities(K, name, x):
    """RuntimeError unless every element of x lies in [0, 1] (NaN fails too), as PyTorch's
    kernel checks. Done on the arrays, inside the forward: so a compiled replay checks as
    well, and tracing a step does not stop at a Python number."""
    if not x.size:
        return
    flat = K.reshape(x, (x.size,))
    low = float(K.to_numpy(K.amin(flat, (0,))))
    high = float(K.to_numpy(K.amax(flat, (0,))))
    if not (0 <= low and high <= 1):
        raise RuntimeError(f"all elements of {name} should be between 0 and 1 (got values "
                           f"from {low} to {high})")


def _bce_forward(K, p, y, w, *, reduction):
    _check_probabilities(K, "input", p)
    _check_probabilities(K, "target", y)
    log_p = K.maximum(K.log(p), -100)
    log_q = K.maximum(K.log(K.sub(1, p)), -100)
    losses = K.neg(K.mul(K.add(K.mul(y, log_p), K.mul(K.sub(1, y), log_q)), w))
    return reduce_array(K, losses, reduction)


def _bce_dp(g, p, y, w, reduction):
    return (reduction_grad(g, reduction, p.numel()) * w * (p - y)
            / ((1 - p) * p).clamp(min=1e-12))


def _bce_dy(g, p, w, reduction):
    log_gap = (1 - p).log().clamp(min=-100) - p.log().clamp(min=-100)
    return reduction_grad(g, reduction, p.numel()) * w * log_gap


_bce = P("BinaryCrossEntropyBackward0", _bce_forward, p=_bce_dp, y=_bce_dy)


@full_precision
def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """BCE on probabilities; each log is clamped at -100 as in PyTorch."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input.shape != target.shape:
        raise ValueError(f"Using a target size ({tuple(target.shape)}) that is different to the "
                         f"input size ({tuple(input.shape)}) is deprecated. Please ensure they "
                         f"have the same size.")
    p, y, w = promote("binary_cross_entropy", input, target,
                      1.0 if weight is None else weight, floating=True)
    return _bce(p, y, w, reduction=reduction)


# ---- multi-class ---------------------------------------------------------------------

def _nll_forward(K, x, t, w, *, ignore_index, reduction):
    valid = K.ne(t, ignore_index)
    safe = K.where(valid, t, 0)
    weights = K.mul(K.getitem(w, safe), valid)
    picked = K.reshape(K.gather(x, 1, K.reshape(safe, (safe.shape[0], 1) + safe.shape[1:])),
                       safe.shape)
    losses = K.neg(K.mul(picked, weights))
    total_weight = K.sum(weights, tuple(range(weights.ndim)))
    out = reduce_array(K, losses, reduction, denominator=total_weight)
    return out, {"weights": weights, "safe": safe, "total_weight": total_weight}


def _mean_over(g, total_weight):
    """g / total_weight, or g where every target was ignored (total 0): then each row's
    weight is 0 and the gradient is 0, as in PyTorch, not 0 * inf = NaN."""
    return g / (total_weight + (total_weight == 0).to(total_weight.dtype))


def _nll_dx(g, x_shape, weights, safe, total_weight, reduction):
    coef = -weights * (_mean_over(g, total_weight) if reduction == "mean" else g)
    return scatter_into_zeros(coef.unsqueeze(1), safe.unsqueeze(1), 1, x_shape)


_nll = P("NllLossBackward0", _nll_forward, extras=("weights", "safe", "total_weight"),
         x=_nll_dx)


def _check_targets(name, target, classes, ignore_index):
    if target.dtype.is_floating_point or target.dtype is dtypes.bool_:
        raise RuntimeError(f"{name}: expected class indices of dtype int64 as target, got "
                           f"{target.dtype}")
    values = target._backend.to_numpy(target._data)
    if values.size and 0 <= values.min() and values.max() < classes:
        return  # all in range: the one check every training step pays
    bad = values[(values != ignore_index) & ((values < 0) | (values >= classes))]
    if bad.size:
        raise IndexError(f"{name}: target {int(bad.flat[0])} is out of bounds for {classes} "
                         f"classes (valid targets are 0 to {classes - 1}, or "
                         f"ignore_index={ignore_index})")


@full_precision
def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of class indices given log-probabilities (N, C, ...)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input.dim() == 1:  # a single sample: (C,) with a 0-d target
        out = nll_loss(input.unsqueeze(0), target.reshape(1), weight, None, ignore_index,
                       None, reduction)
        return out.reshape(()) if reduction == "none" else out
    if input.dim() < 1 or target.shape != (input.shape[0],) + input.shape[2:]:
        raise ValueError(f"nll_loss: expected target of shape "
                         f"{(input.shape[0],) + tuple(input.shape[2:])} for input of shape "
                         f"{tuple(input.shape)}, got {tuple(target.shape)}")
    classes = input.shape[1]
    _check_targets("nll_loss", target, classes, ignore_index)
    w = _class_weights("nll_loss", weight, input)
    out, _ = _nll(input, target.long(), w, ignore_index=ignore_index, reduction=reduction)
    return out


# ---- fused cross-entropy for (N, C) logits and class indices -------------------------

def _ce_forward(K, x, t, w, *, ignore_index, reduction):
    if reduction == "none":
        losses, weights = K.cross_entropy_rows(x, t, w, ignore_index)
        return losses, {"total_weight": K.sum(weights, (0,))}
    loss, total_weight = K.cross_entropy_reduced(x, t, w, ignore_index, reduction == "mean")
    return loss, {"total_weight": total_weight}


def _row_grads(g, n, total_weight, reduction):
    """The upstream gradient of each row's loss."""
    if reduction == "none":
        return g
    return (_mean_over(g, total_weight) if reduction == "mean" else g).expand(n)


def _picked_weights(t, w, ignore_index):
    kept = t != ignore_index
    return w[t * kept.long()] * kept.to(w.dtype)


def _ce_backward_dg(gg, x, t, w, total_weight, ignore_index, reduction):
    """Per row; summed to one number (sum_to) where g was one for all rows."""
    from ..creation import arange

    onehot = (t.unsqueeze(1) == arange(x.shape[1], device=x.device)).to(x.dtype)
    per_row = (gg * (softmax(x, 1) - onehot)).sum(1) * _picked_weights(t, w, ignore_index)
    return _mean_over(per_row, total_weight) if reduction == "mean" else per_row


def _ce_backward_dx(gg, g, x, t, w, total_weight, ignore_index, reduction):
    coef = _row_grads(g, x.shape[0], total_weight, reduction) * _picked_weights(
        t, w, ignore_index)
    return coef.unsqueeze(1) * _softmax_backward(gg, softmax(x, 1), dim=1)


def _ce_backward_rows(K, g, x, t, w, total_weight, *, ignore_index, reduction):
    """The kernel takes the loss's own gradient (one number unless reduction='none') and,
    for a mean, divides by the total weight itself: no ops of their own for either."""
    return K.cross_entropy_backward_rows(g, x, t, w, ignore_index,
                                         total_weight if reduction == "mean" else None)


_ce_backward = P("CrossEntropyBackwardBackward0", _ce_backward_rows,
                 g=_ce_backward_dg, x=_ce_backward_dx)
_ce = P("NllLossBackward0", _ce_forward, extras=("total_weight",),
        x=lambda g, x, t, w, total_weight, ignore_index, reduction: _ce_backward(
            g, x, t, w, total_weight, ignore_index=ignore_index, reduction=reduction))


@full_precision
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """log_softmax over dim 1, then NLL; targets are class indices or probabilities."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.dim() == 1 else 1
    classes = input.shape[class_dim]
    if target.dtype.is_floating_point:
        if target.shape != input.shape:
            raise ValueError(f"cross_entropy: probability targets must have the input's shape "
                             f"{tuple(input.shape)}, got {tuple(target.shape)}")
        logp = log_softmax(input, class_dim)
        if label_smoothing:
            target = target * (1 - label_smoothing) + label_smoothing / classes
        per_class = logp * target
        if weight is not None:
            shape = [1] * input.dim()
            shape[class_dim] = classes
            per_class = per_class * weight.reshape(shape)
        losses = -per_class.sum(class_dim)
        if reduction == "mean":
            return losses.sum() / (losses.numel() or 1) if input.dim() > 1 else losses
        return _apply(losses, reduction)
    if input.dim() == 2 and not label_smoothing:
        return _fused_cross_entropy(input, target, weight, ignore_index, reduction)
    logp = log_softmax(input, class_dim)
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if not label_smoothing:
        return nll
    return (1 - label_smoothing) * nll + label_smoothing / classes * _smooth_term(
        logp, target, weight, ignore_index, reduction, class_dim)


@functools.lru_cache(maxsize=64)
def _unit_weights(classes, dtype, device):
    """Ones, one per class: made once per (classes, dtype, device), since every
    unweighted loss call would otherwise build the same tensor (only ever read)."""
    from ..creation import ones

    return ones(classes, dtype=dtype, device=device)


def _class_weights(name, weight, input):
    """One weight per class (dim 1 of input), in the input's dtype; ones when None."""
    classes = input.shape[1]
    w = weight if weight is not None else _unit_weights(classes, input.dtype, input.device)
    if w.shape != (classes,):
        raise RuntimeError(f"{name}: weight should have {classes} elements (one per class), "
                           f"got shape {tuple(w.shape)}")
    return w.to(input.dtype)


def _fused_cross_entropy(input, target, weight, ignore_index, reduction):
    if target.shape != (input.shape[0],):
        raise ValueError(f"cross_entropy: expected target of shape ({input.shape[0]},) for "
                         f"input of shape {tuple(input.shape)}, got {tuple(target.shape)}")
    _check_targets("cross_entropy", target, input.shape[1], ignore_index)
    w = _class_weights("cross_entropy", weight, input)
    out, _ = _ce(input, target.long(), w, ignore_index=ignore_index, reduction=reduction)
    return out


def _smooth_term(logp, target, weight, ignore_index, reduction, class_dim):
    """The uniform-target part of label smoothing, normalised as PyTorch normalises it."""
    per_class = logp
    if weight is not None:
        shape = [1] * logp.dim()
        shape[class_dim] = logp.shape[class_dim]
        per_class = logp * weight.reshape(shape)
    kept = (target != ignore_index)
    losses = -per_class.sum(class_dim) * kept.to(logp.dtype)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if weight is not None:
        safe = target.long() * kept.long()
        return losses.sum() / (weight[safe] * kept.to(logp.dtype)).sum()
    return losses.sum() / kept.sum()


@full_precision
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL(target || exp(input)) with `input` as log-probabilities."""
    from .pointwise import xlogy

    reduction = legacy_reduction(size_average, reduce, reduction)
    if log_target:
        losses = target.exp() * (target - input)
    else:
        losses = xlogy(target, target) - target * input
    if reduction == "batchmean":
        return losses.sum() / input.shape[0]
    return _apply(losses, reduction)
