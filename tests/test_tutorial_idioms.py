"""Spellings that PyTorch's tutorials and examples use, against torch: legacy
constructors and type names, in-place indexing and view ops, thread and determinism
switches, torch.testing.assert_close's verdicts, searchsorted/bucketize/diff."""
import numpy as np
import pytest

import engine
from conftest import needs_torch, torch

pytestmark = needs_torch


def test_legacy_constructor_and_type_names():
    for lib in (engine, torch):
        assert tuple(lib.Tensor(2, 3).shape) == (2, 3) and lib.Tensor(2, 3).dtype is lib.float32
        assert tuple(lib.Tensor().shape) == (0,)
        assert lib.Tensor([1, 2]).dtype is lib.float32
        x = lib.ones(2, dtype=lib.int64)
        assert x.type() == "torch.LongTensor" and x.half().type() == "torch.HalfTensor"
        assert x.type("torch.FloatTensor").dtype is lib.float32
        assert x.type(lib.DoubleTensor).dtype is lib.float64
        assert x.type(lib.float16).dtype is lib.float16
    with pytest.raises(ValueError, match="invalid type: 'torch.Flot'"):
        engine.ones(1).type("torch.Flot")
    with pytest.raises(TypeError, match="integer sizes"):
        engine.Tensor(2, 2.5)


@pytest.mark.parametrize("op", [
    lambda m, x: x.scatter_(1, m.tensor([[0], [2]]), 1.5),
    lambda m, x: x.scatter_(1, m.tensor([[0, 1], [2, 2]]), m.ones(2, 2) * 3),
    lambda m, x: x.scatter_add_(1, m.tensor([[0, 0], [2, 1]]), m.ones(2, 2)),
    lambda m, x: x.index_add_(1, m.tensor([0, 0]), m.ones(2, 2), alpha=2),
    lambda m, x: x.index_fill_(1, m.tensor([1]), -1.0),
    lambda m, x: x.unsqueeze_(0),
    lambda m, x: x.squeeze_().unsqueeze_(-1).squeeze_(-1),
    lambda m, x: x.t_(),
    lambda m, x: x.transpose_(0, 1),
], ids=["scatter_value", "scatter_src", "scatter_add", "index_add", "index_fill",
        "unsqueeze", "squeeze", "t", "transpose"])
def test_in_place_indexing_and_view_ops_match_torch(op):
    base = np.arange(6, dtype=np.float32).reshape(2, 3)
    results, grads = [], []
    for m in (engine, torch):
        leaf = m.tensor(base, requires_grad=True)
        x = leaf * 1  # not a leaf: in-place ops record themselves
        y = op(m, x)
        assert y is x
        (y * m.arange(y.numel(), dtype=m.float32).reshape(y.shape)).sum().backward()
        results.append(y.detach().numpy())
        grads.append(leaf.grad.numpy())
    np.testing.assert_array_equal(*results)
    np.testing.assert_array_equal(*grads)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        engine.ones(2, requires_grad=True).unsqueeze_(0)


def test_threads_and_determinism_switches():
    n = engine.get_num_threads()
    assert n >= 1
    engine.set_num_threads(1)
    assert engine.get_num_threads() == 1
    engine.set_num_threads(n)
    with pytest.raises(ValueError, match="positive integer"):
        engine.set_num_threads(0)
    engine.set_num_interop_threads(2)
    assert engine.get_num_interop_threads() == 2
    assert not engine.are_deterministic_algorithms_enabled()
    engine.use_deterministic_algorithms(True, warn_only=True)
    assert engine.are_deterministic_algorithms_enabled()
    assert engine.is_deterministic_algorithms_warn_only_enabled()
    engine.use_deterministic_algorithms(False)
    assert not engine.are_deterministic_algorithms_enabled()


CLOSE_CASES = [
    lambda m: (m.tensor([1.0, 2.0]), m.tensor([1.0, 2.1])),
    lambda m: (m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0 + 1e-7])),
    lambda m: (m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0], dtype=m.float64)),
    lambda m: (m.tensor([1.0, 2.0]), m.tensor([1.0, 2.0, 3.0])),
    lambda m: (m.tensor([[1, 2], [3, 4]]), m.tensor([[1, 2], [3, 5]])),
    lambda m: (m.tensor([1.0, 2.0], dtype=m.float64), m.tensor([1.0, 2.3], dtype=m.float64)),
    lambda m: ([m.tensor(1.0), m.tensor(2.0)], [m.tensor(1.0), m.tensor(2.5)]),
    lambda m: ({"w": m.tensor([1.0])}, {"w": m.tensor([1.5])}),
    lambda m: (m.tensor(3), m.tensor(4)),
    lambda m: (m.tensor([1.0, float("nan")]), m.tensor([1.0, float("nan")])),
    lambda m: (m.tensor([1.0, 2.0], dtype=m.bfloat16), m.tensor([1.0, 2.01], dtype=m.bfloat16)),
]


@pytest.mark.parametrize("case", CLOSE_CASES)
def test_assert_close_gives_torchs_verdict_and_words(case):
    def verdict(m, **options):
        try:
            m.testing.assert_close(*case(m), **options)
            return None
        except AssertionError as error:
            return str(error)

    assert verdict(engine) == verdict(torch)
    assert verdict(engine, equal_nan=True) == verdict(torch, equal_nan=True)
    assert verdict(engine, rtol=0.1, atol=0.0) == verdict(torch, rtol=0.1, atol=0.0)


def test_assert_close_options_in_words():
    with pytest.raises(ValueError, match="Both 'rtol' and 'atol'"):
        engine.testing.assert_close(engine.ones(1), engine.ones(1), rtol=1e-3)
    engine.testing.assert_close(engine.ones(1), engine.ones(1, dtype=engine.float64),
                                check_dtype=False)
    with pytest.raises(AssertionError, match="^custom$"):
        engine.testing.assert_close(engine.ones(1), engine.zeros(1), msg="custom")


@pytest.mark.parametrize("kwargs", [{}, {"n": 2}, {"dim": 0}, {"n": 3, "dim": 1},
                                    {"prepend": "p"}, {"append": "a", "n": 2}])
def test_diff_values_and_gradients_match_torch(kwargs):
    x = np.random.default_rng(0).standard_normal((3, 4))
    results = []
    for m in (engine, torch):
        t = m.tensor(x, requires_grad=True)
        options = dict(kwargs)
        if options.get("prepend") == "p":
            options["prepend"] = m.ones(3, 1, dtype=m.float64)
        if options.get("append") == "a":
            options["append"] = m.zeros(3, 2, dtype=m.float64)
        out = m.diff(t, **options)
        (out * out).sum().backward()
        results.append((out.detach().numpy(), t.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    flags = [m.tensor([True, True, False]).diff() for m in (engine, torch)]
    assert flags[0].tolist() == flags[1].tolist()


def test_walking_a_linear_layers_history_meets_what_torchs_does():
    """The 60-minute blitz walks loss.grad_fn.next_functions: MSELoss, then the last
    linear layer (AddmmBackward0), whose first input is its bias (AccumulateGrad) and
    whose second is the ReLU before it."""
    names = []
    for m in (engine, torch):
        m.manual_seed(0)
        net = m.nn.Sequential(m.nn.Linear(4, 3), m.nn.ReLU(), m.nn.Linear(3, 2))
        loss = m.nn.MSELoss()(net(m.randn(5, 4)), m.arange(1, 11).view(5, 2))
        addmm = loss.grad_fn.next_functions[0][0]
        names.append((loss.grad_fn.name(), addmm.name(),
                      [f.name() for f, _ in addmm.next_functions[:2]]))
    assert names[0][:2] == names[1][:2]
    assert names[0][2][1] == names[1][2][1] == "ReluBackward0"
    assert names[0][2][0].endswith("AccumulateGrad") and names[1][2][0].endswith("AccumulateGrad")
