"""Tensors inside nested tuples, lists and dicts: the trees that the function transforms,
engine.compile and vmap take and return, walked in one order everywhere."""
from .tensor import Tensor

LEAF = object()  # where a tensor stood, in a tree kept without its tensors (skeleton)


def leaves(tree):
    """The tree's tensors, in order."""
    if isinstance(tree, Tensor):
        return [tree]
    if isinstance(tree, (tuple, list)):
        return [leaf for item in tree for leaf in leaves(item)]
    if isinstance(tree, dict):
        return [leaf for item in tree.values() for leaf in leaves(item)]
    return []


def rebuild(tree, new):
    """`tree` with each tensor (or LEAF) replaced, in order, by the next of iterator
    `new`. Tuples come back as tuples, named tuples as their own type."""
    if isinstance(tree, Tensor) or tree is LEAF:
        return next(new)
    if isinstance(tree, tuple):
        items = [rebuild(item, new) for item in tree]
        return type(tree)(*items) if hasattr(tree, "_fields") else tuple(items)
    if isinstance(tree, list):
        return [rebuild(item, new) for item in tree]
    if isinstance(tree, dict):
        return {key: rebuild(item, new) for key, item in tree.items()}
    return tree


def skeleton(tree):
    """The tree with its tensors replaced by LEAF: its shape, without keeping the
    tensors' memory alive (a compiled entry holds it between calls)."""
    return rebuild(tree, iter([LEAF] * len(leaves(tree))))
