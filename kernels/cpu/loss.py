"""Fused cross-entropy over (N, C) logits: one pass a row forward, one pass backward.

The composite log_softmax + NLL writes and rereads an (N, C) array of log-probabilities;
these kernels keep each row in cache and write only what the next step needs.
"""
import math

import numpy as np
from numba import njit

from ..bounds import check_classes
from .elementwise import div
from .reduce import sum as sum_axes


@njit(cache=True)
def _row_max(x, i):
    m = x[i, 0]
    for j in range(1, x.shape[1]):
        m = max(m, x[i, j])
    return m


@njit(cache=True)
def _rows(x, target, weight, ignore_index, losses, weights):
    N, C = x.shape
    for i in range(N):
        t = target[i]
        if t == ignore_index:
            losses[i] = 0.0
            weights[i] = 0.0
            continue
        m = _row_max(x, i)
        s = 0.0
        for j in range(C):
            s += math.exp(x[i, j] - m)
        weights[i] = weight[t]
        losses[i] = weight[t] * ((m - x[i, t]) + math.log(s))  # exact for huge m


@njit(cache=True)
def _grad_rows(g, g_step, by, x, target, weight, ignore_index, out):
    N, C = x.shape
    den = by[0]
    for i in range(N):
        t = target[i]
        if t == ignore_index:
            for j in range(C):
                out[i, j] = 0.0
            continue
        m = _row_max(x, i)
        s = 0.0
        for j in range(C):
            e = math.exp(x[i, j] - m)
            out[i, j] = e
            s += e
        gi = g[i * g_step] / den  # in g's dtype, as the mean's separate division was
        scale = gi * weight[t] / s
        for j in range(C):
            out[i, j] *= scale
        out[i, t] -= gi * weight[t]


def cross_entropy_rows(x, target, weight, ignore_index):
    """(losses, weights) per row: weight[t] * (logsumexp(x_i) - x_i[t]), 0 where ignored."""
    check_classes(x, target, weight, ignore_index, target)
    x = np.ascontiguousarray(x)
    losses = np.empty(x.shape[0], x.dtype)
    weights = np.empty(x.shape[0], x.dtype)
    _rows(x, target, weight, ignore_index, losses, weights)
    return losses, weights


def cross_entropy_reduced(x, target, weight, ignore_index, mean):
    """(the sum of the rows' losses, or their weighted mean; the sum of their weights), as
    0-d arrays: the rows' losses and weights, then the sum kernel over each."""
    losses, weights = cross_entropy_rows(x, target, weight, ignore_index)
    total, total_weight = sum_axes(losses, (0,)), sum_axes(weights, (0,))
    return (div(total, total_weight) if mean else total), total_weight


def cross_entropy_and_grad(g, x, target, weight, ignore_index, mean, column_sums):
    """(cross_entropy_reduced's two results, and cross_entropy_backward_rows' for the
    loss's gradient g and that total weight, with column_sums): on the CPU, the two
    one after the other (CUDA saves a launch by doing both in one)."""
    loss, total_weight = cross_entropy_reduced(x, target, weight, ignore_index, mean)
    grad = cross_entropy_backward_rows(g, x, target, weight, ignore_index,
                                       total_weight if mean else None, column_sums)
    return (loss, total_weight) + (grad if column_sums else (grad, None))


def cross_entropy_backward_rows(g, x, target, weight, ignore_index, total_weight=None,
                                column_sums=False):
    """d(sum_i g_i loss_i)/dx = g_i weight[t_i] (softmax(x_i) - onehot(t_i)), with g one
    number per row or one for all (0-d); divided by `total_weight` (by 1 where it is 0),
    when given, for a mean's gradient: PyTorch's nll_loss_backward also divides itself.
    With `column_sums`, (that gradient, its sum over the rows): the sum kernel's, here."""
    check_classes(x, target, weight, ignore_index, target, g, total_weight)
    x = np.ascontiguousarray(x)
    out = np.empty(x.shape, x.dtype)
    g = np.ascontiguousarray(g).reshape(-1)
    by = total_weight.reshape(1) if total_weight is not None and total_weight != 0 \
        else np.ones(1, g.dtype)
    _grad_rows(g, int(g.size > 1), by, x, target, weight, ignore_index, out)
    return (out, sum_axes(out, (0,))) if column_sums else out
