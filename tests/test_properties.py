"""Hypothesis over shapes (broadcasting, size-1, empty, 0-d) and values, against PyTorch,
plus engine.testing's own strategies driving gradcheck."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine import testing
from conftest import assert_close, needs_torch, torch

# HYPOTHESIS_EXAMPLES=300 searches deeper than the suite's default.
# Some users of these settings filter their draws with assume(); on a loaded machine that
# can trip the generation health checks, which say nothing about the code under test.
SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 25)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])
FINITE = testing.values(-3, 3)

BINARY = {
    "add": lambda m, a, b: a + b,
    "sub": lambda m, a, b: a - b,
    "mul": lambda m, a, b: a * b,
    "div": lambda m, a, b: a / (b.abs() + 0.5),
    "maximum": lambda m, a, b: m.maximum(a, b),
    "minimum": lambda m, a, b: m.minimum(a, b),
    "pow": lambda m, a, b: (a.abs() + 0.5) ** b,
    "where": lambda m, a, b: m.where(a > 0, a, b),
    "atan2": lambda m, a, b: m.atan2(a, b),
    "logaddexp": lambda m, a, b: m.logaddexp(a, b),
}
UNARY = {
    "exp": lambda m, x: m.exp(x), "tanh": lambda m, x: m.tanh(x),
    "sigmoid": lambda m, x: m.sigmoid(x), "relu": lambda m, x: m.relu(x),
    "log": lambda m, x: m.log(x.abs() + 0.1), "sqrt": lambda m, x: m.sqrt(x.abs() + 0.1),
    "sin": lambda m, x: m.sin(x), "gelu": lambda m, x: m.nn.functional.gelu(x),
    "clamp": lambda m, x: x.clamp(-1, 1), "abs": lambda m, x: x.abs(),
    "atan": lambda m, x: m.atan(x), "sinh": lambda m, x: m.sinh(x),
    "erf": lambda m, x: m.erf(x), "expm1": lambda m, x: m.expm1(x),
    "asin": lambda m, x: m.asin(x.tanh() * 0.9),
}


def _pair(arrays, fn):
    ours = [engine.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    return ours, theirs, fn(engine, *ours), fn(torch, *theirs)


def _compare(arrays, fn, what):
    ours, theirs, out_e, out_t = _pair(arrays, fn)
    assert_close(out_e, out_t, 1e-9, 1e-10, what=f"{what} forward")
    assert tuple(out_e.shape) == tuple(out_t.shape)
    weights = np.random.default_rng(0).standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(weights)).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    for a, b in zip(ours, theirs):
        assert_close(a.grad, b.grad, 1e-9, 1e-10, what=f"{what} grad")


def _arrays_for(shapes):
    return st.tuples(*[hnp.arrays(np.float64, s, elements=FINITE) for s in shapes])


@needs_torch
@pytest.mark.parametrize("name", sorted(BINARY))
@SETTINGS
@given(data=st.data())
def test_binary_broadcasting(name, data):
    shapes = data.draw(testing.broadcastable_shapes(2))
    _compare(data.draw(_arrays_for(shapes)), BINARY[name], name)


@needs_torch
@pytest.mark.parametrize("name", sorted(UNARY))
@SETTINGS
@given(x=hnp.arrays(np.float64, testing.shapes(), elements=FINITE))
def test_unary_any_shape(name, x):
    _compare([x], UNARY[name], name)


@st.composite
def _reduction_case(draw, min_side=0, elements=FINITE):
    shape = draw(testing.shapes(min_dims=1, max_dims=3, min_side=min_side))
    dims = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape),
                         unique=True))
    keepdim = draw(st.booleans())
    x = draw(hnp.arrays(np.float64, shape, elements=elements))
    return x, tuple(dims), keepdim


# Exact zeros, for all-zero slices (gradient 0, not 0/0), but nothing so small that its
# square or cube underflows: there PyTorch's float64 norm keeps digits a plain sum loses.
NORM_VALUES = st.one_of(st.just(0.0), st.floats(1e-3, 3), st.floats(-3, -1e-3))


REDUCTIONS = {
    "sum": (lambda m, x, d, k: x.sum(d, keepdim=k), 0),
    "mean": (lambda m, x, d, k: x.mean(d, keepdim=k), 1),
    "amax": (lambda m, x, d, k: m.amax(x, d, keepdim=k), 1),
    "logsumexp": (lambda m, x, d, k: m.logsumexp(x, d, keepdim=k), 1),
    "var": (lambda m, x, d, k: x.var(d, keepdim=k, correction=0), 1),
    "norm": (lambda m, x, d, k: x.norm(p=2, dim=d, keepdim=k), 0, NORM_VALUES),
    "norm_p1": (lambda m, x, d, k: x.norm(p=1, dim=d, keepdim=k), 0, NORM_VALUES),
    "norm_p3": (lambda m, x, d, k: x.norm(p=3, dim=d, keepdim=k), 0, NORM_VALUES),
    "norm_inf": (lambda m, x, d, k: x.norm(p=float("inf"), dim=d, keepdim=k), 1, NORM_VALUES),
    "max_dim": (lambda m, x, d, k: x.max(d[0], keepdim=k).values, 1),
    "softmax": (lambda m, x, d, k: m.softmax(x, d[0]), 1),
    "log_softmax": (lambda m, x, d, k: m.log_softmax(x, d[0]), 1),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SETTINGS
@given(data=st.data())
def test_reductions_any_dims(name, data):
    fn, min_side, *elements = REDUCTIONS[name]
    x, dims, keepdim = data.draw(_reduction_case(min_side, *elements))
    _compare([x], lambda m, t: fn(m, t, dims, keepdim), name)


@needs_torch
@SETTINGS
@given(data=st.data())
def test_matmul_batch_broadcasting(data):
    batch_a, batch_b = data.draw(testing.broadcastable_shapes(2, max_dims=2, min_side=1))
    n, k, p = (data.draw(st.integers(1, 4)) for _ in range(3))
    arrays = data.draw(_arrays_for([batch_a + (n, k), batch_b + (k, p)]))
    _compare(arrays, lambda m, a, b: a @ b, "matmul")


@SETTINGS
@given(x=testing.tensors(testing.shapes(max_dims=2, max_side=3)))
def test_user_strategies_drive_gradcheck(x):
    """engine.testing as a user would use it: gradients of a composite, to second order."""
    assert testing.check_gradients(lambda t: (t.tanh() * t).sum() + (t * t).mean()
                                   if t.numel() else t.sum(), x)


@SETTINGS
@given(shapes=testing.broadcastable_shapes(3, min_side=1))
def test_broadcastable_shapes_really_broadcast(shapes):
    engine.zeros(shapes[0]) + engine.zeros(shapes[1]) + engine.zeros(shapes[2])
