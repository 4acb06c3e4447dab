"""torch.amp against PyTorch: autocast's per-op policy on the CPU (dtypes, values,
gradients, the parameter-cast cache, nesting), and GradScaler's scale, skipped steps and
errors, step for step."""
import warnings

import numpy as np
import pytest

import engine
from engine import nn
from conftest import needs_torch, torch

pytestmark = needs_torch

RNG = np.random.default_rng(0)
X = RNG.standard_normal((4, 4)).astype(np.float32)
X3 = RNG.standard_normal((2, 4, 4)).astype(np.float32)
IMG = RNG.standard_normal((1, 4, 5, 5)).astype(np.float32)
K2 = RNG.standard_normal((4, 4, 3, 3)).astype(np.float32) * 0.3
SEQ = RNG.standard_normal((1, 4, 6)).astype(np.float32)
K1 = RNG.standard_normal((4, 4, 3)).astype(np.float32) * 0.3
P = RNG.random((4, 4)).astype(np.float32) * 0.8 + 0.1
SPD = (X @ X.T + 4 * np.eye(4)).astype(np.float32)


def F(m):
    return m.nn.functional


# Each op on float32 operands in an autocast region: the products and convolutions come
# out in the region's dtype, the rest as PyTorch decides (float32 here).
FLOAT32_IN = {
    "matmul": lambda m, t: t(X) @ t(X).T,
    "mm": lambda m, t: m.mm(t(X), t(X)),
    "bmm": lambda m, t: m.bmm(t(X3), t(X3)),
    "addmm": lambda m, t: m.addmm(t(X[0]), t(X), t(X)),
    "baddbmm": lambda m, t: m.baddbmm(t(X3), t(X3), t(X3)),
    "linear": lambda m, t: F(m).linear(t(X), t(X), t(X[1])),
    "conv1d": lambda m, t: F(m).conv1d(t(SEQ), t(K1), padding=1),
    "conv2d": lambda m, t: F(m).conv2d(t(IMG), t(K2)),
    "conv_transpose1d": lambda m, t: F(m).conv_transpose1d(t(SEQ), t(K1)),
    "conv_transpose2d": lambda m, t: F(m).conv_transpose2d(t(IMG), t(K2)),
    "prelu": lambda m, t: F(m).prelu(t(X), t(np.array([0.25], np.float32))),
    "einsum": lambda m, t: m.einsum("ij,jk->ik", t(X), t(X)),
    "sdpa": lambda m, t: F(m).scaled_dot_product_attention(t(X3), t(X3), t(X3)),
    "softmax": lambda m, t: m.softmax(t(X), 1),
    "layer_norm": lambda m, t: F(m).layer_norm(t(X), (4,)),
    "gelu": lambda m, t: F(m).gelu(t(X)),
    "sum": lambda m, t: t(X).sum(),
    "cat": lambda m, t: m.cat([t(X), t(X) @ t(X)]),
}
# Each op on bfloat16 operands in a region: the losses, products of many terms and
# factorisations come out in float32; the others keep bfloat16.
NARROW_IN = {
    "mse_loss": lambda m, t: F(m).mse_loss(t(X), t(P)),
    "l1_loss": lambda m, t: F(m).l1_loss(t(X), t(P)),
    "smooth_l1_loss": lambda m, t: F(m).smooth_l1_loss(t(X), t(P)),
    "huber_loss": lambda m, t: F(m).huber_loss(t(X), t(P)),
    "cross_entropy": lambda m, t: F(m).cross_entropy(t(X), m.tensor([0, 3, 1, 2])),
    "nll_loss": lambda m, t: F(m).nll_loss(t(X), m.tensor([0, 3, 1, 2])),
    "kl_div": lambda m, t: F(m).kl_div(t(X), t(P), reduction="batchmean"),
    "bce": lambda m, t: F(m).binary_cross_entropy(t(P), t(P)),
    "bce_with_logits": lambda m, t: F(m).binary_cross_entropy_with_logits(t(X), t(P)),
    "margin_ranking": lambda m, t: F(m).margin_ranking_loss(t(X[0]), t(X[1]), t(P[0])),
    "soft_margin": lambda m, t: F(m).soft_margin_loss(t(X), t(P)),
    "triplet": lambda m, t: F(m).triplet_margin_loss(t(X), t(P), t(X.T)),
    "cosine_embedding": lambda m, t: F(m).cosine_embedding_loss(t(X), t(P), m.ones(4)),
    "hinge_embedding": lambda m, t: F(m).hinge_embedding_loss(t(X), t(P)),
    "poisson_nll": lambda m, t: F(m).poisson_nll_loss(t(X), t(P)),
    "multi_margin": lambda m, t: F(m).multi_margin_loss(t(X), m.tensor([0, 3, 1, 2])),
    "cdist": lambda m, t: m.cdist(t(X), t(P)),
    "prod": lambda m, t: t(P).prod(),
    "trace": lambda m, t: t(X).trace(),
    "inv": lambda m, t: m.linalg.inv(t(SPD)),
    "cholesky": lambda m, t: m.linalg.cholesky(t(SPD)),
    "softmax": lambda m, t: m.softmax(t(X), 1),
    "exp": lambda m, t: t(X).exp(),
    "sum": lambda m, t: t(X).sum(),
    "layer_norm": lambda m, t: F(m).layer_norm(t(X), (4,)),
    "gaussian_nll": lambda m, t: F(m).gaussian_nll_loss(t(X), t(P), t(P)),
}


def _maker(m, dtype):
    def make(array):
        return m.tensor(array).to(getattr(m, dtype))
    return make


def _run(m, cases, name, input_dtype, region_dtype):
    make = _maker(m, input_dtype)
    with m.autocast("cpu", dtype=getattr(m, region_dtype)):
        return cases[name](m, make)


@pytest.mark.parametrize("region", ["bfloat16", "float16"])
@pytest.mark.parametrize("name, cases, input_dtype",
                         [(n, FLOAT32_IN, "float32") for n in FLOAT32_IN]
                         + [(n, NARROW_IN, "bfloat16") for n in NARROW_IN],
                         ids=[f"f32-{n}" for n in FLOAT32_IN] + [f"bf16-{n}" for n in NARROW_IN])
def test_autocast_policy_matches_torch(name, cases, input_dtype, region):
    ours = _run(engine, cases, name, input_dtype, region)
    theirs = _run(torch, cases, name, input_dtype, region)
    assert str(ours.dtype) == str(theirs.dtype), name
    a, b = ours.detach().float().numpy(), theirs.detach().float().numpy()
    scale = max(1.0, float(np.abs(b).max()))
    np.testing.assert_allclose(a, b, rtol=2e-2, atol=2e-2 * scale)


def test_a_training_step_under_autocast_matches_torch():
    """Forward and loss in the region, backward after it: float32 parameters get float32
    gradients through the casts, and the step follows PyTorch's."""
    engine.manual_seed(0)
    ours = nn.Sequential(nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(72, 5))
    theirs = torch.nn.Sequential(torch.nn.Conv2d(4, 8, 3), torch.nn.ReLU(),
                                 torch.nn.Flatten(), torch.nn.Linear(72, 5))
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy())
                            for k, v in ours.state_dict().items()})
    images = RNG.standard_normal((6, 4, 5, 5)).astype(np.float32)
    labels = RNG.integers(0, 5, 6)
    losses = {}
    for m, model in ((engine, ours), (torch, theirs)):
        opt = m.optim.SGD(model.parameters(), lr=0.05)
        losses[m] = []
        for _ in range(8):
            opt.zero_grad()
            with m.autocast("cpu"):
                out = model(m.tensor(images))
                assert out.dtype is m.bfloat16
                loss = F(m).cross_entropy(out, m.tensor(labels))
                assert loss.dtype is m.float32
            loss.backward()
            assert all(p.grad.dtype is m.float32 for p in model.parameters())
            opt.step()
            losses[m].append(loss.item())
    np.testing.assert_allclose(losses[engine], losses[torch], rtol=2e-2)
    assert losses[engine][-1] < losses[engine][0]
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), atol=2e-2)


def _count(fn, name, seen):
    if fn is None or fn in seen:
        return 0
    seen.add(fn)
    return (fn.name() == name) + sum(_count(f, name, seen) for f, _ in fn.next_functions)


@pytest.mark.parametrize("cache_enabled", [True, False])
def test_parameter_casts_are_cached_within_a_region(cache_enabled):
    """A layer used twice in one region casts its parameters once (PyTorch's cache),
    unless cache_enabled=False."""
    counts = []
    for m in (engine, torch):
        layer = m.nn.Linear(4, 4)
        with m.autocast("cpu", cache_enabled=cache_enabled):
            y = layer(layer(m.tensor(X))).sum()
        counts.append(_count(y.grad_fn, "ToCopyBackward0", set()))
    assert counts[0] == counts[1] == (2 if cache_enabled else 4)


def test_regions_nest_and_report_their_state():
    x = engine.tensor(X)
    assert not engine.is_autocast_enabled("cpu") and not engine.is_autocast_enabled()
    assert engine.get_autocast_dtype("cpu") is engine.bfloat16
    with engine.autocast("cpu", dtype=engine.float16):
        assert engine.is_autocast_enabled("cpu")
        assert engine.get_autocast_dtype("cpu") is engine.float16
        assert (x @ x).dtype is engine.float16
        with engine.autocast("cpu", enabled=False):
            assert not engine.is_autocast_enabled("cpu")
            assert (x @ x).dtype is engine.float32
        assert (x.double() @ x.double()).dtype is engine.float64  # double is left alone
    assert engine.get_autocast_dtype("cpu") is engine.bfloat16

    @engine.autocast("cpu")
    def product(a):
        return a @ a

    assert product(x).dtype is engine.bfloat16 and (x @ x).dtype is engine.float32
    with engine.cpu.amp.autocast():
        assert (x @ x).dtype is engine.bfloat16


def test_backward_inside_a_region_runs_in_the_forward_dtypes():
    layer = nn.Linear(4, 3)
    with engine.autocast("cpu"):
        loss = layer(engine.tensor(X)).float().sum()
        loss.backward()
    assert layer.weight.grad.dtype is engine.float32
    with torch.autocast("cpu"):
        twin = torch.nn.Linear(4, 3)
        twin.load_state_dict({k: torch.tensor(v.detach().numpy())
                              for k, v in layer.state_dict().items()})
        twin(torch.tensor(X)).float().sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), twin.weight.grad.numpy(), rtol=1e-2)


def test_unsupported_regions_warn_or_refuse_in_words():
    with pytest.warns(UserWarning, match="dtype is not supported"):
        region = engine.autocast("cpu", dtype=engine.float64)
    with region:
        assert not engine.is_autocast_enabled("cpu")
    with pytest.raises(RuntimeError, match="device_type must be one of cpu, cuda"):
        engine.autocast("tpu")
    if engine.cuda.is_available():  # the CUDA simulator counts as a GPU
        with pytest.raises(RuntimeError, match="float16 kernels on the GPU"):
            engine.autocast("cuda")


def test_compiled_functions_guard_on_autocast():
    layer = nn.Linear(4, 4)
    compiled = engine.compile(lambda x: layer(x).relu())
    x = engine.tensor(X)
    assert compiled(x).dtype is engine.float32
    with engine.autocast("cpu"):
        assert compiled(x).dtype is engine.bfloat16
    assert compiled(x).dtype is engine.float32
    assert "autocast" in compiled.explain()


# ---- GradScaler ------------------------------------------------------------------------

def _scaled_training(m, poisoned, growth_interval=3, steps=10):
    """Scales, skipped steps and parameters of a loop whose gradients are made inf at
    the steps in `poisoned` (as a float16 overflow would make them)."""
    m.manual_seed(0)
    model = m.nn.Linear(4, 2)
    model.load_state_dict({"weight": m.tensor(X[:2]), "bias": m.tensor(X[2, :2])})
    opt = m.optim.SGD(model.parameters(), lr=0.1)
    scaler = m.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=growth_interval)
    record = []
    for step in range(steps):
        opt.zero_grad()
        loss = F(m).mse_loss(model(m.tensor(X)), m.tensor(P[:, :2]))
        scaler.scale(loss).backward()
        if step in poisoned:
            with m.no_grad():
                model.weight.grad[0, 0] = float("inf")
        result = scaler.step(opt)
        scaler.update()
        record.append((scaler.get_scale(), result, scaler.state_dict()["_growth_tracker"]))
    return record, [p.detach().numpy().copy() for p in model.parameters()], scaler


def test_grad_scaler_follows_torch_step_for_step():
    ours, ours_params, ours_scaler = _scaled_training(engine, poisoned={2, 3, 7})
    theirs, theirs_params, theirs_scaler = _scaled_training(torch, poisoned={2, 3, 7})
    assert ours == theirs
    assert ours_scaler.state_dict() == theirs_scaler.state_dict()
    for a, b in zip(ours_params, theirs_params):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    scales = [s for s, _, _ in ours]
    assert scales[2] == 512.0 and scales[3] == 256.0 and scales[6] == 512.0  # grown


def test_grad_scaler_state_round_trips_and_unscale_exposes_true_gradients():
    _, _, scaler = _scaled_training(engine, poisoned={1}, steps=4)
    fresh = engine.amp.GradScaler("cpu")
    fresh.load_state_dict(scaler.state_dict())
    assert fresh.state_dict() == scaler.state_dict()
    model = nn.Linear(4, 2)
    opt = engine.optim.SGD(model.parameters(), lr=0.1)
    loss = model(engine.tensor(X)).sum()
    fresh.scale(loss).backward()
    scaled = model.weight.grad.numpy().copy()
    fresh.unscale_(opt)
    np.testing.assert_allclose(model.weight.grad.numpy() * fresh.get_scale(), scaled,
                               rtol=1e-6)


def test_grad_scaler_refuses_misuse_in_words():
    model = nn.Linear(4, 2)
    opt = engine.optim.SGD(model.parameters(), lr=0.1)
    scaler = engine.amp.GradScaler("cpu")
    with pytest.raises(AssertionError, match="did not use scaler.scale"):
        scaler.update()
    scaler.scale(model(engine.tensor(X)).sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called on this optimizer"):
        scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        scaler.step(opt, closure=lambda: 0)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="unscale_\\(\\) is being called after step"):
        scaler.unscale_(opt)
    scaler.update()
    with pytest.raises(RuntimeError, match="source state dict is empty"):
        scaler.load_state_dict({})
    half = nn.Linear(4, 2).half()
    half_opt = engine.optim.SGD(half.parameters(), lr=0.1)
    scaler.scale(half(engine.tensor(X).half()).float().sum()).backward()
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.unscale_(half_opt)
    with pytest.raises(ValueError, match="growth factor"):
        engine.amp.GradScaler("cpu", growth_factor=0.5)


def test_a_disabled_scaler_passes_everything_through():
    model = nn.Linear(4, 2)
    opt = engine.optim.SGD(model.parameters(), lr=0.1)
    scaler = engine.amp.GradScaler("cpu", enabled=False)
    loss = model(engine.tensor(X)).sum()
    assert scaler.scale(loss) is loss
    before = model.weight.detach().numpy().copy()
    loss.backward()
    scaler.step(opt)
    scaler.update()
    assert not np.array_equal(before, model.weight.detach().numpy())
    assert scaler.get_scale() == 1.0 and scaler.state_dict() == {}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert engine.cuda.amp.GradScaler().is_enabled() == engine.cuda.is_available()
