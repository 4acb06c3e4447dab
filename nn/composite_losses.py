"""Distances and the losses built from them, written as compositions of engine ops.

Where PyTorch clamps a value under no_grad (a norm kept away from zero, a variance kept
above eps), the clamp here changes the value but not the gradient, as there.
"""
import math

import engine

from engine.ops.activation import softplus
from engine.ops.loss import _apply, legacy_reduction
from engine.ops.operands import broadcast_shapes
from engine.amp import full_precision


def _reduce(losses, size_average, reduce, reduction):
    return _apply(losses, legacy_reduction(size_average, reduce, reduction))


def _floored(t, low):
    """t's values raised to at least `low`, with the gradient of t itself."""
    return t + (t.clamp(min=low) - t).detach()


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along `dim` (they broadcast): each divided by
    its norm (at least eps) first, so the result stays within [-1, 1]."""
    shape = broadcast_shapes(tuple(x1.shape), tuple(x2.shape), op="cosine_similarity")
    x1, x2 = x1.expand(shape), x2.expand(shape)
    n1 = _floored(x1.norm(dim=dim, keepdim=True), eps)
    n2 = _floored(x2.norm(dim=dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """The p-norm of x1 - x2 + eps along the last dim."""
    return (x1 - x2 + eps).norm(p=p, dim=-1, keepdim=keepdim)


@full_precision
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None,
                          reduce=None, reduction="mean"):
    """1 - cos for pairs labelled 1, max(0, cos - margin) for pairs labelled -1, with cos
    as this loss has always computed it: <x1, x2> / sqrt((|x1|^2 + e)(|x2|^2 + e))."""
    dim = input1.dim() - 1
    tiny = 1e-12
    cos = (input1 * input2).sum(dim) / (((input1 * input1).sum(dim) + tiny)
                                        * ((input2 * input2).sum(dim) + tiny)).sqrt()
    losses = engine.where(target == 1, 1 - cos, 0.0) + engine.where(
        target == -1, (cos - margin).clamp(min=0), 0.0)
    return _reduce(losses, size_average, reduce, reduction)


@full_precision
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None,
                        reduction="mean"):
    losses = (-target * (input1 - input2) + margin).clamp(min=0)
    return _reduce(losses, size_average, reduce, reduction)


@full_precision
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None,
                         reduction="mean"):
    """x where the target is 1, max(0, margin - x) where it is -1."""
    losses = engine.where(target != 1, (margin - input).clamp(min=0), 0.0) + engine.where(
        target != -1, input, 0.0)
    return _reduce(losses, size_average, reduce, reduction)


@full_precision
def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    return _reduce(softplus(-target * input), size_average, reduce, reduction)


@full_precision
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False,
                        size_average=None, reduce=None, reduction="mean"):
    """max(d(a, p) - d(a, n) + margin, 0); with swap, d(a, n) is the smaller of d(a, n)
    and d(p, n)."""
    near = pairwise_distance(anchor, positive, p, eps)
    far = pairwise_distance(anchor, negative, p, eps)
    if swap:
        far = engine.minimum(far, pairwise_distance(positive, negative, p, eps))
    return _reduce((near - far + margin).clamp(min=0), size_average, reduce, reduction)


@full_precision
def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None,
                      reduce=None, reduction="mean"):
    """For each row, the mean over the other classes i of
    max(0, margin - x[y] + x[i]) ** p, weighted by weight[y]."""
    if p not in (1, 2):
        raise ValueError(f"only p == 1 and p == 2 supported, got {p}")
    rows = input if input.dim() == 2 else input.unsqueeze(0)
    labels = target.reshape(-1, 1)
    picked = rows.gather(1, labels)
    terms = (margin - picked + rows).clamp(min=0) ** p
    if weight is not None:
        terms = terms * weight[labels]
    classes = engine.arange(rows.shape[1], device=rows.device)
    terms = engine.where(classes == labels, 0.0, terms)
    losses = terms.sum(1) / rows.shape[1]
    losses = losses if input.dim() == 2 else losses.squeeze(0)
    return _reduce(losses, size_average, reduce, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction="mean"):
    """The mean over classes of each class's binary logistic loss."""
    # log sigmoid(x) = -softplus(-x)
    terms = target * softplus(-input) + (1 - target) * softplus(input)
    if weight is not None:
        terms = terms * weight
    return _reduce(terms.mean(-1), size_average, reduce, reduction)


@full_precision
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8,
                     reduce=None, reduction="mean"):
    """exp(x) - y x for log rates x (else x - y log(x + eps)); full adds Stirling's
    approximation of log(y!) where y > 1."""
    losses = input.exp() - target * input if log_input else \
        input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + 0.5 * (2 * math.pi * target).log()
        losses = losses + engine.where(target > 1, stirling, 0.0)
    return _reduce(losses, size_average, reduce, reduction)


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """0.5 (log var + (x - y)^2 / var), var kept at least eps; var may have one entry per
    row (its last dim dropped or 1)."""
    if isinstance(var, (int, float)):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = engine.full(tuple(input.shape), float(var), dtype=input.dtype,
                          device=input.device)
    elif bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif not (var.dim() == input.dim() and sum(
                b for a, b in zip(input.shape, var.shape) if a != b) == 1):
            raise ValueError(f"var is of incorrect size: {tuple(var.shape)} for input of "
                             f"shape {tuple(input.shape)}")
    var = _floored(var, eps)
    losses = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        losses = losses + 0.5 * math.log(2 * math.pi)
    return _apply(losses, reduction)
