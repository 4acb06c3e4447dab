"""The initialisers that are more than a scaled uniform or normal draw: trunc_normal_
(bounds and the truncated mean), orthogonal_ (orthogonality, gain, uniformity of signs),
dirac_ (equal to PyTorch's, and a convolution with it is the identity) and sparse_."""
import math

import numpy as np
import pytest

import engine
import nn
from conftest import assert_close, needs_torch, torch


def _phi(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _Phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@pytest.mark.parametrize("a, b", [(-2.0, 2.0), (-0.5, 1.5), (1.0, 3.0)])
def test_trunc_normal_stays_inside_and_has_the_truncated_mean(a, b):
    engine.manual_seed(0)
    w = nn.init.trunc_normal_(engine.empty(200, 100), mean=1.0, std=2.0, a=a, b=b)
    values = w.numpy()
    assert values.min() >= a and values.max() <= b
    lo, hi = (a - 1.0) / 2.0, (b - 1.0) / 2.0  # the bounds in standard units
    expected = 1.0 + 2.0 * (_phi(lo) - _phi(hi)) / (_Phi(hi) - _Phi(lo))
    assert values.mean() == pytest.approx(expected, abs=0.02)


@pytest.mark.parametrize("shape", [(6, 3), (3, 6), (5, 3, 2), (4, 4)])
def test_orthogonal_rows_or_columns_are_orthonormal_times_the_gain(shape):
    engine.manual_seed(0)
    w = nn.init.orthogonal_(engine.empty(*shape), gain=2.0).numpy().reshape(shape[0], -1)
    small = min(w.shape)
    product = w @ w.T if w.shape[0] == small else w.T @ w
    np.testing.assert_allclose(product, 4.0 * np.eye(small), atol=1e-5)


def test_orthogonal_is_not_biased_towards_positive_diagonals():
    engine.manual_seed(0)
    diagonals = [np.diag(nn.init.orthogonal_(engine.empty(3, 3)).numpy()) for _ in range(200)]
    assert abs((np.array(diagonals) > 0).mean() - 0.5) < 0.1


@needs_torch
@pytest.mark.parametrize("shape, groups", [((4, 2, 3, 3), 2), ((3, 5, 2), 1),
                                           ((2, 2, 3, 3, 3), 1)])
def test_dirac_is_pytorchs_and_a_convolution_with_it_is_the_identity(shape, groups):
    ours = nn.init.dirac_(engine.empty(*shape), groups)
    assert ours.tolist() == torch.nn.init.dirac_(torch.empty(*shape), groups).tolist()
    if len(shape) == 4 and groups == 2:
        x = engine.randn(1, 4, 5, 5)
        assert_close(nn.functional.conv2d(x, ours, padding=1, groups=2), x, 1e-6, 1e-6)


def test_sparse_zeroes_the_share_of_each_column():
    engine.manual_seed(0)
    w = nn.init.sparse_(engine.empty(10, 6), sparsity=0.3, std=0.5).numpy()
    assert ((w == 0).sum(0) == 3).all() and w[w != 0].std() > 0.2


@pytest.mark.parametrize("call, message", [
    (lambda: nn.init.trunc_normal_(engine.empty(3), a=1.0, b=0.0), "must be less than"),
    (lambda: nn.init.orthogonal_(engine.empty(3)), "2 or more dimensions"),
    (lambda: nn.init.dirac_(engine.empty(3, 3)), "3, 4, or 5 dimensions"),
    (lambda: nn.init.dirac_(engine.empty(3, 3, 3), groups=2), "divisible by groups"),
    (lambda: nn.init.sparse_(engine.empty(3, 3, 3), 0.1), "2 dimensions"),
])
def test_refusals(call, message):
    with pytest.raises(ValueError, match=message):
        call()
