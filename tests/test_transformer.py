"""MultiheadAttention and the Transformer stacks against PyTorch with the same weights:
reprs, state dict names, outputs, attention weights and every gradient, across layouts,
projections, masks and norm placement; their refusals; a few training steps."""
import warnings

import numpy as np
import pytest

import engine
import nn
import optim
from conftest import assert_close, needs_torch, torch, twin_modules

pytestmark = needs_torch
L, S, N, E = 4, 5, 3, 8


def _leaves(arrays):
    return ([engine.tensor(a, requires_grad=a.dtype == np.float64) for a in arrays],
            [torch.tensor(a, requires_grad=a.dtype == np.float64) for a in arrays])


def _same_gradients(ours, theirs, inputs_e, inputs_t, outs_e, outs_t):
    rng = np.random.default_rng(1)
    loss_e = loss_t = 0
    for oe, ot in zip(outs_e, outs_t):
        w = rng.standard_normal(tuple(ot.shape))
        loss_e = loss_e + (oe * engine.tensor(w)).sum()
        loss_t = loss_t + (ot * torch.tensor(w)).sum()
    loss_e.backward()
    loss_t.backward()
    for i, (a, b) in enumerate(zip(inputs_e, inputs_t)):
        if b.requires_grad:
            assert_close(a.grad, b.grad, 1e-9, 1e-11, what=f"input {i} grad")
    theirs_named = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad, theirs_named[name].grad, 1e-9, 1e-11, what=f"{name}.grad")


def _bool(shape, rng, p=0.3):
    mask = rng.random(shape) < p
    mask[..., 0] = False  # every query keeps one key, so no row is all -inf
    return mask


MASKS = {
    "none": lambda rng: {},
    "bool_attn_2d": lambda rng: dict(attn_mask=_bool((L, S), rng)),
    "float_attn_3d": lambda rng: dict(attn_mask=rng.standard_normal((N * 2, L, S))),
    "bool_padding": lambda rng: dict(key_padding_mask=_bool((N, S), rng)),
    "both_float": lambda rng: dict(attn_mask=rng.standard_normal((L, S)),
                                   key_padding_mask=np.where(_bool((N, S), rng), -1e9, 0.0)),
}
CONFIGS = {
    "default": dict(),
    "batch_first": dict(batch_first=True),
    "no_bias": dict(bias=False),
    "kdim_vdim": dict(kdim=3, vdim=6),
    "bias_kv": dict(add_bias_kv=True),
    "zero_attn": dict(add_zero_attn=True),
}


@pytest.mark.parametrize("mask", list(MASKS))
@pytest.mark.parametrize("config", list(CONFIGS))
def test_multihead_attention_matches_torch(config, mask):
    kwargs = CONFIGS[config]
    ours, theirs = twin_modules("MultiheadAttention", E, 2, **kwargs)
    rng = np.random.default_rng(0)
    shape = (lambda n, s, e: (n, s, e)) if kwargs.get("batch_first") else (
        lambda n, s, e: (s, n, e))
    arrays = [rng.standard_normal(shape(N, L, E)),
              rng.standard_normal(shape(N, S, kwargs.get("kdim", E))),
              rng.standard_normal(shape(N, S, kwargs.get("vdim", E)))]
    masks = MASKS[mask](rng)
    (q_e, k_e, v_e), (q_t, k_t, v_t) = _leaves(arrays)
    masks_e = {k: engine.tensor(v) for k, v in masks.items()}
    masks_t = {k: torch.tensor(v) for k, v in masks.items()}
    out_e, w_e = ours(q_e, k_e, v_e, **masks_e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch frowns on mixing mask kinds; both still work
        out_t, w_t = theirs(q_t, k_t, v_t, **masks_t)
    assert_close(out_e, out_t, 1e-10, 1e-12, what="output")
    assert_close(w_e, w_t, 1e-10, 1e-12, what="weights")
    _same_gradients(ours, theirs, [q_e, k_e, v_e], [q_t, k_t, v_t], [out_e, w_e],
                    [out_t, w_t])


@pytest.mark.parametrize("case", ["self_attention", "unbatched", "per_head_weights",
                                  "no_weights"])
def test_multihead_attention_call_forms(case):
    ours, theirs = twin_modules("MultiheadAttention", E, 4)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((L, E) if case == "unbatched" else (L, N, E))
    (x_e,), (x_t,) = _leaves([x])
    kwargs = {"per_head_weights": dict(average_attn_weights=False),
              "no_weights": dict(need_weights=False)}.get(case, {})
    out_e, w_e = ours(x_e, x_e, x_e, **kwargs)
    out_t, w_t = theirs(x_t, x_t, x_t, **kwargs)
    assert_close(out_e, out_t, 1e-10, 1e-12, what="output")
    if case == "no_weights":
        assert w_e is None and w_t is None
        outs_e, outs_t = [out_e], [out_t]
    else:
        assert_close(w_e, w_t, 1e-10, 1e-12, what="weights")
        outs_e, outs_t = [out_e, w_e], [out_t, w_t]
    _same_gradients(ours, theirs, [x_e], [x_t], outs_e, outs_t)


def test_attention_dropout_acts_only_while_training():
    mha = nn.MultiheadAttention(E, 2, dropout=0.5)
    x = engine.randn(L, N, E)
    engine.manual_seed(0)
    first, weights = mha(x, x, x)
    assert (weights == 0).any().item()
    mha.eval()
    assert engine.allclose(mha(x, x, x)[0], mha(x, x, x)[0])
    assert not engine.allclose(first, mha(x, x, x)[0])


LAYERS = {
    "encoder_post_norm": ("TransformerEncoderLayer", dict()),
    "encoder_pre_norm_gelu": ("TransformerEncoderLayer",
                              dict(norm_first=True, activation="gelu", batch_first=True)),
    "decoder_post_norm": ("TransformerDecoderLayer", dict()),
    "decoder_pre_norm_no_bias": ("TransformerDecoderLayer", dict(norm_first=True, bias=False)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_transformer_layers_match_torch(name):
    cls, kwargs = LAYERS[name]
    ours, theirs = twin_modules(cls, E, 2, dim_feedforward=16, dropout=0.0, **kwargs)
    rng = np.random.default_rng(3)
    batch_first = kwargs.get("batch_first")
    tgt = rng.standard_normal((N, L, E) if batch_first else (L, N, E))
    arrays = [tgt]
    masks = dict(src_key_padding_mask=_bool((N, L), rng))
    if cls == "TransformerDecoderLayer":
        arrays.append(rng.standard_normal((S, N, E)))
        masks = dict(tgt_mask=nn.Transformer.generate_square_subsequent_mask(L).numpy(),
                     memory_key_padding_mask=_bool((N, S), rng), tgt_is_causal=True)
    inputs_e, inputs_t = _leaves(arrays)
    out_e = ours(*inputs_e, **{k: engine.tensor(v) if isinstance(v, np.ndarray) else v
                               for k, v in masks.items()})
    out_t = theirs(*inputs_t, **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v
                                 for k, v in masks.items()})
    assert_close(out_e, out_t, 1e-10, 1e-12, what="output")
    _same_gradients(ours, theirs, inputs_e, inputs_t, [out_e], [out_t])


def test_the_whole_transformer_matches_torch():
    kwargs = dict(d_model=E, nhead=2, num_encoder_layers=2, num_decoder_layers=1,
                  dim_feedforward=16, dropout=0.0)
    ours, theirs = twin_modules("Transformer", **kwargs)
    rng = np.random.default_rng(4)
    (src_e, tgt_e), (src_t, tgt_t) = _leaves([rng.standard_normal((S, N, E)),
                                              rng.standard_normal((L, N, E))])
    causal_e = nn.Transformer.generate_square_subsequent_mask(L)
    causal_t = torch.nn.Transformer.generate_square_subsequent_mask(L)
    assert causal_e.tolist() == causal_t.tolist()
    padding = _bool((N, S), rng)
    out_e = ours(src_e, tgt_e, tgt_mask=causal_e, src_key_padding_mask=engine.tensor(padding),
                 memory_key_padding_mask=engine.tensor(padding))
    out_t = theirs(src_t, tgt_t, tgt_mask=causal_t, src_key_padding_mask=torch.tensor(padding),
                   memory_key_padding_mask=torch.tensor(padding))
    assert_close(out_e, out_t, 1e-10, 1e-12, what="output")
    _same_gradients(ours, theirs, [src_e, tgt_e], [src_t, tgt_t], [out_e], [out_t])


def test_init_is_pytorchs():
    engine.manual_seed(0)
    model = nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=32)
    attention = model.encoder.layers[0].self_attn
    bound = np.sqrt(6 / (16 + 48))  # Glorot-uniform over the packed (48, 16) projection
    assert 0.9 * bound < attention.in_proj_weight.abs().max().item() <= bound
    assert attention.in_proj_bias.abs().sum().item() == 0
    first, second = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2), 2).layers
    assert first.linear1.weight is not second.linear1.weight  # copies, not one layer twice
    assert first.linear1.weight.tolist() == second.linear1.weight.tolist()


def test_an_encoder_classifier_trains_step_for_step_like_torch():
    def model(m, dtype):
        layer = m.nn.TransformerEncoderLayer(E, 2, dim_feedforward=16, dropout=0.0,
                                             batch_first=True, dtype=dtype)
        return m.nn.Sequential(m.nn.TransformerEncoder(layer, 2), m.nn.Flatten(),
                               m.nn.Linear(L * E, 3, dtype=dtype))

    theirs, ours = model(torch, torch.float64), model(engine, engine.float64)
    ours.load_state_dict({k: engine.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((6, L, E)), rng.integers(0, 3, 6)
    runs = [(ours, optim.Adam(ours.parameters(), lr=1e-2), engine, []),
            (theirs, torch.optim.Adam(theirs.parameters(), lr=1e-2), torch, [])]
    for _ in range(5):
        for net, opt, m, losses in runs:
            opt.zero_grad()
            loss = m.nn.functional.cross_entropy(net(m.tensor(x)), m.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
    losses_e, losses_t = runs[0][3], runs[1][3]
    np.testing.assert_allclose(losses_e, losses_t, rtol=1e-9)
    assert losses_e[-1] < losses_e[0]


@pytest.mark.parametrize("build, call, error, message", [
    (lambda: nn.MultiheadAttention(10, 3), None, AssertionError,
     "divisible by num_heads, got embed_dim=10 and num_heads=3"),
    (lambda: nn.MultiheadAttention(0, 2), None, ValueError, "greater than 0"),
    (lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"), None, RuntimeError,
     "relu/gelu, not tanh"),
    (lambda: nn.MultiheadAttention(8, 2), lambda m: m(*[engine.ones(2, 3, 4, 8)] * 3),
     AssertionError, "unbatched 2D or batched 3D tensor but received 4-D"),
    (lambda: nn.MultiheadAttention(8, 2), lambda m: m(*[engine.ones(4, 3, 6)] * 3),
     AssertionError, r"embedding dimension of 8, but got 6 \(query \(4, 3, 6\)\)"),
    (lambda: nn.MultiheadAttention(8, 2),
     lambda m: m(engine.ones(4, 3, 8), engine.ones(5, 3, 8), engine.ones(6, 3, 8)),
     AssertionError, r"\(5, 3\) do not match value's \(6, 3\)"),
    (lambda: nn.MultiheadAttention(8, 2),
     lambda m: m(*[engine.ones(4, 3, 8)] * 3, attn_mask=engine.ones(4, 5)),
     RuntimeError, r"attn_mask is \(4, 5\), but should be \(4, 4\) or \(6, 4, 4\)"),
    (lambda: nn.MultiheadAttention(8, 2),
     lambda m: m(*[engine.ones(4, 3, 8)] * 3, attn_mask=engine.ones(4, 4, dtype=engine.int64)),
     AssertionError, "only bool and floating types of attn_mask are supported"),
    (lambda: nn.MultiheadAttention(8, 2),
     lambda m: m(*[engine.ones(4, 3, 8)] * 3, key_padding_mask=engine.ones(3, 5).bool()),
     RuntimeError, r"key_padding_mask of shape \(3, 4\), got \(3, 5\)"),
    (lambda: nn.MultiheadAttention(8, 2), lambda m: m(*[engine.ones(4, 3, 8)] * 3,
                                                     is_causal=True),
     RuntimeError, "Need attn_mask if specifying the is_causal hint"),
    (lambda: nn.Transformer(8, 2, 1, 1, 16),
     lambda m: m(engine.ones(4, 3, 8), engine.ones(4, 2, 8)), RuntimeError,
     r"batch number of src and tgt must be equal, got src \(4, 3, 8\) and tgt \(4, 2, 8\)"),
])
def test_refusals_name_the_shapes(build, call, error, message):
    with pytest.raises(error, match=message):
        module = build()
        call(module)
