"""Packed and padded sequences against PyTorch: hypothesis over batches of lengths,
sorted or not, through RNN, LSTM and GRU (stacked, bidirectional, batch_first, given
initial states): packed layout, outputs, final states and every gradient; pad_sequence;
the refusals."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from nn.utils import rnn as ours_rnn
from conftest import assert_close, needs_torch, torch, twin_modules
from test_properties import SETTINGS


@st.composite
def cases(draw):
    mode = draw(st.sampled_from(["RNN", "LSTM", "GRU"]))
    kwargs = dict(num_layers=draw(st.integers(1, 2)), bidirectional=draw(st.booleans()),
                  batch_first=draw(st.booleans()))
    lengths = draw(st.lists(st.integers(1, 5), min_size=1, max_size=4))
    enforce = draw(st.booleans())
    if enforce:
        lengths = sorted(lengths, reverse=True)
    return mode, kwargs, lengths, enforce, draw(st.booleans()), draw(st.integers(0, 2**16))


@needs_torch
@SETTINGS
@given(case=cases())
def test_recurrent_layers_over_packed_batches_match_torch(case):
    mode, kwargs, lengths, enforce, given_state, seed = case
    ours, theirs = twin_modules(mode, 3, 4, **kwargs)
    rng = np.random.default_rng(seed)
    steps, batch = max(lengths), len(lengths)
    x = rng.standard_normal((batch, steps, 3) if kwargs["batch_first"] else (steps, batch, 3))
    leaves_e, leaves_t = [engine.tensor(x, requires_grad=True)], [torch.tensor(
        x, requires_grad=True)]
    if given_state:
        shape = (kwargs["num_layers"] * (2 if kwargs["bidirectional"] else 1), batch, 4)
        for _ in range(2 if mode == "LSTM" else 1):
            h = rng.standard_normal(shape)
            leaves_e.append(engine.tensor(h, requires_grad=True))
            leaves_t.append(torch.tensor(h, requires_grad=True))
    packs = []
    for rnn, leaves in ((ours_rnn, leaves_e), (torch.nn.utils.rnn, leaves_t)):
        packs.append(rnn.pack_padded_sequence(leaves[0], lengths, kwargs["batch_first"],
                                              enforce_sorted=enforce))
    assert packs[0].batch_sizes.tolist() == packs[1].batch_sizes.tolist()
    assert_close(packs[0].data, packs[1].data, 0, 0, what="packed data")
    results = []
    for module, pack, leaves, rnn in ((ours, packs[0], leaves_e, ours_rnn),
                                      (theirs, packs[1], leaves_t, torch.nn.utils.rnn)):
        hx = None if not given_state else (tuple(leaves[1:]) if mode == "LSTM" else leaves[1])
        out, final = module(pack, hx)
        padded, found = rnn.pad_packed_sequence(out, kwargs["batch_first"], padding_value=0.5,
                                                total_length=steps + 1)
        finals = list(final) if mode == "LSTM" else [final]
        loss = (padded * padded).sum() + sum((f * f * (k + 2)).sum() for k, f in
                                             enumerate(finals))
        loss.backward()
        results.append((padded, found, finals))
    (padded_e, found_e, finals_e), (padded_t, found_t, finals_t) = results
    assert found_e.tolist() == found_t.tolist() == lengths
    assert_close(padded_e, padded_t, 1e-10, 1e-12, what="padded output")
    for k, (a, b) in enumerate(zip(finals_e, finals_t)):
        assert_close(a, b, 1e-10, 1e-12, what=f"final state {k}")
    for k, (a, b) in enumerate(zip(leaves_e, leaves_t)):
        assert_close(a.grad, b.grad, 1e-10, 1e-12, what=f"leaf {k} grad")
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, 1e-9, 1e-11, what=f"{name}.grad")


@needs_torch
@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, side):
    rng = np.random.default_rng(0)
    seqs = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]
    ours = ours_rnn.pad_sequence([engine.tensor(s) for s in seqs], batch_first, -1.0, side)
    theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first,
                                             -1.0, side)
    assert_close(ours, theirs, 0, 0)
    packed = ours_rnn.pack_sequence([engine.tensor(s) for s in seqs], enforce_sorted=False)
    assert packed.batch_sizes.tolist() == [3, 2, 1, 1]
    assert packed.sorted_indices.tolist() == [1, 0, 2]


@pytest.mark.parametrize("call, message", [
    (lambda: ours_rnn.pack_padded_sequence(engine.ones(3, 2, 1), [1, 2]),
     "must be sorted in decreasing order when `enforce_sorted` is True"),
    (lambda: ours_rnn.pack_padded_sequence(engine.ones(3, 2, 1), [2, 0]),
     "Length of all samples has to be greater than 0"),
    (lambda: ours_rnn.pack_padded_sequence(engine.ones(3, 2, 1), [3, 2, 1]),
     r"Expected `len\(lengths\)` to be equal to batch_size, but got 3 \(batch_size=2\)"),
    (lambda: ours_rnn.pack_padded_sequence(engine.ones(3, 2, 1), [4, 2]),
     r"lengths \[4, 2\] run past the padded length 3"),
    (lambda: ours_rnn.pad_packed_sequence(
        ours_rnn.pack_sequence([engine.ones(3, 1)]), total_length=2),
     "Expected total_length to be at least the length of the longest sequence"),
    (lambda: nn.GRU(2, 3)(ours_rnn.pack_sequence([engine.ones(3, 1)])),
     "input.size\\(-1\\) must be equal to input_size. Expected 2, got 1"),
])
def test_refusals(call, message):
    with pytest.raises((RuntimeError, ValueError), match=message):
        call()
