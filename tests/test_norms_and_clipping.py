"""norm, repeat, isclose/allclose and nn.utils' gradient clipping: the cases op_specs and
the property tests do not reach (zero vectors, p = 0, errors, bools, NaN), and clipping
as a training loop calls it, against PyTorch."""
import math

import numpy as np
import pytest

import engine
import nn
import optim
from conftest import assert_close, needs_torch, torch

INF = float("inf")


@needs_torch
@pytest.mark.parametrize("p", [2, 1, 3, INF, -INF, 0.5])
def test_norm_of_a_zero_vector_has_a_zero_gradient(p):
    data = np.array([[0.0, 0.0, 0.0], [1.5, -2.0, 0.5]])
    ours = engine.tensor(data, requires_grad=True)
    theirs = torch.tensor(data, requires_grad=True)
    y_e, y_t = ours.norm(p=p, dim=1), theirs.norm(p=p, dim=1)
    assert_close(y_e, y_t, what=f"norm p={p}")
    y_e.sum().backward()
    y_t.sum().backward()
    assert not ours.grad[0].numpy().any()
    assert_close(ours.grad, theirs.grad, what=f"norm p={p} gradient")


@needs_torch
def test_norm_p0_counts_non_zeros_and_passes_no_gradient():
    data = np.array([[0.0, 2.0, -1.0], [0.0, 0.0, 0.0]])
    x = engine.tensor(data, requires_grad=True)
    y = x.norm(p=0, dim=1)
    assert_close(y, torch.tensor(data).norm(p=0, dim=1))
    assert y.grad_fn.name() == "LinalgVectorNormBackward0"
    y.sum().backward()
    assert not x.grad.numpy().any()


def test_norm_refuses_integers_and_matrix_norms():
    with pytest.raises(RuntimeError, match=r"norm\(\): input dtype should be floating point, "
                                           r"got torch.int64"):
        engine.tensor([3, 4]).norm()
    with pytest.raises(RuntimeError, match=r"p='nuc' is not supported"):
        engine.ones(2, 2).norm(p="nuc")
    assert engine.tensor([3, 4]).norm(dtype=engine.float64).item() == 5.0


@needs_torch
@pytest.mark.parametrize("shape,sizes", [((2,), (3,)), ((2, 3), (2, 1, 2)), ((), (2, 2)),
                                         ((2,), (0,)), ((0, 2), (2, 3))])
def test_repeat_matches_torch(shape, sizes):
    data = np.arange(math.prod(shape), dtype=np.float64).reshape(shape)
    assert_close(engine.tensor(data).repeat(*sizes), torch.tensor(data).repeat(*sizes))


@pytest.mark.parametrize("sizes", [(1, 1), (1, 1, 1), (2, 1)])
def test_repeat_always_copies(sizes):
    x = engine.ones(2, 3)
    tiled = x.repeat(*sizes)
    tiled.view(-1)[0] = 5.0  # writable, and not a window onto x
    assert x.sum().item() == 6.0 and tiled.view(-1)[0].item() == 5.0


def test_repeat_errors_name_the_sizes():
    with pytest.raises(RuntimeError, match="Number of dimensions of repeat dims can not be "
                                           "smaller than number of dimensions of tensor"):
        engine.ones(2, 3).repeat(2)
    with pytest.raises(RuntimeError, match=r"negative dimension -2: \[-2, 3\]"):
        engine.ones(2, 3).repeat(-1, 1)


CLOSE_CASES = [
    ([1.0, 2.0, INF, -INF, math.nan, 1.0], [1.0 + 1e-9, 2.1, INF, INF, math.nan, INF]),
    ([0.0, 1e-9, 100.0], [1e-9, 0.0, 100.0005]),
]


@needs_torch
@pytest.mark.parametrize("a,b", CLOSE_CASES)
@pytest.mark.parametrize("equal_nan", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_isclose_matches_torch(a, b, equal_nan, dtype):
    ours = engine.isclose(engine.tensor(a, dtype=getattr(engine, dtype)),
                          engine.tensor(b, dtype=getattr(engine, dtype)), equal_nan=equal_nan)
    theirs = torch.isclose(torch.tensor(a, dtype=getattr(torch, dtype)),
                           torch.tensor(b, dtype=getattr(torch, dtype)), equal_nan=equal_nan)
    assert ours.dtype is engine.bool and ours.tolist() == theirs.tolist()


@needs_torch
def test_isclose_on_integers_bools_and_broadcast_shapes():
    for a, b in [([1, 2, 3], [1, 3, 3]), ([True, False], [True, True])]:
        assert engine.isclose(engine.tensor(a), engine.tensor(b)).tolist() == \
            torch.isclose(torch.tensor(a), torch.tensor(b)).tolist()
    assert engine.isclose(engine.tensor([10, 20]), engine.tensor([11, 20]), rtol=0.1).tolist() \
        == torch.isclose(torch.tensor([10, 20]), torch.tensor([11, 20]), rtol=0.1).tolist()
    assert engine.allclose(engine.ones(2, 1), engine.ones(3))
    assert not engine.ones(2).allclose(engine.tensor([1.0, 1.1]))


def test_isclose_records_nothing_and_refuses_mixed_dtypes():
    x = engine.ones(3, requires_grad=True)
    assert engine.isclose(x, x * 1).grad_fn is None
    with pytest.raises(RuntimeError, match="torch.float32 did not match torch.float64"):
        engine.allclose(engine.ones(2), engine.ones(2, dtype=engine.float64))
    with pytest.raises(RuntimeError, match="rtol=-1"):
        engine.isclose(engine.ones(2), engine.ones(2), rtol=-1)


def _grads_on_both(seed=0):
    """Two Linear layers with the same gradients in engine and in torch."""
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in [(4, 3), (4,), (2, 4), (2,)]]
    grads = [rng.standard_normal(a.shape) * 3 for a in arrays]
    ours = [nn.Parameter(engine.tensor(a)) for a in arrays]
    theirs = [torch.nn.Parameter(torch.tensor(a)) for a in arrays]
    for p, q, g in zip(ours, theirs, grads):
        p.grad, q.grad = engine.tensor(g), torch.tensor(g)
    return ours, theirs


@needs_torch
@pytest.mark.parametrize("norm_type", [2.0, 1, INF, "inf", 3.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e6])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _grads_on_both()
    ours[1].grad = None  # a parameter without a gradient is skipped
    theirs[1].grad = None
    total_e = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert_close(total_e, total_t, rtol=1e-12, what="total norm")
    assert total_e.grad_fn is None
    for p, q in zip(ours, theirs):
        if q.grad is not None:
            assert_close(p.grad, q.grad, rtol=1e-12, what="clipped gradient")


@needs_torch
def test_clip_grad_norm_of_one_tensor_and_of_none():
    ours, theirs = _grads_on_both()
    assert_close(nn.utils.clip_grad_norm_(ours[0], 1.0), torch.nn.utils.clip_grad_norm_(
        theirs[0], 1.0))
    assert_close(ours[0].grad, theirs[0].grad)
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0


@needs_torch
def test_a_non_finite_norm_is_refused_on_request_and_loses_nothing():
    ours, theirs = _grads_on_both()
    ours[2].grad[0, 0] = math.nan
    theirs[2].grad[0, 0] = math.nan
    before = [p.grad.numpy().copy() for p in ours]
    with pytest.raises(RuntimeError, match=r"total norm of order 2.0 of the gradients is nan"):
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    for p, b in zip(ours, before):
        np.testing.assert_array_equal(p.grad.numpy(), b)
    nn.utils.clip_grad_norm_(ours, 1.0)  # without the flag: scaled by NaN, as in PyTorch
    torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(np.isnan(p.grad.numpy()), np.isnan(q.grad.numpy()))


@needs_torch
def test_clip_grad_value_matches_torch():
    ours, theirs = _grads_on_both()
    assert nn.utils.clip_grad_value_(ours, 1.5) is None
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, q in zip(ours, theirs):
        assert_close(p.grad, q.grad, rtol=0, atol=0)


def test_clipping_inside_a_training_step():
    """As a loop uses it: backward, clip, step; the update is the clipped gradient's."""
    engine.manual_seed(0)
    model = nn.Linear(3, 1)
    before = model.weight.detach().clone()
    loss = (model(engine.randn(8, 3) * 100) ** 2).mean()
    loss.backward()
    total = nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    assert total.item() > 1.0
    grads = [p.grad for p in model.parameters()]
    joint = math.sqrt(sum(float((g * g).sum()) for g in grads))
    assert joint == pytest.approx(1.0, rel=1e-5)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    optimizer.step()
    assert_close(model.weight, before - 0.1 * grads[0])
