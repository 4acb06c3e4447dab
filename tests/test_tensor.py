"""Tensor behaviour against PyTorch: creation, dtypes and promotion, repr, views,
indexing, and the errors that name shapes and dtypes."""
import numpy as np
import pytest

import engine
from conftest import assert_close, needs_torch, torch

DTYPE_NAMES = ["float32", "float64", "int64", "int32", "bool", "uint8", "int16"]


@needs_torch
@pytest.mark.parametrize("a", DTYPE_NAMES)
@pytest.mark.parametrize("b", DTYPE_NAMES)
def test_promotion_matches_torch(a, b):
    def combine(m):
        x, y = m.ones(2, dtype=getattr(m, a)), m.ones(2, dtype=getattr(m, b))
        return x + y

    ours, theirs = combine(engine), combine(torch)
    assert str(ours.dtype) == str(theirs.dtype)


@needs_torch
@pytest.mark.parametrize("case", [
    lambda m: m.ones(2, dtype=m.int32) * 2.5,
    lambda m: m.ones(2, dtype=m.int32) + 3,
    lambda m: m.ones(2) * m.tensor(2.0, dtype=m.float64),
    lambda m: m.ones(2, dtype=m.int64) + m.tensor(2.0, dtype=m.float64),
    lambda m: m.ones(2, dtype=m.bool) + 1,
    lambda m: m.ones(2, dtype=m.uint8) + m.ones(2, dtype=m.int8),
    lambda m: m.tensor([1, 2]) / 2,
    lambda m: m.tensor([1, 2]).exp(),
    lambda m: m.tensor([True, False]).sum(),
    lambda m: m.tensor([1, 2]) > 1.5,
    lambda m: m.tensor(3) ** 2,
    lambda m: m.where(m.tensor([True, False]), 1.0, 0.0),
    lambda m: m.tensor([7, -7, 7, -7]) // m.tensor([2, 2, -2, -2]),
    lambda m: m.tensor([7, -7, 7, -7]) % m.tensor([2, 2, -2, -2]),
    lambda m: m.tensor([7.5, -7.5]) // 2,
    lambda m: m.arange(10) * 3 // 10,
    lambda m: 7 % m.tensor([3.0, -3.0]),
    lambda m: m.round(m.tensor([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, float("nan")])),
    lambda m: m.floor(m.tensor([-1.5, 1.5])) + m.ceil(m.tensor([-1.5, 1.5])),
    lambda m: m.tensor([1, 2]).floor(),
])
def test_scalar_and_zero_dim_promotion_matches_torch(case):
    ours, theirs = case(engine), case(torch)
    assert str(ours.dtype) == str(theirs.dtype)
    assert_close(ours.double(), theirs.double())


@needs_torch
@pytest.mark.parametrize("make", [
    lambda m: m.tensor([1.0, 2.0, 3.0]),
    lambda m: m.tensor([[0.1, 0.25], [3.5, -4.0]]),
    lambda m: m.tensor([1e-5, 1.0, 1000.0]),
    lambda m: m.tensor([1e10, 1.0]),
    lambda m: m.tensor([123456789.0, 1.0]),
    lambda m: m.tensor([float("nan"), float("inf"), -float("inf"), 1.0]),
    lambda m: m.tensor([float("nan"), 2.5]),
    lambda m: m.tensor([0.0, -0.0]),
    lambda m: m.tensor(3.25),
    lambda m: m.tensor(7),
    lambda m: m.tensor([1, -20, 300]),
    lambda m: m.tensor([True, False]),
    lambda m: m.tensor([[1.5, 2.0]], dtype=m.float64),
    lambda m: m.tensor([1, 2], dtype=m.int32),
    lambda m: m.tensor([1, 2], dtype=m.uint8),
    lambda m: m.zeros(0),
    lambda m: m.zeros(2, 0),
    lambda m: m.zeros(0, dtype=m.int64),
    lambda m: m.zeros(3, 0, 2, dtype=m.float64),
    lambda m: m.arange(2000).reshape(40, 50),
    lambda m: m.arange(1001, dtype=m.float32) / 7,
    lambda m: m.arange(60, dtype=m.float64).reshape(3, 4, 5) / 3,
    lambda m: m.arange(25).reshape(5, 5) * 1000000,
    lambda m: m.linspace(-1, 1, 30),
    lambda m: m.ones(2, 3, requires_grad=True),
    lambda m: m.ones(2, requires_grad=True) * 2,
    lambda m: m.ones(2, dtype=m.float64, requires_grad=True).sum(),
    lambda m: m.ones(1, 30, requires_grad=True).exp(),
    lambda m: m.tensor([[1e-7, 1.0], [2.0, 3.0]]),
    lambda m: m.full((4, 4, 4), 1.0 / 3),
])
def test_repr_matches_torch(make):
    assert repr(make(engine)) == repr(make(torch))


@needs_torch
def test_size_device_dtype_repr():
    assert repr(engine.ones(2, 3).shape) == repr(torch.ones(2, 3).shape)
    assert repr(engine.ones(2).device) == repr(torch.ones(2).device)
    assert repr(engine.float64) == repr(torch.float64)
    assert str(engine.device("cuda:1")) == str(torch.device("cuda:1"))


def test_creation_functions():
    assert engine.zeros(2, 3).shape == (2, 3) and engine.zeros((2, 3)).shape == (2, 3)
    assert engine.ones(2).dtype is engine.float32
    assert engine.full((2,), 7).dtype is engine.int64
    assert engine.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert engine.arange(0, 1, 0.25).tolist() == [0, 0.25, 0.5, 0.75]
    assert engine.eye(2).tolist() == [[1, 0], [0, 1]]
    assert engine.zeros_like(engine.ones(2, dtype=engine.int32)).dtype is engine.int32
    assert engine.scalar_tensor(3).item() == 3.0
    assert engine.tensor(np.ones(2, dtype=np.float64)).dtype is engine.float64
    assert engine.tensor([1.5, 2]).dtype is engine.float32
    assert engine.empty(0, 3).numel() == 0
    a = np.arange(3.0)
    shared = engine.from_numpy(a)
    a[0] = 9
    assert shared[0].item() == 9
    copied = engine.tensor(a)
    a[1] = 9
    assert copied[1].item() == 1


def test_random_is_repeatable_under_manual_seed():
    engine.manual_seed(42)
    first = (engine.rand(3), engine.randn(2, 2), engine.randint(0, 10, (4,)))
    engine.manual_seed(42)
    second = (engine.rand(3), engine.randn(2, 2), engine.randint(0, 10, (4,)))
    for a, b in zip(first, second):
        assert a.tolist() == b.tolist()
    assert first[2].dtype is engine.int64 and 0 <= first[2].min().item() < 10
    g = engine.Generator().manual_seed(1)
    assert engine.rand(2, generator=g).tolist() == engine.rand(
        2, generator=engine.Generator().manual_seed(1)).tolist()


def test_views_share_memory():
    x = engine.arange(6.0).reshape(2, 3)
    for view in (x.view(3, 2), x.t(), x.T, x[0], x[:, 1:], x.unsqueeze(0), x.flatten(),
                 x.permute(1, 0), x.expand(2, 2, 3)):
        assert view._data.base is not None
    x.view(-1)[0] = 100
    assert x[0, 0].item() == 100


def test_conversions():
    x = engine.tensor([[1.5, 2.5]])
    assert x.tolist() == [[1.5, 2.5]]
    assert x[0, 1].item() == 2.5
    assert x.long().dtype is engine.int64 and x.long().tolist() == [[1, 2]]
    assert x.double().dtype is engine.float64
    assert x.to(engine.int32).dtype is engine.int32
    assert x.numpy().dtype == np.float32
    assert float(x[0, 0]) == 1.5 and int(engine.tensor(3)) == 3
    assert x.size() == (1, 2) and x.size(1) == 2 and x.dim() == 2 and x.numel() == 2
    assert len(engine.zeros(4, 2)) == 4
    assert [row.tolist() for row in engine.eye(2)] == [[1, 0], [0, 1]]


@needs_torch
@pytest.mark.parametrize("index", [
    (1,), (slice(1, None),), (Ellipsis, 0), (None, 1),
    ([0, 2],), (slice(None), [1, 0]), ([0, 1], [2, 3]), (1, slice(0, 3, 2)),
    (range(3), [1, 0, 3]),  # the "nn really" tutorial's nll: input[range(n), target]
])
def test_indexing_matches_torch(index):
    base = np.arange(12.0).reshape(3, 4)
    ours = engine.tensor(base, requires_grad=True)
    theirs = torch.tensor(base, requires_grad=True)
    a, b = ours[index], theirs[index]
    assert_close(a, b)
    (a * a).sum().backward()
    (b * b).sum().backward()
    assert_close(ours.grad, theirs.grad)


def test_boolean_mask_and_tensor_index():
    x = engine.arange(5.0)
    assert x[x > 2].tolist() == [3.0, 4.0]
    assert x[engine.tensor([4, 0])].tolist() == [4.0, 0.0]
    x[x > 2] = 0.0
    assert x.tolist() == [0.0, 1.0, 2.0, 0.0, 0.0]


# ---- errors: raised at the call, naming what is wrong, changing nothing ---------------

def test_broadcast_error_names_the_shapes():
    with pytest.raises(RuntimeError, match=r"add: shapes \(2, 3\) and \(4,\) cannot be broadcast"):
        engine.ones(2, 3) + engine.ones(4)


def test_matmul_error_names_the_shapes():
    with pytest.raises(RuntimeError, match=r"\(2 x 3 and 4 x 5\)"):
        engine.ones(2, 3) @ engine.ones(4, 5)
    with pytest.raises(RuntimeError, match=r"\(2 x 3 and 2\)"):
        engine.ones(2, 3) @ engine.ones(2)
    with pytest.raises(RuntimeError, match="batch dimensions"):
        engine.ones(2, 2, 3) @ engine.ones(3, 3, 4)


def test_numpy_on_tensor_requiring_grad():
    x = engine.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0, 1.0]


@needs_torch
@pytest.mark.parametrize("value", [np.float64(1.5), np.float32(1.5), np.int32(3),
                                   np.uint8(3), np.bool_(True), 1.5, 3, True,
                                   np.array([1, 2], np.int16)],
                         ids=repr)
def test_tensor_infers_the_dtype_torch_does(value):
    assert str(engine.tensor(value).dtype) == str(torch.tensor(value).dtype)


@needs_torch
@pytest.mark.parametrize("value", [
    [np.float64(1.5)], [np.float64(1.5), 2.0], [1.0, np.float64(1.5)], [np.float32(1.5), 2],
    [np.int32(3)], [np.int32(3), 1], [np.int32(3), 1.0], [np.float32(1), np.float64(2)],
    [[np.float64(1.5), 2.0], [3.0, 4.0]], [[1.0], [np.int32(1)]], [np.int64(1), np.float32(2)],
    [True, np.float32(1)], [np.bool_(True), False], [np.uint8(2), np.int8(1)], [np.int16(2)],
    [np.array([1, 2], np.int32)], [True, 1], [1, 2.0], (1, 2), [], [[]]], ids=repr)
@pytest.mark.parametrize("default", ["float32", "float64"])
@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy.ndarrays")
def test_lists_promote_their_leaves_dtypes_as_torch_does(value, default):
    """Each leaf counts with its own dtype (a Python float as the default float)."""
    engine.set_default_dtype(getattr(engine, default))
    torch.set_default_dtype(getattr(torch, default))
    try:
        assert str(engine.tensor(value).dtype) == str(torch.tensor(value).dtype)
    finally:
        engine.set_default_dtype(engine.float32)
        torch.set_default_dtype(torch.float32)


def test_lists_of_tensors_keep_their_dtype():
    parts = [engine.tensor(1, dtype=engine.int32), engine.tensor(2, dtype=engine.int32)]
    assert engine.tensor(parts).dtype == engine.int32
    assert engine.tensor(parts + [2.5]).dtype == engine.float32


def test_ragged_lists_name_the_position():
    with pytest.raises(ValueError, match=r"expected sequence of length 2 at dim 1 \(got 3\)"):
        engine.tensor([[1, 2], [3, 4, 5]])


def test_unsupported_dtypes():
    with pytest.raises(TypeError, match="complex128"):
        engine.from_numpy(np.ones(2, dtype=np.complex128))
    with pytest.raises(TypeError):
        engine.tensor(["a", "b"])
    with pytest.raises(TypeError, match="expected a Tensor or a number"):
        engine.ones(2) + "x"


def test_reshape_and_view_errors():
    with pytest.raises(RuntimeError, match=r"shape '\[4, 2\]' is invalid for input of size 6"):
        engine.ones(2, 3).reshape(4, 2)
    with pytest.raises(RuntimeError, match="view size is not compatible"):
        engine.ones(2, 3).t().view(6)
    assert engine.ones(2, 3).t().reshape(6).shape == (6,)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0, 4), (3, 0)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("dim", [0, -1])
def test_stack_matches_numpy_for_every_rank_dtype_and_dim(shape, dtype, dim):
    # The kernel has its own path for a batch of samples along dim 0 (the DataLoader's).
    rng = np.random.default_rng(0)
    arrays = [np.asarray(rng.standard_normal(shape) * 3).astype(dtype) for _ in range(5)]
    out = engine.stack([engine.tensor(a) for a in arrays], dim)
    expected = np.stack(arrays, dim)
    assert out.dtype == engine.tensor(arrays[0]).dtype
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("source,target", [
    ((), (3,)), ((1,), (4,)), ((1,), (0,)), ((0,), (0,)), ((2, 1), (3, 2, 5)), ((1, 3), (2, 3)),
    ((3,), (2, 3)), ((2, 3), (2, 3)), ((1, 1, 1), (2, 1, 4)), ((0, 1), (2, 0, 3))])
@pytest.mark.parametrize("layout", ["contiguous", "offset view", "strided view"])
def test_expand_matches_numpy_broadcasting_and_stays_read_only(source, target, layout):
    """The CPU kernel builds contiguous broadcasts itself (numpy's takes ~7 us)."""
    from kernels.cpu import broadcast_to

    rng = np.random.default_rng(0)
    n = int(np.prod(source))
    pool = rng.standard_normal(3 * n + 1).astype(np.float32)
    base = {"contiguous": pool[:n], "offset view": pool[1:n + 1], "strided view": pool[::3][:n]}
    x = base[layout].reshape(source)
    out = broadcast_to(x, target)
    expected = np.broadcast_to(x, target)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_array_equal(out, expected)
    assert not out.flags.writeable and (out.size == 0 or np.shares_memory(out, x))
    t = engine.from_numpy(x.copy())
    np.testing.assert_array_equal(t.expand(target).numpy(), expected)


def test_expand_of_incompatible_shapes_raises():
    from kernels.cpu import broadcast_to

    with pytest.raises(ValueError):
        broadcast_to(np.ones(2), (3,))
    with pytest.raises(ValueError):
        broadcast_to(np.ones((2, 3)), (3,))
    with pytest.raises(RuntimeError, match=r"expanded size of the tensor \(3\) must match the "
                                           r"existing size \(2\)"):
        engine.ones(2).expand(3)


def test_dimension_errors():
    with pytest.raises(IndexError, match=r"range of \[-2, 1\], but got 2"):
        engine.ones(2, 3).sum(2)
    with pytest.raises(RuntimeError, match="Sizes of tensors must match except in dimension 0"):
        engine.cat([engine.ones(2, 3), engine.ones(2, 4)])
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size, but "
                                           r"got \[2\] at entry 0 and \[3\] at entry 2"):
        engine.stack([engine.ones(2), engine.ones(2), engine.ones(3)])
    for join in (engine.stack, engine.cat):
        with pytest.raises(TypeError, match=r"expected Tensor as element 1 in argument 0, "
                                            r"but got int"):
            join([engine.ones(2), 3])
    with pytest.raises(RuntimeError, match=r"The expanded size of the tensor \(4\)"):
        engine.ones(3).expand(4)


def test_inplace_shape_and_dtype_errors_change_nothing():
    x = engine.ones(3)
    with pytest.raises(RuntimeError, match=r"output with shape \[3\] doesn't match the "
                                           r"broadcast shape \[2, 3\]"):
        x.add_(engine.ones(2, 3))
    i = engine.ones(2, dtype=engine.int64)
    with pytest.raises(RuntimeError, match="result type torch.float32 can't be cast"):
        i.add_(engine.ones(2))
    assert x.tolist() == [1, 1, 1] and i.tolist() == [1, 1]


def test_cuda_unavailable_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(engine.cuda, "is_available", lambda: False)  # as on a GPU-less machine
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        engine.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        engine.ones(2).cuda()


def test_grad_assignment_is_checked():
    x = engine.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(3,\)"):
        x.grad = engine.ones(3)
    assert x.grad is None


def test_loss_target_out_of_range_names_index_and_classes():
    logits = engine.randn(3, 5, requires_grad=True)
    with pytest.raises(IndexError, match="target 7 is out of bounds for 5 classes"):
        engine.nn.functional.cross_entropy(logits, engine.tensor([0, 7, 1]))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        engine.nn.functional.binary_cross_entropy(engine.tensor([1.5]), engine.tensor([1.0]))


def test_uniform_and_normal_fill_in_place_and_follow_the_seed():
    x = engine.empty(20000)
    engine.manual_seed(4)
    assert x.uniform_(-2.0, 3.0) is x
    values = x.numpy().copy()
    assert values.min() >= -2.0 and values.max() < 3.0 and abs(values.mean() - 0.5) < 0.05
    engine.manual_seed(4)
    assert x.uniform_(-2.0, 3.0).numpy().tolist() == values.tolist()
    x.normal_(1.0, 0.5)
    assert abs(x.mean().item() - 1.0) < 0.02 and abs(x.std().item() - 0.5) < 0.02
    leaf = engine.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        leaf.uniform_()


def test_bias_rows_are_added_in_place():
    out = engine.zeros(3, 4)
    out.add_(engine.arange(4.0))
    assert out.tolist() == [[0.0, 1.0, 2.0, 3.0]] * 3
    cube = engine.ones(2, 3, 4)
    cube.add_(engine.ones(3, 4))
    assert cube.sum().item() == 48.0


def test_fused_updates_refuse_a_gradient_or_state_of_another_shape_and_change_nothing():
    """optim calls these per parameter; the checks read raw fields, so test them."""
    from engine.ops.update import adam_, sgd_

    p = engine.tensor([1.0, 2.0, 3.0])
    hyper = dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
                 maximize=False, first_step=False)
    with pytest.raises(RuntimeError, match=r"parameter has shape \(3,\) but its gradient or "
                                           r"state has shape \(4,\)"):
        sgd_(p, engine.ones(4), None, **hyper)
    with pytest.raises(RuntimeError, match=r"has shape \(3,\) but .* has shape \(2, 3\)"):
        sgd_(p, engine.ones(3), engine.zeros(2, 3), **hyper)
    with pytest.raises(RuntimeError, match=r"has shape \(3,\) but .* has shape \(\)"):
        adam_(p, engine.ones(3), engine.zeros(3), engine.tensor(0.0), None, lr=0.1,
              beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False,
              amsgrad=False, maximize=False, step=1)
    assert p.tolist() == [1.0, 2.0, 3.0]
    sgd_(p, engine.ones(3), engine.zeros(3), **hyper)
    np.testing.assert_allclose(p.numpy(), [0.9, 1.9, 2.9], rtol=1e-6)


def test_randint_takes_high_and_size_alone_as_pytorch_does():
    engine.manual_seed(0)
    x = engine.randint(7, (500,))
    assert x.dtype is engine.int64 and tuple(x.shape) == (500,)
    assert set(x.tolist()) == set(range(7))


def test_multinomial_draws_per_row_of_a_2d_input():
    engine.manual_seed(0)
    w = engine.tensor([[0.0, 1.0, 3.0], [5.0, 0.0, 0.0]])
    draws = engine.multinomial(w, 300, replacement=True)
    assert tuple(draws.shape) == (2, 300) and draws.dtype is engine.int64
    first = draws[0].numpy()
    assert set(first.tolist()) == {1, 2} and 0.65 < (first == 2).mean() < 0.85
    assert set(draws[1].tolist()) == {0}
    assert sorted(engine.multinomial(w[:1], 2)[0].tolist()) == [1, 2]
    assert tuple(engine.multinomial(w[0], 1).shape) == (1,)


@pytest.mark.parametrize("weights, message", [
    (engine.ones(2, 2, 2), r"1 or 2 dim, got shape \(2, 2, 2\)"),
    (engine.tensor([1.0, -1.0]), "non-negative"),
    (engine.tensor([[1.0, 1.0], [0.0, 0.0]]), "positive sum in every row"),
    (engine.tensor([[1.0, 0.0], [1.0, 1.0]]), "cannot draw 2 samples without replacement "
                                              "from 1 non-zero"),
])
def test_multinomial_refusals(weights, message):
    with pytest.raises(RuntimeError, match=message):
        engine.multinomial(weights, 2)


def test_a_0d_tensor_formats_as_its_number():
    loss = engine.tensor(0.123456)
    assert f"{loss:.3f}" == "0.123" and f"{engine.tensor(7):>3d}" == "  7"
    assert f"{engine.ones(2)}" == repr(engine.ones(2))
    with pytest.raises(TypeError):
        f"{engine.ones(2):.3f}"


def test_equal_needs_the_same_shape_and_elements():
    a = engine.tensor([[1.0, 2.0]])
    assert engine.equal(a, engine.tensor([[1.0, 2.0]])) is True
    assert a.equal(engine.tensor([1.0, 2.0])) is False  # broadcastable is not equal
    assert engine.equal(a, engine.tensor([[1.0, 2.5]])) is False
    nan = engine.tensor([float("nan")])
    assert engine.equal(nan, nan) is False


@needs_torch
@pytest.mark.parametrize("name", ["FloatTensor", "DoubleTensor", "LongTensor", "IntTensor",
                                  "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"])
def test_typed_constructors_are_pytorchs(name):
    ours, theirs = getattr(engine, name), getattr(torch, name)
    data = [[1, 0, 2], [3, 1, 0]]
    made = ours(data)
    assert str(made.dtype) == str(theirs(data).dtype) and made.tolist() == theirs(data).tolist()
    assert ours(np.array(data, dtype=np.int32)).tolist() == theirs(data).tolist()
    assert tuple(ours(2, 3).shape) == (2, 3) and tuple(ours().shape) == (0,)
    assert isinstance(made, ours) and not isinstance(made.double() if name != "DoubleTensor"
                                                     else made.float(), ours)
    assert ours(engine.tensor([1.0, 0.0])).dtype is made.dtype
    with pytest.raises(TypeError, match=f"{name}\\(\\): expected one sequence"):
        ours([1], [2])


@needs_torch
@pytest.mark.parametrize("call", [
    lambda m, x: m.nonzero(x), lambda m, x: m.argwhere(x > 0),
    lambda m, x: m.nonzero(x, as_tuple=True), lambda m, x: m.nonzero(x[0, 0]),
])
def test_nonzero_and_argwhere_match_torch(call):
    data = np.array([[[0, 1.5], [2, 0]], [[0, 0], [-1, 3]]])
    ours, theirs = call(engine, engine.tensor(data)), call(torch, torch.tensor(data))
    if isinstance(theirs, tuple):
        assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    else:
        assert ours.tolist() == theirs.tolist() and ours.dtype is engine.int64
        assert tuple(ours.shape) == tuple(theirs.shape)


def test_scatter_and_index_ops_refuse_bad_arguments():
    x = engine.zeros(3, 4)
    with pytest.raises(TypeError, match="needs src or value"):
        x.scatter(1, engine.tensor([[0]]))
    with pytest.raises(RuntimeError, match="reduce is not supported"):
        x.scatter(1, engine.tensor([[0]]), 1.0, reduce="add")
    with pytest.raises(RuntimeError, match=r"index of shape \(2, 1\) must be 1-d"):
        x.index_add(0, engine.tensor([[0], [1]]), engine.ones(2, 4))
    with pytest.raises(RuntimeError, match=r"one non-negative entry per slice \(3\)"):
        x.repeat_interleave(engine.tensor([1, 2]), dim=0)
    with pytest.raises(ValueError, match="indexing must be one of 'xy' or 'ij'"):
        engine.meshgrid(engine.ones(2), indexing="yx")


def _nan_aware_and_shape_calls(m):
    """Calls on NaNs, infinities and edge arguments, for engine and torch alike: each
    result as a list, or an error by its type."""
    x = m.tensor([[1.0, float("nan"), 3.0], [float("inf"), -2.0, float("-inf")]])
    y = m.tensor([[float("nan"), 0.0, 4.0], [1.0, float("nan"), 0.0]])
    out = {}

    def call(name, fn):
        try:
            value = fn()
            out[name] = value.tolist() if hasattr(value, "tolist") else value
        except Exception as error:  # noqa: BLE001 - the error's type is the result
            out[name] = type(error).__name__

    call("nansum", lambda: [x.nansum().item(), x.nansum(1).tolist()])
    call("nanmean", lambda: [y.nanmean().item(), y.nanmean(0).tolist()])
    call("nanmean of ints", lambda: m.tensor([1, 2]).nanmean())
    call("fmax", lambda: m.fmax(x, y))
    call("fmin", lambda: x.fmin(y))
    call("isposinf", lambda: x.isposinf())
    call("isneginf", lambda: m.isneginf(x))
    call("positive of bools", lambda: m.positive(m.tensor([True])))
    call("logit eps", lambda: m.tensor([0.0, 0.5, 1.0]).logit(eps=0.25))
    call("tensor_split 0 sections", lambda: m.arange(4).tensor_split(0))
    call("tensor_split sizes", lambda: [p.shape[0] for p in m.arange(7).tensor_split(3)])
    call("movedim mismatch", lambda: m.ones(2, 3).movedim((0, 1), 0))
    call("movedim repeated", lambda: m.ones(2, 3).movedim((0, 0), (1, 0)))
    call("rot90 one dim", lambda: m.ones(3).rot90())
    call("rot90 same dims", lambda: m.ones(2, 2).rot90(1, (1, 1)))
    call("rot90 k=4", lambda: m.arange(4).reshape(2, 2).rot90(4))
    call("tile", lambda: m.arange(3).tile((2, 2)))
    call("kron vectors", lambda: m.kron(m.tensor([1, 2]), m.tensor([1, 10, 100])))
    call("in-place", lambda: [m.ones(3, 3).tril_(-1).tolist(), m.ones(3, 3).triu_().tolist(),
                              m.ones(2).addcmul_(m.ones(2), m.ones(2) * 3, value=2).tolist()])
    call("sizes", lambda: [m.ones(2, 3).ndimension(), m.ones(2, 3).nbytes,
                           m.ones(2, dtype=m.float64).itemsize, m.ones(2, 3).ravel().shape[0]])
    call("linalg methods", lambda: [round(m.tensor([[2.0, 1.0], [1.0, 3.0]]).det().item(), 6),
                                    m.tensor([[2.0, 0.0], [0.0, 4.0]]).inverse().tolist(),
                                    m.tensor([[-1.0, 0.0], [0.0, 1.0]]).logdet().item() != 0,
                                    m.logdet(m.zeros(2, 2)).item()])
    return out


@needs_torch
def test_nan_aware_reductions_and_shape_helpers_as_in_pytorch():
    ours, theirs = _nan_aware_and_shape_calls(engine), _nan_aware_and_shape_calls(torch)

    def same(a, b):  # as ==, but NaN equals NaN
        if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
            return len(a) == len(b) and all(map(same, a, b))
        return a == b or (a != a and b != b)

    for key in theirs:
        assert same(ours[key], theirs[key]), (key, ours[key], theirs[key])
