"""The last line of memory safety for kernels that index with values they are given.

A numba kernel reads x[t] without checking t. The engine's public functions check
indices and class targets with messages of their own, but a kernel can also be reached
without them (engine.compile's replay, vmap's batched graph), so the backends check
again here, on the host, before any such kernel runs: O(n) over the indices, small
beside the kernel's own work.
"""
import numpy as np


def check_indices(name, indices, size, ignore=None, axis=None):
    """IndexError unless every index (`ignore` excepted) lies in [0, size); for indices
    along an `axis` (gather's, scatter's), RuntimeError in PyTorch's words."""
    values = np.asarray(indices)
    if not values.size or (values.min() >= 0 and values.max() < size):
        return
    bad = values[((values < 0) | (values >= size)) & (values != ignore if ignore is not None
                                                       else True)]
    if bad.size and axis is not None:
        raise RuntimeError(f"index {int(bad.flat[0])} is out of bounds for dimension {axis} "
                           f"with size {size}")
    if bad.size:
        raise IndexError(f"{name}: index {int(bad.flat[0])} is out of bounds for size {size}")


def check_rows(name, rows, values):
    """ValueError unless `rows` (R, n) and `values` (R, m) are matrices with as many rows:
    a search kernel reads row i // m of `rows` for the i-th value."""
    if len(rows.shape) != 2 or len(values.shape) != 2 or rows.shape[0] != values.shape[0]:
        raise ValueError(f"{name}: expected sorted rows (R, n) and values (R, m), got "
                         f"shapes {tuple(rows.shape)} and {tuple(values.shape)}")


def check_classes(x, target, weight, ignore_index, host_target, grad=None,
                  total_weight=None):
    """ValueError unless logits x (N, C) come with N targets and C class weights (and, in
    backward, N gradients or one for all rows, and one total weight), and IndexError
    unless every target (`host_target`, the targets on the host) is a class or
    `ignore_index`: the cross-entropy kernels read target[i], grad[i] (or grad[0]),
    total_weight[0], x[i, target[i]] and weight[target[i]] for each row unchecked."""
    N, C = x.shape
    if (tuple(target.shape) != (N,) or tuple(weight.shape) != (C,)
            or (grad is not None and tuple(grad.shape) not in ((N,), ()))
            or (total_weight is not None and tuple(total_weight.shape) != ())):
        raise ValueError(f"cross_entropy: expected {N} targets, {C} class weights (and {N} "
                         f"gradients or one, and one total weight) for logits of shape "
                         f"{tuple(x.shape)}, got shapes {tuple(target.shape)}, "
                         f"{tuple(weight.shape)}"
                         f"{'' if grad is None else f' and {tuple(grad.shape)}'}"
                         f"{'' if total_weight is None else f', {tuple(total_weight.shape)}'}")
    check_indices("cross_entropy", host_target, C, ignore_index)
