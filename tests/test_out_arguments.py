"""`out=` on the functional ops (engine/ops/out.py): the result lands in the caller's tensor,
converted, resized or refused as PyTorch does, and a refusal writes nothing."""
import warnings

import numpy as np
import pytest

import engine
from conftest import assert_close, needs_torch, torch

CASES = {
    "matmul": (lambda m, a, b: (m.matmul, (a, b.T), {}), (3, 4), (5, 4)),
    "mul": (lambda m, a, b: (m.mul, (a, b), {}), (3, 4), (4,)),
    "add_alpha": (lambda m, a, b: (m.add, (a, b), {"alpha": 2}), (3, 4), (3, 4)),
    "sum_dim": (lambda m, a, b: (m.sum, (a * b, 1), {"keepdim": True}), (3, 4), (3, 4)),
    "where": (lambda m, a, b: (m.where, (a > 0, a, b), {}), (3, 4), (3, 4)),
    "cat": (lambda m, a, b: (m.cat, ([a, b],), {"dim": 0}), (3, 4), (2, 4)),
    "tanh": (lambda m, a, b: (m.tanh, (a + b,), {}), (3, 4), (4,)),
}


@needs_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_out_receives_the_result_as_in_torch(name):
    make, shape_a, shape_b = CASES[name]
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    fn, args, kwargs = make(engine, engine.tensor(a), engine.tensor(b))
    out = engine.empty(fn(*args, **kwargs).shape, dtype=engine.float64)
    result = fn(*args, out=out, **kwargs)
    tfn, targs, tkwargs = make(torch, torch.tensor(a), torch.tensor(b))
    assert result is out
    assert_close(out, tfn(*targs, **tkwargs), rtol=1e-12)


def test_an_op_with_two_results_fills_a_tuple_of_outs():
    x = engine.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = engine.empty(0), engine.empty(0, dtype=engine.int64)
    result = engine.max(x, 1, out=(values, indices))
    assert result.values is values and result.indices is indices
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    with pytest.raises(TypeError, match=r"max\(\): out= must be a tuple of 2 tensors"):
        engine.max(x, 1, out=values)


def test_out_converts_widening_and_refuses_narrowing_writing_nothing():
    out = engine.zeros(2)
    engine.add(engine.tensor([1, 2]), 1, out=out)  # int64 result into float32
    assert out.dtype is engine.float32 and out.tolist() == [2.0, 3.0]
    ints = engine.tensor([7, 7])
    with pytest.raises(RuntimeError, match=r"mul\(\): the result type torch.float32 can't be "
                                           r"cast to out's type torch.int64"):
        engine.mul(engine.ones(2), 2.5, out=ints)
    assert ints.tolist() == [7, 7]


def test_out_of_another_shape_is_resized_with_a_warning_unless_empty():
    out = engine.zeros(5)
    with pytest.warns(UserWarning, match=r"had shape \[5\], which does not match the required "
                                         r"output shape \[2, 3\]"):
        engine.mul(engine.ones(2, 3), 3, out=out)
    assert out.shape == (2, 3) and out.sum().item() == 18
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.mul(engine.ones(2, 3), 3, out=engine.empty(0))
    base = engine.zeros(4)
    with pytest.raises(RuntimeError, match=r"matmul\(\): out is a view of shape \(2,\)"):
        engine.matmul(engine.ones(2, 2), engine.ones(2, 2), out=base[:2])
    assert base.tolist() == [0.0] * 4


def test_out_refuses_to_record_a_gradient_and_writes_nothing():
    x = engine.ones(2, requires_grad=True)
    out = engine.tensor([5.0, 5.0])
    with pytest.raises(RuntimeError, match=r"mul\(\): out= cannot record a gradient"):
        engine.mul(x, 3, out=out)
    assert out.tolist() == [5.0, 5.0]
    with pytest.raises(RuntimeError, match="out= cannot record a gradient"):
        engine.mul(engine.ones(2), 3, out=engine.zeros(2, requires_grad=True))
    with engine.no_grad():
        assert engine.mul(x, 3, out=out).tolist() == [3.0, 3.0]
    assert out.grad_fn is None


def test_writing_through_out_counts_as_an_in_place_change():
    x = engine.ones(3, requires_grad=True)
    w = engine.tensor([1.0, 2.0, 3.0])
    y = x * w  # saves w for x's gradient
    engine.add(w, 1, out=w)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


@pytest.mark.skipif(not engine.cuda.is_available(), reason="no CUDA device or simulator")
def test_out_on_another_device_is_refused():
    out = engine.zeros(2, device="cuda")
    with pytest.raises(RuntimeError, match=r"add\(\): out is on cuda:0 but the result is on "
                                           r"cpu"):
        engine.add(engine.ones(2), 1, out=out)


def test_operators_and_methods_stay_the_bare_ops():
    assert engine.Tensor.__mul__ is not engine.mul and engine.Tensor.__mul__.__name__ == "mul"
    with pytest.raises(TypeError, match="out"):
        engine.ones(2).mul(2, out=engine.zeros(2))


def test_creation_functions_write_into_out():
    out = engine.ones(2, 3)
    assert engine.zeros(2, 3, out=out) is out and out.sum().item() == 0.0
    assert engine.ones(2, 3, out=out) is out and out.sum().item() == 6.0
    assert engine.empty(2, 3, out=out) is out and tuple(out.shape) == (2, 3)
    with pytest.raises(RuntimeError, match="out="):
        engine.zeros(3, out=engine.ones(3, requires_grad=True))
