"""float16 and bfloat16 tensors against PyTorch: every op of the table, conversions,
promotion, printing, checkpoints, optimizers and compiled steps.

Their kernels compute in float32 and round each result once (kernels.cpu.narrow), as
PyTorch's CPU kernels do, so elementwise results are compared bit for bit and the rest
(sums, products, softmax: accumulated in another order) within one or two units in the
last place of the narrow type.
"""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine import nn, optim
from op_specs import SPECS, make_array
from conftest import needs_torch, torch
from test_properties import SETTINGS

pytestmark = needs_torch
NARROW = ["bfloat16", "float16"]
# Four unit roundoffs (two units in the last place), relative, and absolute at the scale
# of the largest value compared: a value found by cancellation is only that exact.
TOLERANCE = {"bfloat16": 4 * 2.0 ** -8, "float16": 4 * 2.0 ** -11}


def _bits(t):
    """A narrow tensor's raw 16-bit patterns, from either library."""
    if isinstance(t, engine.Tensor):
        return t.detach().numpy().view(np.uint16)
    return t.detach().view(torch.int16).numpy().view(np.uint16)


def _inputs(spec, module, name):
    rng = np.random.default_rng(0)
    make = engine.tensor if module is engine else torch.tensor
    out = []
    for arg in spec.args:
        array = make_array(arg, rng, np.float32)
        t = make(array)
        if array.dtype.kind == "f":
            t = t.to(getattr(module, name))
            if arg.grad:
                t.requires_grad_(True)
        out.append(t)
    return out


def _close(ours, theirs, name, what):
    a = ours.detach().float().numpy()
    b = theirs.detach().float().numpy()
    tol = TOLERANCE[name]
    scale = max(1.0, float(np.abs(b[np.isfinite(b)]).max(initial=0.0)))
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * scale, equal_nan=True,
                               err_msg=what)


@pytest.mark.parametrize("name", NARROW)
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_op_matches_torch(spec, name):
    theirs_in = _inputs(spec, torch, name)
    try:
        theirs = spec.fn(torch, *theirs_in)
    except (RuntimeError, NotImplementedError) as error:  # torch has no such kernel
        pytest.skip(f"torch: {error}")
    ours_in = _inputs(spec, engine, name)
    ours = spec.fn(engine, *ours_in)
    assert str(ours.dtype) == str(theirs.dtype), spec.name
    _close(ours, theirs, name, f"{spec.name} forward")
    if not theirs.requires_grad:
        return
    weights = np.linspace(0.5, 1.5, max(theirs.numel(), 1))[:theirs.numel()]
    weights = weights.reshape(tuple(theirs.shape)).astype(np.float32)
    (theirs.float() * torch.tensor(weights)).sum().backward()
    (ours.float() * engine.tensor(weights)).sum().backward()
    for x, y in zip(ours_in, theirs_in):
        if y.grad is not None:
            assert str(x.grad.dtype) == str(y.grad.dtype)
            _close(x.grad, y.grad, name, f"{spec.name} gradient")


ELEMENTWISE = [
    ("add", lambda m, a, b: a + b), ("mul", lambda m, a, b: a * b),
    ("div", lambda m, a, b: a / b), ("sub", lambda m, a, b: a - b * 3),
    ("exp", lambda m, a, b: m.exp(a)), ("tanh", lambda m, a, b: m.tanh(b)),
    ("sigmoid", lambda m, a, b: m.sigmoid(a)), ("sqrt", lambda m, a, b: m.sqrt(m.abs(a))),
    ("relu", lambda m, a, b: m.relu(a)), ("square", lambda m, a, b: a ** 2),
    ("scale", lambda m, a, b: a * 0.1 + b / 0.3 - 0.7), ("rsub", lambda m, a, b: 2.5 - a),
    ("where", lambda m, a, b: m.where(a > b, a, b)), ("clamp", lambda m, a, b: a.clamp(-1, 1)),
]


@pytest.mark.parametrize("name", NARROW)
@pytest.mark.parametrize("op", [f for _, f in ELEMENTWISE], ids=[n for n, _ in ELEMENTWISE])
def test_elementwise_results_are_torchs_bits(op, name):
    """One rounding of a float32 result: the same 16 bits as PyTorch's, value by value."""
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 4096)).astype(np.float32) * 3
    ours = op(engine, engine.tensor(a).to(getattr(engine, name)),
              engine.tensor(b).to(getattr(engine, name)))
    theirs = op(torch, torch.tensor(a).to(getattr(torch, name)),
                torch.tensor(b).to(getattr(torch, name)))
    np.testing.assert_array_equal(_bits(ours), _bits(theirs))


DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
          "float32", "float64"]


def test_promotion_follows_torch():
    for a in DTYPES:
        for b in DTYPES:
            ours = engine.promote_types(getattr(engine, a), getattr(engine, b))
            assert str(ours) == str(torch.promote_types(getattr(torch, a), getattr(torch, b)))
    for name in NARROW:
        for operand in (2, 2.5, True):
            x, y = engine.ones(2, dtype=getattr(engine, name)), torch.ones(
                2, dtype=getattr(torch, name))
            assert str((x * operand).dtype) == str((y * operand).dtype)
        wide = (engine.ones(2, dtype=getattr(engine, name)) + engine.ones(2)).dtype
        assert str(wide) == "torch.float32"
        zero_d = (engine.ones(2, dtype=getattr(engine, name)) * engine.tensor(2.0)).dtype
        assert str(zero_d) == f"torch.{name}"


@pytest.mark.parametrize("name", NARROW)
def test_conversions_round_as_torch_does(name):
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.standard_normal(2000) * 10.0 ** rng.integers(-6, 6, 2000),
                             [0.0, -0.0, np.inf, -np.inf, 65504.0, 65520.0, 1e-8, 3e38]])
    for source in (np.float32, np.float64):
        ours = engine.tensor(values.astype(source)).to(getattr(engine, name))
        theirs = torch.tensor(values.astype(source)).to(getattr(torch, name))
        np.testing.assert_array_equal(_bits(ours), _bits(theirs))
    method = {"float16": "half", "bfloat16": "bfloat16"}[name]
    x = engine.tensor([1.0, 2.5, -3.25])
    assert getattr(x, method)().dtype is getattr(engine, name)
    assert getattr(x, method)().float().tolist() == [1.0, 2.5, -3.25]
    made = engine.tensor([0.1, 0.2], dtype=getattr(engine, name))
    np.testing.assert_array_equal(
        _bits(made), _bits(torch.tensor([0.1, 0.2], dtype=getattr(torch, name))))
    assert engine.from_numpy(made.numpy()).dtype is made.dtype
    assert isinstance(made[0].item(), float)
    as_int = engine.tensor([1.7, -2.5], dtype=getattr(engine, name)).long()
    assert as_int.tolist() == torch.tensor([1.7, -2.5], dtype=getattr(torch, name)).long().tolist()


@pytest.mark.parametrize("name", NARROW)
def test_creation_and_printing_match_torch(name):
    ours_dtype, theirs_dtype = getattr(engine, name), getattr(torch, name)
    for make in (lambda m, d: m.arange(0, 1, 0.1, dtype=d),
                 lambda m, d: m.full((2, 3), 1 / 3, dtype=d),
                 lambda m, d: m.eye(3, dtype=d),
                 lambda m, d: m.tensor([[1e-3, 123.456], [-7.0, 0.5]], dtype=d,
                                       requires_grad=True),
                 lambda m, d: m.zeros(0, 3, dtype=d)):
        ours, theirs = make(engine, ours_dtype), make(torch, theirs_dtype)
        assert repr(ours) == repr(theirs)
    assert engine.randn(4, 5, dtype=ours_dtype).dtype is ours_dtype
    assert engine.rand(3, dtype=ours_dtype).dtype is ours_dtype


def test_default_dtype_can_be_narrow():
    before = engine.get_default_dtype()
    try:
        engine.set_default_dtype(engine.bfloat16)
        assert engine.tensor([1.5]).dtype is engine.bfloat16
        assert nn.Linear(2, 3).weight.dtype is engine.bfloat16
    finally:
        engine.set_default_dtype(before)
    assert engine.tensor([1.5]).dtype is before


@pytest.mark.parametrize("name", DTYPES)
def test_finfo_and_iinfo_match_torch(name):
    ours, theirs = getattr(engine, name), getattr(torch, name)
    if ours.is_floating_point:
        a, b = engine.finfo(ours), torch.finfo(theirs)
        for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution",
                      "dtype"):
            assert getattr(a, field) == getattr(b, field), field
        assert repr(a) == repr(b)
        with pytest.raises(TypeError, match="iinfo"):
            engine.iinfo(ours)
    elif name != "bool":
        a, b = engine.iinfo(ours), torch.iinfo(theirs)
        assert (a.bits, a.min, a.max, a.dtype) == (b.bits, b.min, b.max, b.dtype)
        assert repr(a) == repr(b)
        with pytest.raises(TypeError, match="finfo"):
            engine.finfo(ours)
    assert repr(engine.finfo()) == repr(torch.finfo())


@pytest.mark.parametrize("name", NARROW)
def test_in_place_writes_round_into_the_tensor(name):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3, 4)).astype(np.float32)
    ours = engine.tensor(a).to(getattr(engine, name))
    theirs = torch.tensor(a).to(getattr(torch, name))
    for m, x in ((engine, ours), (torch, theirs)):
        y = m.tensor(b).to(x.dtype)
        x.add_(y)
        x.mul_(y[0])
        x[1] += 1
        x[0, 2].sub_(0.3)
        x[2] = 0.1
    np.testing.assert_array_equal(_bits(ours), _bits(theirs))


@pytest.mark.parametrize("name", NARROW)
def test_checkpoints_keep_narrow_tensors(name, tmp_path):
    model = nn.Linear(3, 2).to(getattr(engine, name))
    engine.save(model.state_dict(), tmp_path / "model.ngd")
    loaded = engine.load(tmp_path / "model.ngd")
    for key, value in model.state_dict().items():
        assert loaded[key].dtype is value.dtype
        np.testing.assert_array_equal(_bits(loaded[key]), _bits(value))


@pytest.mark.parametrize("name", NARROW)
@pytest.mark.parametrize("make", [lambda m, ps: m.optim.SGD(ps, lr=0.1),
                                  lambda m, ps: m.optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda m, ps: m.optim.Adam(ps, lr=1e-2, eps=1e-3)],
                         ids=["sgd", "momentum", "adam"])
def test_training_narrow_models_follows_torch(make, name):
    """A bfloat16/float16 model trains as PyTorch's does: PyTorch rounds after each of
    an update's operations, numbagrad once per update, so they agree to a few units in
    the last place, and the loss falls. (Adam's second moments of small gradients sit
    near float16's underflow, where the two roundings part ways: its parameters are not
    compared there.)"""
    engine.manual_seed(0)
    ours = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    theirs = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.Tanh(),
                                 torch.nn.Linear(16, 3))
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy())
                            for k, v in ours.state_dict().items()})
    ours.to(getattr(engine, name))
    theirs.to(getattr(torch, name))
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((32, 6)).astype(np.float32), rng.integers(0, 3, 32)
    opt_e, opt_t = make(engine, ours.parameters()), make(torch, theirs.parameters())
    losses = []
    for _ in range(10):
        for m, model, opt in ((engine, ours, opt_e), (torch, theirs, opt_t)):
            opt.zero_grad()
            out = model(m.tensor(x).to(getattr(m, name)))
            loss = m.nn.functional.cross_entropy(out, m.tensor(y))
            loss.backward()
            opt.step()
            losses.append(loss.item())
    ours_losses, theirs_losses = losses[::2], losses[1::2]
    np.testing.assert_allclose(ours_losses, theirs_losses, rtol=0.02)
    assert ours_losses[-1] < ours_losses[0]
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert str(p.dtype) == str(q.dtype) and str(p.grad.dtype) == str(q.grad.dtype)
        if name == "float16" and isinstance(opt_e, optim.Adam):
            continue
        np.testing.assert_allclose(p.detach().float().numpy(), q.detach().float().numpy(),
                                   rtol=0.05, atol=0.02)


@pytest.mark.parametrize("name", NARROW)
def test_compiled_step_equals_eager(name):
    """engine.compile leaves narrow values out of its fused kernels; a compiled training
    step gives the eager step's bits."""
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4)).to(
        getattr(engine, name))
    twin = copy.deepcopy(model)
    opt, twin_opt = optim.AdamW(model.parameters(), lr=1e-2), optim.AdamW(twin.parameters(),
                                                                          lr=1e-2)
    x, y = engine.randn(32, 8).to(getattr(engine, name)), engine.randint(0, 4, (32,))

    def step(model, opt):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    compiled = engine.compile(step, fullgraph=True)
    for _ in range(4):
        assert compiled(model, opt).item() == step(twin, twin_opt).item()
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(_bits(p), _bits(q))


@pytest.mark.parametrize("name", NARROW)
def test_narrow_tensors_are_refused_on_cuda_in_words(name):
    x = engine.ones(2, dtype=getattr(engine, name))
    with pytest.raises(TypeError, match=f"{name}.*CPU only.*cuda"):
        x.to("cuda")
    with pytest.raises(TypeError, match=f"{name}.*CPU only"):
        engine.ones(2).to("cuda", getattr(engine, name))
    assert x.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("name", NARROW)
def test_repeated_index_gradients_accumulate_in_float32(name):
    """An embedding row looked up 1000 times gets a gradient of 1000: the sums run in
    float32 and round once. (PyTorch's CPU kernels add in bfloat16 one term at a time
    and stop at 256, where 256 + 1 rounds back to 256.)"""
    weight = engine.ones(3, 2, dtype=getattr(engine, name), requires_grad=True)
    nn.functional.embedding(engine.zeros(1000, dtype=engine.int64), weight).sum().backward()
    assert weight.grad.dtype is weight.dtype
    assert weight.grad.tolist() == [[1000.0, 1000.0], [0.0, 0.0], [0.0, 0.0]]
    x = engine.ones(4, dtype=getattr(engine, name), requires_grad=True)
    x[engine.tensor([0, 0, 0, 2])].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0, 0.0]


BINARY = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b, "sub": lambda a, b: a - b,
          "div": lambda a, b: a / b, "maximum": lambda a, b: a.maximum(b)}


@given(data=st.data())
@SETTINGS
def test_broadcast_binary_ops_are_torchs_bits_with_gradients(data):
    """Random broadcastable shapes (size-1 and empty dimensions included) and values: the
    result's bits are PyTorch's, and the gradients (each library's own formula, rounded
    step by step, and sums over broadcast dimensions) are within two units in the last
    place at their scale."""
    name = data.draw(st.sampled_from(NARROW))
    op = data.draw(st.sampled_from(sorted(BINARY)))
    a_shape, b_shape = data.draw(hnp.mutually_broadcastable_shapes(
        num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4)).input_shapes
    elements = st.floats(-100, 100, width=32).filter(lambda v: abs(v) > 1e-3)
    a = data.draw(hnp.arrays(np.float32, a_shape, elements=elements))
    b = data.draw(hnp.arrays(np.float32, b_shape, elements=elements))
    outs, grads = [], []
    for m in (engine, torch):
        x = m.tensor(a).to(getattr(m, name)).requires_grad_(True)
        y = m.tensor(b).to(getattr(m, name)).requires_grad_(True)
        out = BINARY[op](x, y)
        out.sum().backward()
        outs.append(_bits(out))
        grads.append((x.grad, y.grad))
    np.testing.assert_array_equal(outs[0], outs[1])
    for ours, theirs in zip(*grads):
        assert str(ours.dtype) == str(theirs.dtype)
        _close(ours, theirs, name, f"{op} gradient")


def test_a_narrow_layer_norm_sees_its_weights_updated():
    """Normalisation computes in float32 from the weights as they are now: an update to a
    bfloat16 weight shows in the next call (no float32 copy kept between calls)."""
    norm = nn.LayerNorm(4).to(engine.bfloat16)
    x = engine.randn(2, 4).to(engine.bfloat16)
    before = norm(x).float().detach()
    with engine.no_grad():
        norm.weight.mul_(2)
    np.testing.assert_array_equal(norm(x).float().detach().numpy(), 2 * before.numpy())
