"""Numerical stability: extreme inputs give finite values and gradients, as in PyTorch."""
import numpy as np
import pytest

import engine
import kernels.cpu
from kernels.interface import missing
from conftest import assert_close, needs_torch, torch

F = engine.nn.functional


def _finite(*tensors):
    for t in tensors:
        assert np.isfinite(t.detach().numpy()).all(), t


def test_log_softmax_of_large_logits():
    x = engine.tensor([[1000.0, 0.0, -1000.0], [5000.0, 5000.0, 5000.0]], requires_grad=True)
    y = F.log_softmax(x, dim=1)
    assert_close(y[0], [0.0, -1000.0, -2000.0])
    assert_close(y[1], [-np.log(3)] * 3)
    y.sum().backward()
    _finite(y, x.grad)


def test_softmax_of_large_logits():
    x = engine.tensor([1e4, 1e4 - 1.0, -1e4], requires_grad=True)
    p = engine.softmax(x, 0)
    assert_close(p, [1 / (1 + np.exp(-1)), np.exp(-1) / (1 + np.exp(-1)), 0.0])
    (p * engine.tensor([1.0, 2.0, 3.0])).sum().backward()
    _finite(p, x.grad)


@needs_torch
def test_cross_entropy_is_shift_invariant():
    # float64, so that the shifted logits themselves are exact.
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 6))
    target = engine.tensor([0, 5, 2, 2])
    base = engine.tensor(logits, requires_grad=True)
    F.cross_entropy(base, target).backward()
    for shift in (1e3, -1e4, 3e4):
        x = engine.tensor(logits + shift, requires_grad=True)
        loss = F.cross_entropy(x, target)
        assert_close(loss, F.cross_entropy(engine.tensor(logits), target), rtol=1e-9)
        loss.backward()
        assert_close(x.grad, base.grad, rtol=1e-7, atol=1e-9)
    # float32 at a large shift: the same answer as PyTorch on the same rounded logits.
    shifted = (logits + 3e4).astype(np.float32)
    reference = torch.nn.functional.cross_entropy(torch.tensor(shifted),
                                                  torch.tensor([0, 5, 2, 2]))
    assert_close(F.cross_entropy(engine.tensor(shifted), target), reference, rtol=1e-5)


@needs_torch
def test_bce_with_logits_at_minus_1000():
    for value, target in ((-1000.0, 1.0), (1000.0, 0.0), (-1000.0, 0.0)):
        x = engine.tensor([value], requires_grad=True)
        loss = F.binary_cross_entropy_with_logits(x, engine.tensor([target]))
        loss.backward()
        _finite(loss, x.grad)
        xt = torch.tensor([value], requires_grad=True)
        reference = torch.nn.functional.binary_cross_entropy_with_logits(xt,
                                                                         torch.tensor([target]))
        reference.backward()
        assert_close(loss, reference)
        assert_close(x.grad, xt.grad)


def test_sigmoid_and_tanh_at_plus_minus_1000():
    x = engine.tensor([-1000.0, 1000.0, 0.0], requires_grad=True)
    y = x.sigmoid()
    assert y.tolist() == [0.0, 1.0, 0.5]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.25]
    x.grad = None
    x.tanh().sum().backward()
    _finite(x.grad)


def test_bce_clamps_log_at_minus_100():
    p = engine.tensor([0.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy(p, engine.tensor([1.0, 0.0]))
    assert loss.item() == pytest.approx(100.0)
    loss.backward()
    _finite(p.grad)


def test_logsumexp_with_infinities():
    x = engine.tensor([[-np.inf, -np.inf], [np.inf, 1.0], [1.0, 2.0]])
    out = engine.logsumexp(x, 1)
    assert out[0].item() == -np.inf and out[1].item() == np.inf
    assert out[2].item() == pytest.approx(np.log(np.exp(1) + np.exp(2)), rel=1e-6)


def test_nan_propagates_through_max_and_relu():
    x = engine.tensor([1.0, np.nan, 3.0])
    assert np.isnan(x.max().item()) and np.isnan(engine.amax(x, 0).item())
    assert np.isnan(x.relu()[1].item())


def test_log_of_zero_is_silent_minus_infinity(recwarn):
    assert engine.log(engine.tensor([0.0])).item() == -np.inf
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_cpu_backend_implements_the_whole_interface():
    assert missing(kernels.cpu) == []
