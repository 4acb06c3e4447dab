"""Inputs that used to give silently wrong numbers: each now gives PyTorch's number, or
PyTorch's kind of error with a message naming the problem."""
import math

import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")
F = engine.nn.functional


def _both(fn, *arrays, grad=True):
    """fn on engine and on torch over the same float arrays: (values, grads) of each."""
    results = []
    for lib in (engine, torch):
        leaves = [lib.tensor(a, requires_grad=grad) for a in arrays]
        out = fn(lib, *leaves)
        if grad:
            out.sum().backward()
        results.append((out.detach().numpy(), [x.grad.numpy() for x in leaves] if grad
                        else []))
    return results


@pytest.mark.parametrize("dtype, big", [(np.float64, 1e16), (np.float32, 1e30),
                                        (np.float64, -1e300), (np.float32, 3e38)])
@pytest.mark.parametrize("op", ["log_softmax", "cross_entropy", "softmax", "logsumexp"])
def test_equal_huge_logits(op, dtype, big):
    x = np.array([[big, big, big - abs(big) * 1e-7], [1.0, 2.0, 3.0]], dtype)
    fns = {"log_softmax": lambda L, t: L.log_softmax(t, 1),
           "softmax": lambda L, t: L.softmax(t, 1),
           "logsumexp": lambda L, t: L.logsumexp(t, 1),
           "cross_entropy": lambda L, t: L.nn.functional.cross_entropy(
               t, L.tensor([0, 2]), reduction="none")}
    (ours, our_grads), (theirs, their_grads) = _both(fns[op], x)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(our_grads[0], their_grads[0], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("fn", ["nll_loss", "cross_entropy"])
def test_every_target_ignored(fn, reduction):
    x = np.random.default_rng(0).standard_normal((3, 4))

    def loss(L, t):
        logits = t.log_softmax(1) if fn == "nll_loss" else t
        return getattr(L.nn.functional, fn)(logits, L.tensor([-100, -100, 7])[:3] * 0 - 100,
                                            reduction=reduction)

    (ours, our_grads), (theirs, their_grads) = _both(loss, x)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(theirs))
    np.testing.assert_array_equal(our_grads[0], their_grads[0])
    assert not np.isnan(our_grads[0]).any()


@pytest.mark.parametrize("op", ["floor_divide", "remainder", "fmod"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_division_by_zero(op, dtype):
    a = np.array([1.0, -1.0, 0.0, 7.5, -7.5, np.inf], dtype)
    b = np.array([0.0, 0.0, 0.0, -2.0, -0.0, 0.0], dtype)
    (ours, _), (theirs, _) = _both(lambda L, x, y: getattr(L, op)(x, y), a, b, grad=False)
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("call", [lambda L, a, b: a // b, lambda L, a, b: a % b,
                                  lambda L, a, b: L.fmod(a, b),
                                  lambda L, a, b: L.floor_divide(a, int(b[1])),
                                  lambda L, a, b: L.remainder(a, b.to(L.int32))])
def test_integer_division_by_zero_raises(call):
    for lib in (engine, torch):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            call(lib, lib.tensor([3, 4]), lib.tensor([1, 0]))
    with pytest.raises(ZeroDivisionError):  # also the Python kind, for except clauses
        call(engine, engine.tensor([3, 4]), engine.tensor([1, 0]))
    assert call(engine, engine.tensor([7, -7]), engine.tensor([2, 2])).tolist() == \
        call(torch, torch.tensor([7, -7]), torch.tensor([2, 2])).tolist()


@pytest.mark.parametrize("value, dtype, error", [
    (2 ** 63, None, ValueError), (-2 ** 63 - 1, None, ValueError), (2 ** 70, None, ValueError),
    (2 ** 40, "int32", RuntimeError), (300, "uint8", RuntimeError),
    (128, "int8", RuntimeError), (-129, "int8", RuntimeError)])
def test_integers_that_do_not_fit_are_refused(value, dtype, error):
    for lib in (engine, torch):
        with pytest.raises(error, match="Overflow|overflow"):
            lib.tensor([1, value], dtype=dtype and getattr(lib, dtype))


@pytest.mark.parametrize("value, dtype", [(2 ** 63 - 1, None), (-2 ** 63, None),
                                          (-1, "uint8"), (255, "uint8"), (-128, "int8")])
def test_integers_at_the_edges_are_kept(value, dtype):
    ours = engine.tensor([value], dtype=dtype and getattr(engine, dtype))
    assert ours.tolist() == torch.tensor([value], dtype=dtype and getattr(torch, dtype)).tolist()


@pytest.mark.parametrize("call", [
    lambda L: L.ones(2, 3) @ L.ones(3, 2, dtype=L.float64),
    lambda L: L.ones(2, 3, dtype=L.int64) @ L.ones(3, 2),
    lambda L: L.mm(L.ones(2, 3), L.ones(3, 2, dtype=L.float64)),
    lambda L: L.bmm(L.ones(1, 2, 3), L.ones(1, 3, 2, dtype=L.float64)),
    lambda L: L.mv(L.ones(2, 3), L.ones(3, dtype=L.float64)),
    lambda L: L.dot(L.ones(3), L.ones(3, dtype=L.float64)),
    lambda L: L.ones(3) @ L.ones(3, 2, dtype=L.float64),
    lambda L: L.nn.functional.linear(L.ones(2, 3), L.ones(4, 3, dtype=L.float64)),
    lambda L: L.addmm(L.ones(2, dtype=L.float64), L.ones(2, 3), L.ones(3, 2)),
])
def test_products_of_mixed_dtypes_raise(call):
    for lib in (engine, torch):
        with pytest.raises(RuntimeError):
            call(lib)
    with pytest.raises(RuntimeError, match=r"torch.float32, torch.float64|torch.int64, "
                                           r"torch.float32|torch.float64, torch.float32"):
        call(engine)


def test_products_of_bool_raise_and_of_integers_compute():
    t = engine.ones(2, 3, dtype=engine.bool)
    with pytest.raises(RuntimeError, match="torch.bool"):
        t @ t.T
    ints = engine.arange(6).reshape(2, 3)
    assert (ints @ ints.T).tolist() == (torch.arange(6).reshape(2, 3) @
                                        torch.arange(6).reshape(2, 3).T).tolist()


@pytest.mark.parametrize("p, y, name", [([float("nan"), 0.5], [1.0, 0.0], "input"),
                                        ([0.3, 1.5], [1.0, 0.0], "input"),
                                        ([0.3, 0.5], [1.5, 0.0], "target"),
                                        ([0.3, 0.5], [-0.1, 0.0], "target"),
                                        ([0.3, 0.5], [float("nan"), 0.0], "target")])
def test_binary_cross_entropy_outside_0_1(p, y, name):
    for lib in (engine, torch):
        with pytest.raises(RuntimeError, match=f"all elements of {name} should be between "
                                               f"0 and 1"):
            lib.nn.functional.binary_cross_entropy(lib.tensor(p), lib.tensor(y))


@pytest.mark.parametrize("call", [
    lambda m, x, i: m.gather(x, 1, i),
    lambda m, x, i: x.scatter_add(1, i, m.ones(i.shape, dtype=x.dtype)),
    lambda m, x, i: x.scatter(1, i, 2.0)])
@pytest.mark.parametrize("bad", [3, -1])
def test_gather_and_scatter_out_of_range_in_torchs_words(call, bad):
    """Checked by the kernels themselves (so a compiled replay checks too), as PyTorch
    words it; nothing is read or written out of bounds."""
    for lib in (engine, torch):
        x = lib.zeros(2, 3)
        with pytest.raises(RuntimeError, match=f"index {bad} is out of bounds for dimension "
                                               f"1 with size 3"):
            call(lib, x, lib.tensor([[0], [bad]]))
    compiled = engine.compile(lambda x, i: call(engine, x, i), fullgraph=True)
    x = engine.ones(2, 3)
    assert compiled(x, engine.tensor([[2], [0]])).tolist() == call(
        engine, x, engine.tensor([[2], [0]])).tolist()
    with pytest.raises(RuntimeError, match=f"index {bad} is out of bounds"):
        compiled(x, engine.tensor([[0], [bad]]))


def test_empty_median_softmax_and_log_softmax():
    x = engine.zeros(0, requires_grad=True)
    m = x.median()
    assert math.isnan(m.item()) and math.isnan(torch.zeros(0).median().item())
    m.backward()
    assert x.grad.shape == (0,)
    for shape, dim in [((0,), 0), ((2, 0), 1), ((0, 3), 1), ((2, 0, 3), 1)]:
        for fn in ("softmax", "log_softmax"):
            t = engine.zeros(shape, requires_grad=True)
            out = getattr(engine, fn)(t, dim)
            assert out.shape == getattr(torch, fn)(torch.zeros(shape), dim).shape
            out.sum().backward()
            assert t.grad.shape == shape


@pytest.mark.skipif(not engine.cuda.is_available(), reason="no CUDA device or simulator")
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the simulator's numpy scalars warn
def test_the_cuda_kernels_agree():
    a = engine.tensor([1.0, -1.0, 0.0, 7.5])
    b = engine.tensor([0.0, 0.0, 0.0, -2.0])
    for op in (engine.floor_divide, engine.remainder, engine.fmod):
        np.testing.assert_array_equal(op(a.cuda(), b.cuda()).cpu().numpy(), op(a, b).numpy())
    x = engine.tensor([[1e30, 1e30, 0.0]], requires_grad=True)
    for fn in (lambda t: engine.log_softmax(t, 1),
               lambda t: F.cross_entropy(t, engine.tensor([1], device=t.device))):
        np.testing.assert_allclose(fn(x.cuda()).detach().cpu().numpy(),
                                   fn(x).detach().numpy(), rtol=1e-6)
    assert engine.softmax(engine.zeros(2, 0, device="cuda"), 1).shape == (2, 0)
