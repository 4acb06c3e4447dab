"""sort, argsort and topk against PyTorch's stable sort: ties, NaN and infinities, every
dtype, any dim, both directions, on the CPU and the CUDA backend (the simulator in CI)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from conftest import needs_torch, torch
from engine import testing

# Few distinct values, so that ties are common and stability shows.
TIES = st.sampled_from([0.0, 1.0, -1.0, 2.5, np.inf, -np.inf, np.nan])
DEVICES = ["cpu"] + (["cuda"] if engine.cuda.is_available() else [])


@st.composite
def _case(draw):
    shape = draw(testing.shapes(min_dims=1, max_dims=3, max_side=5))
    x = draw(hnp.arrays(np.float64, shape, elements=TIES))
    return x, draw(st.integers(-len(shape), len(shape) - 1)), draw(st.booleans())


@needs_torch
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_case())
def test_sort_matches_torchs_stable_sort(case):
    x, dim, descending = case
    ours = engine.tensor(x).sort(dim, descending=descending)
    theirs = torch.tensor(x).sort(dim=dim, descending=descending, stable=True)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    assert ours.indices.dtype is engine.int64


@needs_torch
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_argsort_on_each_backend_and_dtype(device, descending, dtype):
    rng = np.random.default_rng(3)
    x = rng.choice([0.0, 1.0, -2.0, np.nan, np.inf], size=(3, 7)).astype(np.float32)
    if dtype != "float32":
        x = np.nan_to_num(x, posinf=5).astype(dtype)
    for dim in (0, 1):
        ours = engine.tensor(x, device=device).argsort(dim, descending=descending)
        theirs = torch.tensor(x).sort(dim=dim, descending=descending, stable=True).indices
        np.testing.assert_array_equal(ours.cpu().numpy(), theirs.numpy())


@needs_torch
@pytest.mark.parametrize("device", DEVICES)
def test_topk_values_match_and_their_gradient_returns_to_its_places(device):
    rng = np.random.default_rng(0)
    x = rng.permutation(24).reshape(4, 6).astype(np.float64)  # no ties: one right answer
    ours = engine.tensor(x, device=device, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    for largest in (True, False):
        a = ours.topk(3, dim=1, largest=largest)
        b = theirs.topk(3, dim=1, largest=largest)
        np.testing.assert_array_equal(a.values.detach().cpu().numpy(), b.values.detach().numpy())
        np.testing.assert_array_equal(a.indices.cpu().numpy(), b.indices.numpy())
        (a.values * engine.arange(3.0, device=device)).sum().backward()
        (b.values * torch.arange(3.0)).sum().backward()
    np.testing.assert_array_equal(ours.grad.cpu().numpy(), theirs.grad.numpy())


def test_edge_shapes_and_errors():
    scalar = engine.tensor(4.0).sort()
    assert scalar.values.item() == 4.0 and scalar.indices.item() == 0
    assert engine.tensor(4.0).topk(1).values.item() == 4.0
    empty = engine.zeros(2, 0).sort(1)
    assert empty.values.shape == (2, 0) and empty.indices.shape == (2, 0)
    assert engine.ones(3, 4).topk(0, dim=1).values.shape == (3, 0)
    with pytest.raises(RuntimeError, match=r"topk: k=5 is out of range for a dimension of "
                                           r"size 4 \(input shape \(3, 4\)\)"):
        engine.ones(3, 4).topk(5)
    with pytest.raises(IndexError):
        engine.ones(3, 4).sort(dim=2)
