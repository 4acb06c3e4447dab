"""PyTorch's collate rules: how a list of samples becomes one batch.

Tensors, numpy arrays and numbers are stacked into tensors (floats as float64, ints as
int64, bools as bool); strings and bytes stay lists; dicts, namedtuples, tuples and
lists are collated field by field (tuples come back as lists, as in PyTorch).
"""
import collections.abc
import numbers

import numpy as np

import engine
from engine import Tensor


def _not_collatable(elem):
    return TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                     f"dicts or lists; found {type(elem)}")


def _is_namedtuple(obj):
    return isinstance(obj, tuple) and hasattr(obj, "_fields")


def default_collate(batch):
    elem = batch[0]
    if isinstance(elem, Tensor):
        return engine.stack(batch, 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OUSV":
            raise _not_collatable(elem)
        return default_collate([engine.as_tensor(b) for b in batch])
    if isinstance(elem, np.generic) and elem.shape == ():
        if elem.dtype.kind in "OUSV":
            raise _not_collatable(elem)
        return engine.tensor(np.array(batch))
    if isinstance(elem, bool):
        return engine.tensor(batch, dtype=engine.bool)
    if isinstance(elem, float):
        return engine.tensor(batch, dtype=engine.float64)
    if isinstance(elem, numbers.Integral):
        return engine.tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(sample) != size for sample in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        # Each column is the tuple zip made (so strings there stay a tuple, as in PyTorch).
        columns = [default_collate(s) for s in zip(*batch)]
        if isinstance(elem, tuple):
            return columns
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise _not_collatable(elem)


def default_convert(data):
    """Convert numpy arrays (at any depth) to tensors, leaving everything else as it is:
    what the DataLoader applies to each sample when automatic batching is off."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "OUSV" else engine.as_tensor(data)
    if isinstance(data, np.generic) and data.dtype.kind not in "OUSV":
        return engine.as_tensor(np.array(data))
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(value) for key, value in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def pin_memory(data):
    """The batch with every CPU tensor copied into pinned memory (the DataLoader's
    pin_memory=True), so that `.cuda()` on it is a direct DMA transfer."""
    if isinstance(data, Tensor):
        return data.pin_memory()
    if isinstance(data, collections.abc.Mapping):
        return type(data)({key: pin_memory(value) for key, value in data.items()})
    if _is_namedtuple(data):
        return type(data)(*(pin_memory(d) for d in data))
    if isinstance(data, (list, tuple)):
        return type(data)(pin_memory(d) for d in data)
    return data
