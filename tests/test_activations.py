"""The composite activations and shrinkage functions against PyTorch: hypothesis over
shapes and values, kinks included (exact boundary values such as -3, 3, 0 and the
shrink thresholds), values and gradients; the modules' reprs and parameters; refusals."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
import nn
from engine import testing
from conftest import assert_close, needs_torch, torch
from test_properties import SETTINGS

KINKS = [-3.0, 3.0, 0.0, 0.5, -0.5, 0.3, -0.3, 0.1, 1.0, -1.0]
VALUES = st.one_of(st.sampled_from(KINKS), testing.values(-6, 6))

FUNCTIONS = {
    "hardsigmoid": lambda F, x: F.hardsigmoid(x),
    "hardswish": lambda F, x: F.hardswish(x),
    "mish": lambda F, x: F.mish(x),
    "selu": lambda F, x: F.selu(x),
    "celu": lambda F, x: F.celu(x, 0.7),
    "softsign": lambda F, x: F.softsign(x),
    "tanhshrink": lambda F, x: F.tanhshrink(x),
    "softmin": lambda F, x: F.softmin(x, -1),
    "glu": lambda F, x: F.glu(x.repeat(1, 2) if x.dim() == 2 else x.repeat(2), -1),
    "threshold": lambda F, x: F.threshold(x, 0.1, 20.0),
    "hardshrink": lambda F, x: F.hardshrink(x, 0.3),
    "softshrink": lambda F, x: F.softshrink(x, 0.5),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@SETTINGS
@given(x=hnp.arrays(np.float64, testing.shapes(min_dims=1, max_dims=2, min_side=1),
                    elements=VALUES))
def test_values_and_gradients_match_torch(name, x):
    fn = FUNCTIONS[name]
    ours, theirs = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e, out_t = fn(nn.functional, ours), fn(torch.nn.functional, theirs)
    assert_close(out_e, out_t, 1e-12, 1e-12, what=f"{name} forward")
    w = np.random.default_rng(0).standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    # Some of PyTorch's backward kernels hold their constants (hardsigmoid's 1/6, celu's
    # 1/alpha) in float32 even for float64 inputs: relative errors near 1e-7, measured.
    # Ours are exact; a wrong side of a kink would be off by far more.
    assert_close(ours.grad, theirs.grad, 1e-6, 1e-12, what=f"{name} grad")


@needs_torch
@SETTINGS
@given(x=hnp.arrays(np.float64, st.tuples(st.integers(1, 3), st.just(3), st.integers(1, 3)),
                    elements=VALUES), shared=st.booleans())
def test_prelu_matches_torch_for_one_or_per_channel_slopes(x, shared):
    slopes = np.array([0.25]) if shared else np.array([0.1, -0.2, 0.3])
    ours, theirs = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    w_e, w_t = engine.tensor(slopes, requires_grad=True), torch.tensor(slopes,
                                                                       requires_grad=True)
    out_e = nn.functional.prelu(ours, w_e)
    out_t = torch.nn.functional.prelu(theirs, w_t)
    assert_close(out_e, out_t, 1e-12, 1e-12)
    (out_e * out_e).sum().backward()
    (out_t * out_t).sum().backward()
    assert_close(ours.grad, theirs.grad, 1e-12, 1e-12, what="input grad")
    assert_close(w_e.grad, w_t.grad, 1e-12, 1e-12, what="slope grad")


@needs_torch
@pytest.mark.parametrize("name, args", [
    ("Hardsigmoid", ()), ("Hardswish", (True,)), ("Mish", (True,)), ("SELU", ()),
    ("CELU", (0.5, True)), ("Softsign", ()), ("Tanhshrink", ()), ("Softmin", (1,)),
    ("GLU", ()), ("PReLU", (3, 0.1)), ("Threshold", (0.1, 20)), ("Hardshrink", ()),
    ("Softshrink", (0.3,)), ("LogSigmoid", ()), ("Softmax2d", ()),
])
def test_modules_match_torch(name, args):
    ours, theirs = getattr(nn, name)(*args).double(), getattr(torch.nn, name)(*args).double()
    assert repr(ours) == repr(theirs)
    assert [(k, p.tolist()) for k, p in ours.named_parameters()] == \
        [(k, p.tolist()) for k, p in theirs.named_parameters()]
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 2))
    assert_close(ours(engine.tensor(x)), theirs(torch.tensor(x)), 1e-12, 1e-12)


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.functional.glu(engine.ones(2, 3)), RuntimeError,
     "Halving dimension must be even, but dimension 1 is size 3"),
    (lambda: nn.functional.prelu(engine.ones(2, 3), engine.ones(2)), RuntimeError,
     r"weight of shape \(2,\) needs one entry, or one per channel of input of shape \(2, 3\)"),
    (lambda: nn.functional.softshrink(engine.ones(2), -1), RuntimeError,
     "lambda must be greater or equal to 0"),
    (lambda: nn.functional.celu(engine.ones(2), 0), ValueError, "alpha cannot be 0"),
    (lambda: nn.Softmax2d()(engine.ones(2, 3)), ValueError, "expected input with 3 or 4 dims"),
])
def test_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()
