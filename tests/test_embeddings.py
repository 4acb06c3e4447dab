"""Embedding.from_pretrained and EmbeddingBag against PyTorch: hypothesis over bags
(random offsets, empty bags, 2-d input, padding, include_last_offset, per-sample weights)
in every mode, values and the weight's gradient; the refusals."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from conftest import assert_close, needs_torch, torch
from test_properties import SETTINGS


@st.composite
def bags(draw):
    mode = draw(st.sampled_from(["sum", "mean", "max"]))
    padding_idx = draw(st.sampled_from([None, 0, -1]))
    if draw(st.booleans()):
        shape = (draw(st.integers(1, 3)), draw(st.integers(1, 4)))
        indices = draw(st.lists(st.integers(0, 5), min_size=shape[0] * shape[1],
                                max_size=shape[0] * shape[1]))
        return mode, padding_idx, False, np.array(indices).reshape(shape), None
    indices = draw(st.lists(st.integers(0, 5), max_size=8))
    cuts = sorted(draw(st.lists(st.integers(0, len(indices)), min_size=1, max_size=4)))
    offsets = [0] + cuts[1:]
    last = draw(st.booleans())
    if last:
        offsets.append(len(indices))
    return mode, padding_idx, last, np.array(indices, dtype=np.int64), np.array(offsets)


@needs_torch
@SETTINGS
@given(case=bags(), weighted=st.booleans(), seed=st.integers(0, 2**16))
def test_embedding_bag_matches_torch(case, weighted, seed):
    mode, padding_idx, last, indices, offsets = case
    weighted = weighted and mode == "sum"
    kwargs = dict(mode=mode, padding_idx=padding_idx, include_last_offset=last)
    theirs = torch.nn.EmbeddingBag(6, 3, **kwargs).double()
    ours = nn.EmbeddingBag(6, 3, **kwargs, dtype=engine.float64)
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({k: engine.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(seed)
    scale = rng.standard_normal(indices.shape) if weighted else None
    args_e = [engine.tensor(indices, dtype=engine.int64),
              None if offsets is None else engine.tensor(offsets)]
    args_t = [torch.tensor(indices, dtype=torch.int64),
              None if offsets is None else torch.tensor(offsets)]
    out_e = ours(*args_e, per_sample_weights=None if scale is None else engine.tensor(scale))
    out_t = theirs(*args_t, per_sample_weights=None if scale is None else torch.tensor(scale))
    assert_close(out_e, out_t, 1e-12, 1e-12, what=f"{mode} forward")
    w = rng.standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    assert_close(ours.weight.grad, theirs.weight.grad, 1e-12, 1e-12, what=f"{mode} grad")


@needs_torch
def test_from_pretrained_freezes_unless_asked_not_to():
    table = np.arange(12.0).reshape(4, 3)
    for cls in ("Embedding", "EmbeddingBag"):
        frozen = getattr(nn, cls).from_pretrained(engine.tensor(table))
        theirs = getattr(torch.nn, cls).from_pretrained(torch.tensor(table))
        assert repr(frozen) == repr(theirs) and not frozen.weight.requires_grad
        assert getattr(nn, cls).from_pretrained(engine.tensor(table),
                                                freeze=False).weight.requires_grad
    layer = nn.Embedding.from_pretrained(engine.tensor(table), padding_idx=1)
    assert layer(engine.tensor([1, 3])).tolist() == [[3.0, 4.0, 5.0], [9.0, 10.0, 11.0]]


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.EmbeddingBag(5, 2, mode="median"), ValueError, "mode has to be one of sum"),
    (lambda: nn.EmbeddingBag(5, 2)(engine.tensor([[1, 2]]), engine.tensor([0])),
     ValueError, "if input is 2D, then offsets has to be None"),
    (lambda: nn.EmbeddingBag(5, 2)(engine.tensor([1, 2])), ValueError,
     "offsets has to be a 1D Tensor"),
    (lambda: nn.EmbeddingBag(5, 2)(engine.tensor([1, 2]), engine.tensor([1])), RuntimeError,
     "offsets\\[0\\] has to be 0"),
    (lambda: nn.EmbeddingBag(5, 2)(engine.tensor([1, 2]), engine.tensor([0, 3])), RuntimeError,
     r"must be non-decreasing and at most the input's length 2"),
    (lambda: nn.EmbeddingBag(5, 2)(engine.tensor([1, 2]), engine.tensor([0]),
                                   per_sample_weights=engine.ones(2)),
     NotImplementedError, "only supported for mode='sum' \\(got mode='mean'\\)"),
    (lambda: nn.EmbeddingBag(5, 2)(engine.ones(1, 2, 2, dtype=engine.int64)), ValueError,
     r"1D or 2D Tensor, but got Tensor of dimension 3"),
    (lambda: nn.Embedding(5, 2, padding_idx=5), AssertionError,
     "Padding_idx must be within num_embeddings"),
    (lambda: nn.Embedding.from_pretrained(engine.ones(3)), ValueError,
     r"expected to be 2-dimensional, got shape \(3,\)"),
])
def test_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()
