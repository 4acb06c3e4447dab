"""Batches of sequences of different lengths: padding them to one length, and packing them
so that a recurrent layer runs each sequence only for its own length.

A PackedSequence holds the time steps one after another, each with only the sequences
still running at that step (`batch_sizes[t]` of them, longest first). Packing and
unpacking are indexing, cat and stack, so gradients flow through them unchanged.
"""
from collections import namedtuple

import engine


class PackedSequence(namedtuple("PackedSequence",
                                ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """data (total steps, *), batch_sizes (steps,), and, where packing had to sort the
    batch by length, the order it sorted into and the order that undoes it."""

    def __new__(cls, data, batch_sizes, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = engine.argsort(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        return self if data is self.data else self._replace(data=data)


def _lengths(lengths):
    values = lengths.tolist() if isinstance(lengths, engine.Tensor) else list(lengths)
    return [int(n) for n in values]


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded (T, B, *) batch (or (B, T, *) with batch_first) of the given lengths."""
    lengths = _lengths(lengths)
    if any(n <= 0 for n in lengths):
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           f"element in 'lengths' that is <= 0: {lengths}")
    x = input.transpose(0, 1) if batch_first else input
    if len(lengths) != x.shape[1]:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(lengths)} (batch_size={x.shape[1]})")
    if max(lengths) > x.shape[0]:
        raise RuntimeError(f"lengths {lengths} run past the padded length {x.shape[0]}")
    sorted_indices = None
    if enforce_sorted:
        if any(a < b for a, b in zip(lengths, lengths[1:])):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                               "`enforce_sorted` is True. You can pass `enforce_sorted=False` "
                               "to pack_padded_sequence and/or pack_sequence to sidestep this "
                               f"requirement. Got {lengths}")
    else:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        sorted_indices = engine.tensor(order, dtype=engine.int64)
        x = x.index_select(1, sorted_indices.to(x.device))
        lengths = [lengths[i] for i in order]
    batch_sizes = [sum(n > t for n in lengths) for t in range(lengths[0])]
    data = engine.cat([x[t, :size] for t, size in enumerate(batch_sizes)])
    return PackedSequence(data, engine.tensor(batch_sizes, dtype=engine.int64), sorted_indices)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """The inverse of packing: (padded batch, lengths), in the batch's original order."""
    data, batch_sizes = sequence.data, _lengths(sequence.batch_sizes)
    steps, batch = len(batch_sizes), batch_sizes[0]
    if total_length is not None:
        if total_length < steps:
            raise ValueError(f"Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {steps}")
        steps = total_length
    filler = engine.full((batch,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype,
                         device=data.device)
    rows, start = [], 0
    for t in range(steps):
        size = batch_sizes[t] if t < len(batch_sizes) else 0
        rows.append(engine.cat([data[start:start + size], filler[size:]]))
        start += size
    padded = engine.stack(rows)
    lengths = [sum(size > b for size in batch_sizes) for b in range(batch)]
    lengths = engine.tensor(lengths, dtype=engine.int64)
    if sequence.unsorted_indices is not None:
        padded = padded.index_select(1, sequence.unsorted_indices.to(padded.device))
        lengths = lengths[sequence.unsorted_indices]
    return (padded.transpose(0, 1) if batch_first else padded), lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors of shapes (L_i, *) into (max L, B, *) (or (B, max L, *)), padded."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        fill = engine.full((longest - s.shape[0],) + tuple(s.shape[1:]), padding_value,
                           dtype=s.dtype, device=s.device)
        padded.append(engine.cat([s, fill] if padding_side == "right" else [fill, s]))
    return engine.stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of tensors (L_i, *) directly."""
    sequences = list(sequences)
    return pack_padded_sequence(pad_sequence(sequences), [s.shape[0] for s in sequences],
                                enforce_sorted=enforce_sorted)
