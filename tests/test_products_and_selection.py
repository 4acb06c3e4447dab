"""prod and cumprod (hypothesis with zeros, to check the exact gradient PyTorch gives
where a division would fail), median's even split of its gradient, nan_to_num,
count_nonzero and unique against PyTorch."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine import testing
from conftest import assert_close, needs_torch, torch
from test_properties import SETTINGS

WITH_ZEROS = st.one_of(st.just(0.0), testing.values(-2, 2))


@needs_torch
@pytest.mark.parametrize("op", ["prod", "prod_dim", "cumprod"])
@SETTINGS
@given(x=hnp.arrays(np.float64, testing.shapes(min_dims=1, max_dims=3, max_side=4),
                    elements=WITH_ZEROS), data=st.data())
def test_products_match_torch_zeros_included(op, x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    keepdim = data.draw(st.booleans())
    calls = {"prod": lambda t: t.prod(), "prod_dim": lambda t: t.prod(dim, keepdim=keepdim),
             "cumprod": lambda t: t.cumprod(dim)}
    ours, theirs = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e, out_t = calls[op](ours), calls[op](theirs)
    assert_close(out_e, out_t, 1e-10, 1e-12, what=f"{op} forward")
    w = np.random.default_rng(0).standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    assert_close(ours.grad, theirs.grad, 1e-10, 1e-12, what=f"{op} grad")


def test_products_of_integers_are_int64():
    assert engine.tensor([2, 3, 4], dtype=engine.int32).prod().dtype is engine.int64
    assert engine.tensor([True, True]).cumprod(0).tolist() == [1, 1]
    assert engine.tensor([2.0, 3.0]).prod(dtype=engine.float64).dtype is engine.float64


@needs_torch
def test_median_splits_its_gradient_over_ties_like_torch():
    x = np.array([[0.0, 2, 0], [1, 0, -1]])
    ours, theirs = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ours.median().backward()
    theirs.median().backward()
    assert ours.grad.tolist() == theirs.grad.tolist()
    values, indices = engine.tensor(x).median(1, keepdim=True)
    expected = torch.tensor(x).median(1, keepdim=True)
    assert values.tolist() == expected.values.tolist()
    assert indices.tolist() == expected.indices.tolist()


@needs_torch
def test_nan_to_num_replaces_and_passes_gradient_only_where_finite():
    x = np.array([1.0, np.nan, np.inf, -np.inf, -2.0])
    ours, theirs = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for kwargs in ({}, dict(nan=0.5, posinf=9.0, neginf=-9.0)):
        assert ours.nan_to_num(**kwargs).tolist() == theirs.nan_to_num(**kwargs).tolist()
    (ours.nan_to_num() * 2).sum().backward()
    (theirs.nan_to_num() * 2).sum().backward()
    assert ours.grad.tolist() == theirs.grad.tolist()
    assert engine.tensor([np.inf]).float().nan_to_num().item() == float(np.finfo(np.float32).max)


@needs_torch
def test_count_nonzero_and_unique_match_torch():
    x = np.array([[3, 0, 3], [2, 0, 1]])
    assert engine.count_nonzero(engine.tensor(x)).item() == 4
    assert engine.tensor(x).count_nonzero(0).tolist() == torch.tensor(x).count_nonzero(0).tolist()
    ours = engine.unique(engine.tensor(x), return_inverse=True, return_counts=True)
    theirs = torch.unique(torch.tensor(x), return_inverse=True, return_counts=True)
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    with pytest.raises(NotImplementedError, match="dim is not supported"):
        engine.unique(engine.tensor(x), dim=0)


@pytest.mark.parametrize("call, message", [
    (lambda: engine.diag(engine.ones(2, 2, 2)), r"Supports 1D or 2D tensors. Got 3D"),
    (lambda: engine.ones(3).trace(), "expected a matrix"),
    (lambda: engine.inner(engine.ones(2, 3), engine.ones(2)),
     r"last dimension must match on both input tensors but got shapes \[2, 3\] and \[2\]"),
    (lambda: engine.cdist(engine.ones(2, 3), engine.ones(2, 2)), "same number of columns"),
    (lambda: engine.ones(2, 2).diagonal(0, 1, 1), "diagonal dimensions cannot be identical"),
    (lambda: engine.ones(0, dtype=engine.int64).median(), "cannot be computed for an empty "
                                                          "integer tensor"),
])
def test_refusals(call, message):
    with pytest.raises((RuntimeError, IndexError), match=message):
        call()


@needs_torch
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_diagonal_is_a_view_that_writes_through(device):
    """x.diagonal() is a view, as in PyTorch: fill_/add_ on it write x (orthogonal's
    parametrization and programs that set a matrix's diagonal rely on it)."""
    if device == "cuda" and not engine.cuda.is_available():
        pytest.skip("no CUDA device or simulator")
    results = []
    for m, where in ((engine, device), (torch, "cpu")):
        x = m.zeros(2, 3, 4, device=where)
        x.diagonal().fill_(-1.0)  # dims 0 and 1
        x.diagonal(1, 1, 2).add_(2.0)
        x[1].diagonal(-1).mul_(0.0)
        results.append(x.cpu().numpy())
        assert x.diagonal(0, 0, 2).shape == (3, 2)
        assert x.diagonal(5).numel() == 0
    np.testing.assert_array_equal(*results)
    with pytest.raises(RuntimeError, match="in-place"):
        (engine.ones(3, 3, requires_grad=True) * 1).diagonal().fill_(0.0)
