"""F.scaled_dot_product_attention against PyTorch: shapes with heads and broadcast masks,
bool and float masks, causal attention with more keys than queries, scale, gradients of
query, key and value, dropout, and the refusals."""
import numpy as np
import pytest

import engine
import nn
from conftest import assert_close, needs_torch, torch

F = nn.functional


def _mask(kind, rng, shape):
    if kind == "bool":
        mask = rng.random(shape) > 0.3
        mask[..., 0] = True  # every query may see some key: no all -inf row
        return mask
    return rng.standard_normal(shape) if kind == "float" else None


@needs_torch
@pytest.mark.parametrize("shapes", [((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)),
                                    ((4, 5), (6, 5), (6, 3)),
                                    ((1, 2, 5, 4), (2, 1, 5, 4), (2, 1, 5, 4))])
@pytest.mark.parametrize("mask,is_causal,scale", [(None, False, None), ("bool", False, None),
                                                 ("float", False, 0.3), (None, True, None)])
def test_attention_matches_torch(shapes, mask, is_causal, scale):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    m = _mask(mask, rng, (shapes[0][-2], shapes[1][-2]))
    ours = [engine.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_e = F.scaled_dot_product_attention(*ours, attn_mask=None if m is None else
                                           engine.tensor(m), is_causal=is_causal, scale=scale)
    out_t = torch.nn.functional.scaled_dot_product_attention(
        *theirs, attn_mask=None if m is None else torch.tensor(m), is_causal=is_causal,
        scale=scale)
    assert_close(out_e, out_t, 1e-10, 1e-12, what="attention")
    weights = rng.standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(weights)).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    for name, a, b in zip("qkv", ours, theirs):
        assert_close(a.grad, b.grad, 1e-9, 1e-11, what=f"gradient of {name}")


def test_dropout_drops_attention_weights():
    engine.manual_seed(0)
    q = engine.randn(2, 8, 4)
    kept = F.scaled_dot_product_attention(q, q, engine.ones(2, 8, 1))
    dropped = F.scaled_dot_product_attention(q, q, engine.ones(2, 8, 1), dropout_p=0.5)
    np.testing.assert_allclose(kept.numpy(), 1.0, rtol=1e-6)  # weights sum to 1 per query
    assert not np.allclose(dropped.numpy(), 1.0)


@pytest.mark.parametrize("kwargs,message", [
    (dict(attn_mask=engine.ones(3, 3, dtype=engine.bool), is_causal=True), "not both"),
    (dict(enable_gqa=True), "enable_gqa is not supported"),
])
def test_refusals(kwargs, message):
    q = engine.ones(3, 4)
    with pytest.raises(RuntimeError, match=message):
        F.scaled_dot_product_attention(q, q, q, **kwargs)
    with pytest.raises(RuntimeError, match=r"query \(3, 4\), key \(3, 5\) and value"):
        F.scaled_dot_product_attention(q, engine.ones(3, 5), q)
