"""`einsum`: Einstein summation, as diagonals, sums, permutes and batched products.

Every step is an existing differentiable op, so einsum needs no derivative of its own.
Operands are contracted left to right: a label both sides carry and something later
needs is a batch dim, a label both carry and nothing later needs is summed by the
product, and a label only one side carries rides along in that side's rows or columns.
"""
import string

from ..creation import arange
from .linalg import matmul
from .shape import permute
from .registry import public
from ..amp import lower_precision

_LETTERS = string.ascii_letters


def _parse(equation, operands):
    """Label lists per operand and for the output; an ellipsis becomes one label per dim
    it covers (numbered past the letters, aligned from the right as broadcasting is)."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(operands):
        more = "more" if len(operands) > len(terms) else "fewer"
        raise ValueError(f"einsum(): {more} operands were provided ({len(operands)}) than "
                         f"specified in the equation '{equation}' ({len(terms)})")
    ellipsis_dims = 0
    inputs = []
    for i, (term, x) in enumerate(zip(terms, operands)):
        _check_letters(term.replace("...", ""), equation)
        letters = term.replace("...", "")
        if "..." in term:
            covered = x.dim() - len(letters)
            if covered < 0:
                raise ValueError(f"einsum(): the number of subscripts in the equation "
                                 f"({len(letters)}) is more than the number of dimensions "
                                 f"({x.dim()}) for operand {i}")
            ellipsis_dims = max(ellipsis_dims, covered)
            before, after = term.split("...")
            inputs.append([_LETTERS.index(c) for c in before]
                          + [100 - covered + k for k in range(covered)]
                          + [_LETTERS.index(c) for c in after])
        else:
            if len(letters) != x.dim():
                raise ValueError(f"einsum(): the number of subscripts in the equation "
                                 f"({len(letters)}) does not match the number of dimensions "
                                 f"({x.dim()}) for operand {i} and no ellipsis was given")
            inputs.append([_LETTERS.index(c) for c in letters])
    ellipsis = [100 - ellipsis_dims + k for k in range(ellipsis_dims)]
    if not arrow:  # implicit output: the ellipsis, then the labels used once, sorted
        counts = {}
        for c in lhs.replace("...", ""):
            counts[c] = counts.get(c, 0) + (c != ",")
        return inputs, ellipsis + [_LETTERS.index(c) for c in sorted(counts)
                                   if counts[c] == 1]
    _check_letters(rhs.replace("...", ""), equation)
    before, dots, after = rhs.partition("...")
    output = ([_LETTERS.index(c) for c in before] + (ellipsis if dots else [])
              + [_LETTERS.index(c) for c in after])
    seen = set()
    known = {label for labels in inputs for label in labels}
    for c in before + after:
        label = _LETTERS.index(c)
        if label in seen:
            raise ValueError(f"einsum(): output subscript {c} appears more than once in the "
                             f"output '{equation}'")
        if label not in known:
            raise ValueError(f"einsum(): output subscript {c} does not appear in the "
                             f"equation for any input operand '{equation}'")
        seen.add(label)
    return inputs, output


def _check_letters(term, equation):
    for c in term:
        if c not in _LETTERS and c != ",":
            raise ValueError(f"einsum(): invalid subscript given at index "
                             f"{equation.index(c)} in the equation string '{equation}', "
                             f"subscripts must be in [a-zA-Z]")


def _sizes(inputs, operands):
    """Each label's size; a size-1 dim broadcasts against the others."""
    sizes = {}
    for i, (labels, x) in enumerate(zip(inputs, operands)):
        for label, n in zip(labels, x.shape):
            seen = sizes.get(label, 1)
            if n != 1 and seen not in (1, n):
                name = _LETTERS[label] if label < 100 else "..."
                raise ValueError(f"einsum(): subscript {name} has size {n} for operand {i} "
                                 f"which does not broadcast with previously seen size {seen}")
            sizes[label] = n if n != 1 else seen
    return sizes


def _diagonal(x, labels):
    """Fold a label repeated within one operand ('ii') into one dim: its diagonal."""
    while len(set(labels)) < len(labels):
        label = next(lb for lb in labels if labels.count(lb) > 1)
        first, second = [d for d, lb in enumerate(labels) if lb == label][:2]
        rest = [d for d in range(len(labels)) if d not in (first, second)]
        x = permute(x, rest + [first, second])
        along = arange(x.shape[-1], device=x.device)
        x = x[..., along, along]
        labels = [labels[d] for d in rest] + [label]
    return x, labels


def _sum_out(x, labels, keep):
    """Sum over the labels not in `keep`."""
    gone = [d for d, label in enumerate(labels) if label not in keep]
    if gone:
        x = x.sum(gone)
        labels = [label for label in labels if label in keep]
    return x, labels


def _contract(a, a_labels, b, b_labels, needed):
    """The product of two operands, keeping the labels in `needed`."""
    shared = [lb for lb in a_labels if lb in b_labels]
    batch = [lb for lb in shared if lb in needed]
    summed = [lb for lb in shared if lb not in needed]
    rows = [lb for lb in a_labels if lb not in shared]
    cols = [lb for lb in b_labels if lb not in shared]
    size = dict(zip(a_labels, a.shape)) | dict(zip(b_labels, b.shape))

    def count(labels):
        n = 1
        for lb in labels:
            n *= size[lb]
        return n

    a = permute(a, [a_labels.index(lb) for lb in batch + rows + summed])
    b = permute(b, [b_labels.index(lb) for lb in batch + summed + cols])
    product = matmul(a.reshape(count(batch), count(rows), count(summed)),
                     b.reshape(count(batch), count(summed), count(cols)))
    labels = batch + rows + cols
    return product.reshape([size[lb] for lb in labels]), labels


@public()
@lower_precision
def einsum(equation, *operands):
    """Sum of products over the labels the output does not name ('ij,jk->ik' is a matrix
    product); operands may also come as one list, as in PyTorch."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    inputs, output = _parse(equation, operands)
    sizes = _sizes(inputs, operands)
    terms = []
    for i, (x, labels) in enumerate(zip(operands, inputs)):
        x = x.expand([sizes[lb] for lb in labels]) if tuple(x.shape) != tuple(
            sizes[lb] for lb in labels) else x
        x, labels = _diagonal(x, labels)
        later = set(output).union(*[set(lbs) for j, lbs in enumerate(inputs) if j != i])
        terms.append(_sum_out(x, labels, later))
    x, labels = terms[0]
    for k, (y, y_labels) in enumerate(terms[1:], start=1):
        needed = set(output).union(*[set(lbs) for _, lbs in terms[k + 1:]])
        x, labels = _contract(x, labels, y, y_labels, needed)
    x, labels = _sum_out(x, labels, set(output))
    if labels != output:
        x = permute(x, [labels.index(lb) for lb in output])
    return x
