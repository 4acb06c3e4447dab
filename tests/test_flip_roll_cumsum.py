"""flip, roll and cumsum: hypothesis over shapes (0-d, size-1 and empty dims) and their
dims, shifts and dtypes against torch, values and gradients; float64 central
differences; the refusals."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine import testing
from conftest import assert_close, needs_torch, torch
from test_properties import FINITE, SETTINGS


@st.composite
def cases(draw, op):
    shape = draw(testing.shapes(min_dims=1 if op != "cumsum" else 0))
    x = draw(hnp.arrays(np.float64, shape, elements=FINITE))
    ndim = max(len(shape), 1)
    dims = st.integers(-ndim, ndim - 1)
    if op == "flip":
        flipped = draw(st.lists(dims, max_size=len(shape), unique_by=lambda d: d % ndim))
        return x, lambda m, t: m.flip(t, flipped)
    if op == "roll":
        shifts = st.integers(-7, 7)
        if draw(st.booleans()):
            shift = draw(shifts)
            return x, lambda m, t: m.roll(t, shift)
        chosen = draw(st.lists(dims, min_size=1, max_size=3))
        amounts = [draw(shifts) for _ in chosen]
        return x, lambda m, t: m.roll(t, amounts, chosen)
    dim = draw(dims)
    return x, lambda m, t: m.cumsum(t, dim)


@needs_torch
@pytest.mark.parametrize("op", ["flip", "roll", "cumsum"])
@SETTINGS
@given(data=st.data())
def test_values_and_gradients_match_torch(op, data):
    x, fn = data.draw(cases(op))
    ours, theirs = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e, out_t = fn(engine, ours), fn(torch, theirs)
    assert_close(out_e, out_t, 1e-12, 1e-12, what=f"{op} forward")
    weights = np.random.default_rng(0).standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(weights)).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    assert_close(ours.grad, theirs.grad, 1e-12, 1e-12, what=f"{op} grad")


@pytest.mark.parametrize("fn", [lambda t: t.flip(0, 1), lambda t: t.roll((2, -1), (1, 0)),
                                lambda t: t.cumsum(1), lambda t: t.cumsum(0)],
                         ids=["flip", "roll", "cumsum_1", "cumsum_0"])
def test_gradients_match_finite_differences(fn):
    x = engine.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    assert testing.check_gradients(fn, x)


@needs_torch
@pytest.mark.parametrize("dtype", ["bool", "int32", "float32"])
def test_cumsum_dtypes_are_pytorchs(dtype):
    x = np.array([[1, 0, 1], [1, 1, 0]]).astype(dtype)
    ours, theirs = engine.tensor(x).cumsum(1), torch.tensor(x).cumsum(1)
    assert str(ours.dtype) == str(theirs.dtype) and ours.tolist() == theirs.tolist()
    asked = engine.tensor(x).cumsum(0, dtype=engine.float64)
    assert asked.dtype is engine.float64 and asked.tolist() == torch.tensor(x).cumsum(
        0, dtype=torch.float64).tolist()


@pytest.mark.parametrize("call, error, message", [
    (lambda: engine.ones(2, 3).flip(0, 0), RuntimeError, r"name a dim more than once"),
    (lambda: engine.ones(2, 3).flip(2), IndexError, r"range of \[-2, 1\], but got 2"),
    (lambda: engine.ones(2, 3).roll((1, 2), 0), RuntimeError, "shifts and dimensions must "
                                                              "align. shifts: 2, dims: 1"),
    (lambda: engine.ones(2, 3).roll((1, 2)), RuntimeError, "without dims, shifts must be one"),
    (lambda: engine.ones(2, 3).cumsum(3), IndexError, r"but got 3"),
])
def test_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()
