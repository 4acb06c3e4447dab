"""tril and triu: hypothesis over batch shapes (empty and size-1 included) and diagonals,
against torch and central differences; the refusals name what was wrong."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine import testing
from conftest import assert_close, needs_torch, torch
from test_properties import FINITE, SETTINGS

OPS = ("tril", "triu")


def _case():
    shape = testing.shapes(min_dims=2, max_dims=4)
    return st.tuples(shape.flatmap(lambda s: hnp.arrays(np.float64, s, elements=FINITE)),
                     st.integers(-5, 5))


@needs_torch
@pytest.mark.parametrize("name", OPS)
@SETTINGS
@given(case=_case())
def test_values_and_gradients_match_torch(name, case):
    x, diagonal = case
    ours = engine.tensor(x, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out_e, out_t = getattr(ours, name)(diagonal), getattr(torch, name)(theirs, diagonal)
    assert_close(out_e, out_t, 0, 0, what=f"{name} forward")
    assert out_e.grad_fn.name() == out_t.grad_fn.name()
    weights = np.random.default_rng(0).standard_normal(x.shape)
    (out_e * engine.tensor(weights)).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    assert_close(ours.grad, theirs.grad, 0, 0, what=f"{name} grad")


@pytest.mark.parametrize("name", OPS)
@SETTINGS
@given(x=testing.tensors(testing.shapes(min_dims=2, max_dims=3, max_side=3)),
       diagonal=st.integers(-3, 3))
def test_gradients_match_finite_differences(name, x, diagonal):
    assert testing.check_gradients(lambda t: getattr(engine, name)(t, diagonal), x)


def test_a_causal_mask_built_with_tril_keeps_the_past():
    mask = engine.tril(engine.ones(3, 3))
    scores = engine.zeros(3, 3).masked_fill(mask == 0, float("-inf"))
    assert engine.softmax(scores, -1).tolist() == [
        [1, 0, 0], [0.5, 0.5, 0], pytest.approx([1 / 3] * 3)]


def test_integer_and_bool_tensors_keep_their_dtype():
    assert engine.arange(6).reshape(2, 3).triu().tolist() == [[0, 1, 2], [0, 4, 5]]
    assert engine.ones(2, 2, dtype=engine.bool).tril().tolist() == [[True, False],
                                                                    [True, True]]


@pytest.mark.parametrize("name", OPS)
def test_refusals_name_the_problem(name):
    with pytest.raises(RuntimeError, match=r"at least 2 dimensions, got shape \(3,\)"):
        getattr(engine, name)(engine.ones(3))
    with pytest.raises(TypeError, match="'diagonal' must be int, not float"):
        getattr(engine, name)(engine.ones(2, 2), 0.5)
