"""The CUDA backend against the CPU one: every op in the table, forward and backward.

Runs on numba's CUDA simulator in CI (see conftest.py) and on a real GPU where one is
present. The CPU results are the reference: they are themselves checked against
PyTorch in test_op_sweep.py. Shapes are tiny because the simulator runs each GPU
thread as a Python thread.
"""
import warnings

import numpy as np
import pytest

import engine
from engine import nn, optim
from op_specs import SPECS, make_array
from conftest import assert_close

# slow: the simulator runs every GPU thread in Python (about 3 minutes for the module)
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not engine.cuda.is_available(), reason="no CUDA device or "
                                 "simulator")]

CUDA = engine.device("cuda:0")


def _leaves(spec, float_dtype, device, strided, seed=0):
    """The spec's inputs as leaves on `device`, and the tensors handed to the op.

    With strided=True each float input is a non-contiguous view of its leaf: a
    transposed copy transposed back (2-d and up) or every other element (1-d).
    """
    rng = np.random.default_rng(seed)
    leaves, inputs = [], []
    for arg in spec.args:
        array = make_array(arg, rng, float_dtype)
        grad = arg.grad and array.dtype.kind == "f"
        if strided and grad and array.ndim >= 2:
            leaf = engine.tensor(np.ascontiguousarray(array.swapaxes(-1, -2)), device=device,
                                 requires_grad=True)
            view = leaf.transpose(-1, -2)
        elif strided and grad and array.ndim == 1:
            leaf = engine.tensor(np.repeat(array, 2), device=device, requires_grad=True)
            view = leaf[::2]
        else:
            leaf = view = engine.tensor(array, device=device, requires_grad=grad)
        leaves.append(leaf)
        inputs.append(view)
    return leaves, inputs


def _run(spec, float_dtype, device, strided, call=None, seed=0):
    leaves, inputs = _leaves(spec, float_dtype, device, strided, seed)
    out = call(*inputs) if call else spec.fn(engine, *inputs)
    n = max(out.numel(), 1)
    weights = engine.linspace(0.5, 1.5, n, dtype=out.dtype, device=device)[:out.numel()]
    (out * weights.reshape(out.shape)).sum().backward()
    return out, [leaf.grad for leaf in leaves]


VARIANTS = [(np.float32, False), (np.float32, True), (np.float64, False)]


# A composite spec runs once: its dtypes and strides are swept through its parts' specs.
CASES = [pytest.param(spec, dtype, strided, id=f"{spec.name}-{vid}")
         for spec in SPECS
         for (dtype, strided), vid in zip(VARIANTS, ["f32", "f32-strided", "f64"])
         if not (spec.composite and vid != "f32")]


@pytest.mark.parametrize("spec,float_dtype,strided", CASES)
def test_matches_cpu(spec, float_dtype, strided):
    try:
        expected, expected_grads = _run(spec, float_dtype, "cpu", strided)
    except RuntimeError as e:  # view() of a non-contiguous input: both devices refuse
        with pytest.raises(RuntimeError, match=str(e)[:30]):
            _run(spec, float_dtype, CUDA, strided)
        return
    got, grads = _run(spec, float_dtype, CUDA, strided)
    assert got.device == CUDA and got.dtype == expected.dtype
    rtol, atol = (1e-4, 1e-5) if float_dtype == np.float32 else (1e-9, 1e-10)
    assert_close(got.cpu(), expected, rtol, atol, what=f"{spec.name} forward")
    for i, (g, e) in enumerate(zip(grads, expected_grads)):
        assert (g is None) == (e is None), f"{spec.name}: gradient {i} missing on one device"
        if e is not None:
            assert g.device == CUDA
            assert_close(g.cpu(), e, rtol, atol, what=f"{spec.name} grad of input {i}")


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_compiled_matches_eager_on_cuda(spec):
    """engine.compile's fused groups as generated CUDA kernels: the trace (an eager run)
    and a replay give the same values and gradients. Ops whose graph has no fused group
    replay through the backend calls the CPU tests of compile already cover."""
    compiled = engine.compile(lambda *xs: spec.fn(engine, *xs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ops a trace cannot capture run eagerly
        expected, expected_grads = _run(spec, np.float32, CUDA, False, compiled)
    if compiled.eager_reason or not any("members" in graph.nodes[n]
                                        for graph in compiled.graphs for n in graph):
        pytest.skip("no fused CUDA kernel in this graph")
    got, grads = _run(spec, np.float32, CUDA, False, compiled)
    assert_close(got.cpu(), expected.cpu(), 1e-5, 1e-6, what=f"{spec.name} forward")
    for g, e in zip(grads, expected_grads):
        assert (g is None) == (e is None)
        if e is not None:
            assert_close(g.cpu(), e.cpu(), 1e-5, 1e-6, what=f"{spec.name} gradient")


@pytest.mark.parametrize("reduce, dims, keepdim", [("sum", None, False), ("sum", (1,), False),
                                                   ("mean", (1, 2), True)])
def test_a_sum_absorbs_its_chain_on_cuda_in_one_launch(reduce, dims, keepdim):
    """The fused sum kernel (kernels/cuda/fused.py) equals the chain and the sum kernel
    launched apart, bit for bit: each thread sums its stride of the reduced axes in the
    same order; a 0-d input is read as a number; a transposed input is copied first."""
    from bench.launches import Launches

    def f(x, y, s):
        chain = (x * y + s).tanh() * 2.0
        method = getattr(chain, reduce)
        return method(keepdim=keepdim) if dims is None else method(dims, keepdim)

    compiled = engine.compile(f)
    rng = np.random.default_rng(0)
    s = engine.tensor(np.float32(0.5), device="cuda")
    for transposed in (False, True, False):
        x, y = (engine.tensor(rng.standard_normal((3, 4, 5)).astype(np.float32),
                              device="cuda") for _ in range(2))
        if transposed:
            x = engine.tensor(rng.standard_normal((5, 4, 3)).astype(np.float32),
                              device="cuda").permute(2, 1, 0)
        with Launches() as launches:
            got = compiled(x, y, s)
        np.testing.assert_array_equal(got.cpu().numpy(), f(x, y, s).cpu().numpy())
    assert launches.count == 1 + (reduce == "mean")  # the mean's division: a launch
    source = compiled.explain().split("forward:")[1]
    assert f"fused[mul+add+tanh+mul+{reduce}]" in source, source


@pytest.mark.parametrize("reduce, dims", [("sum", (0,)), ("mean", (1, 2))])
def test_a_group_read_by_a_product_too_sums_its_values_in_the_same_launch(reduce, dims):
    """A bias gradient's pattern on CUDA: the chain's values go to a product and to a
    sum; one launch writes the values and sums them, bit for bit as the chain's kernel
    and the sum kernel launched apart."""
    from bench.launches import Launches

    def f(x, y):
        chain = (x * y + 0.5).tanh()
        return chain.reshape(-1, 5) @ ones, getattr(chain, reduce)(dims) * 3

    ones = engine.ones(5, 2, device="cuda")
    compiled = engine.compile(f)
    rng = np.random.default_rng(0)
    for _ in range(2):
        x, y = (engine.tensor(rng.standard_normal((3, 4, 5)).astype(np.float32),
                              device="cuda") for _ in range(2))
        got = compiled(x, y)
        for a, b in zip(got, f(x, y)):
            np.testing.assert_array_equal(a.cpu().numpy(), b.cpu().numpy())
    source = compiled.explain().split("forward:")[1]
    assert f"fused[mul+add+tanh+{reduce}]" in source, source
    with Launches() as launches:
        compiled(x, y)
    # the group with its sum, the product, the sum's * 3; a mean's division
    assert launches.count == 3 + (reduce == "mean")


# ---- training ------------------------------------------------------------------------

def _mlp_losses(device, steps=3):
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).to(device)
    opt = optim.Adam(model.parameters(), lr=0.01)
    rng = np.random.default_rng(0)
    x = engine.tensor(rng.standard_normal((5, 6)).astype(np.float32), device=device)
    y = engine.tensor(rng.integers(0, 3, 5), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, model


def test_mlp_with_adam_trains_the_same_on_both_devices():
    cpu_losses, cpu_model = _mlp_losses("cpu")
    gpu_losses, gpu_model = _mlp_losses("cuda")
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-5)
    for (name, p), q in zip(cpu_model.named_parameters(), gpu_model.parameters()):
        assert q.device == CUDA, name
        assert_close(q.cpu(), p, 1e-5, 1e-6, what=name)


def test_a_transformer_layer_gives_the_same_values_and_gradients_on_both_devices():
    engine.manual_seed(0)
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=8, dropout=0.0)
    x = engine.randn(3, 2, 4)
    padding = engine.tensor([[False, False, True], [False, False, False]])
    results = []
    for device in ("cpu", "cuda"):
        layer.to(device)
        layer.zero_grad()
        xd = x.to(device).detach().requires_grad_()  # a leaf on each device
        out = layer(xd, src_key_padding_mask=padding.to(device))
        (out * out).sum().backward()
        found = [out, xd.grad] + [p.grad for p in layer.parameters()]
        assert all(t.device.type == device for t in found)
        results.append([t.cpu().detach().clone() for t in found])  # before the layer moves
    for ours, cpu in zip(results[1], results[0]):
        assert_close(ours, cpu, 1e-5, 1e-6)


def test_embedding_bag_gives_the_same_bags_and_gradient_on_both_devices():
    engine.manual_seed(0)
    bag = nn.EmbeddingBag(6, 3, mode="max", padding_idx=2)
    indices, offsets = engine.tensor([1, 2, 3, 2, 5]), engine.tensor([0, 2, 2])
    results = []
    for device in ("cpu", "cuda"):
        bag.to(device)
        bag.zero_grad()
        out = bag(indices.to(device), offsets.to(device))
        (out * out).sum().backward()
        assert out.device.type == bag.weight.grad.device.type == device
        results.append([out.cpu(), bag.weight.grad.cpu().clone()])
    for ours, cpu in zip(results[1], results[0]):
        assert_close(ours, cpu, 1e-6, 1e-7)


def test_logical_not_of_a_bool_mask():
    mask = engine.tensor([[True, False], [False, False]], device="cuda")
    assert (~mask).cpu().tolist() == [[False, True], [True, True]]
    assert mask.logical_not().device == CUDA


def test_optimizer_state_lives_on_the_parameters_device():
    _, model = _mlp_losses("cuda", steps=1)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for p in model.parameters():
        p.grad = engine.ones_like(p)
    opt.step()
    assert all(s["momentum_buffer"].device == CUDA for s in opt.state.values())


OPTIMIZERS = {
    "sgd": lambda ps: optim.SGD(ps, lr=0.1),
    "sgd-momentum": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, dampening=0.2),
    "sgd-nesterov-decay": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                               weight_decay=0.1),
    "sgd-dampened-maximize": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.5, dampening=0.3,
                                                  maximize=True),
    "adamw": lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1),
    "adam-amsgrad-decay-maximize": lambda ps: optim.Adam(ps, lr=0.01, weight_decay=0.1,
                                                         amsgrad=True, maximize=True),
    "adagrad": lambda ps: optim.Adagrad(ps, lr=0.1, lr_decay=0.01, weight_decay=0.1),
    "rmsprop-centered-momentum": lambda ps: optim.RMSprop(ps, lr=0.01, momentum=0.5,
                                                          centered=True, weight_decay=0.1),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=0.01),
    "adamax-decay-maximize": lambda ps: optim.Adamax(ps, lr=0.02, weight_decay=0.1,
                                                     maximize=True),
    "nadam-decoupled": lambda ps: optim.NAdam(ps, lr=0.01, weight_decay=0.1,
                                              decoupled_weight_decay=True),
    "radam-decay": lambda ps: optim.RAdam(ps, lr=0.01, weight_decay=0.1),
    "adadelta-decay": lambda ps: optim.Adadelta(ps, weight_decay=0.1),
}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_optimizer_rule_updates_the_same_on_both_devices(name):
    """Each update rule and branch (kernels/update_rules.py) run on both devices, one
    parameter at a time (foreach=False) and together (one launch for all three, one of
    them empty)."""
    rng = np.random.default_rng(1)
    shapes = [(3, 4), (0,), (5,)]
    starts = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(3)]
    results = []
    for device, foreach in (("cpu", False), ("cuda", False), ("cuda", True)):
        ps = [nn.Parameter(engine.tensor(s, device=device)) for s in starts]
        opt = OPTIMIZERS[name](ps)
        opt.param_groups[0]["foreach"] = foreach
        for step in grads:
            for p, g in zip(ps, step):
                p.grad = engine.tensor(g, device=device)
            opt.step()
        results.append(ps)
    for ps in results[1:]:
        for p, expected in zip(ps, results[0]):
            assert p.device == CUDA
            assert_close(p.cpu(), expected, 1e-5, 1e-6, what=name)


def test_an_optimizer_step_is_one_launch_for_up_to_8_parameters():
    from bench.launches import Launches

    ps = [nn.Parameter(engine.ones(n, device="cuda")) for n in (1, 2, 3, 4, 5, 6, 7, 8, 9)]
    for p in ps:
        p.grad = engine.ones_like(p)
    for foreach, launches in ((None, 2), (False, 9)):
        opt = optim.SGD(ps, lr=0.1, momentum=0.5, foreach=foreach)
        opt.step()  # the first step makes the momentum buffers (copies: launches of their own)
        with Launches() as counted:
            opt.step()
        assert counted.count == launches, foreach


@pytest.mark.parametrize("blocks", [1, 3])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_a_reduced_cross_entropy_is_one_launch_and_the_cpus_loss(monkeypatch, blocks, reduction):
    """Each block sums its rows and the last to finish adds the blocks' sums: with 3
    blocks (the simulator's default is 1) the ticket passes between them, and is back at
    0 for the next launch, whose loss is the same."""
    from bench.launches import Launches
    from kernels.cuda import loss

    monkeypatch.setattr(loss, "MAX_BLOCKS", blocks)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((7, 5)).astype(np.float32)
    target = np.array([0, 4, -100, 2, 2, -100, 1])
    weight = rng.uniform(0.5, 2.0, 5).astype(np.float32)
    F = engine.nn.functional
    expected = F.cross_entropy(engine.tensor(x), engine.tensor(target), engine.tensor(weight),
                               reduction=reduction)
    args = [engine.tensor(a, device="cuda") for a in (x, target, weight)]
    for _ in range(2):
        with Launches() as counted:
            got = F.cross_entropy(*args, reduction=reduction)
        assert counted.count == 1
        assert_close(got.cpu(), expected, 1e-6, 1e-6, what=reduction)
    everything_ignored = engine.full((7,), -100, device="cuda")
    got = F.cross_entropy(args[0], everything_ignored, reduction=reduction).item()
    assert np.isnan(got) if reduction == "mean" else got == 0.0


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_a_cross_entropy_gradient_is_one_launch_the_means_division_included(reduction):
    """The backward kernel divides by the total weight itself (as PyTorch's
    nll_loss_backward does): no launches for the division and its zero guard. Where
    every target is ignored the gradient is 0, not 0/0."""
    from bench.launches import Launches

    rng = np.random.default_rng(6)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    weight = rng.uniform(0.5, 2.0, 4).astype(np.float32)
    F = engine.nn.functional
    for target in (np.array([0, 3, -100, 1, 1, 2]), np.full(6, -100)):
        grads = []
        for device in ("cpu", "cuda"):
            logits = engine.tensor(x, device=device, requires_grad=True)
            loss = F.cross_entropy(logits, engine.tensor(target, device=device),
                                   engine.tensor(weight, device=device), reduction=reduction)
            seed = engine.ones_like(loss) * 0.5
            with Launches() as counted:
                loss.backward(seed)
            grads.append(logits.grad.cpu())
        assert counted.count == 1, reduction
        assert_close(grads[1], grads[0], 1e-6, 1e-6, what=reduction)
        assert np.isfinite(grads[1].numpy()).all()


@pytest.mark.parametrize("blocks", [1, 3])
def test_a_loss_with_its_gradient_is_one_launch_and_the_two_kernels_values(monkeypatch, blocks):
    """cross_entropy_and_grad (a compiled step's loss and backward): one launch whose last
    block computes every gradient value (and the column sums) from the row statistics
    the blocks kept; the same bits as the loss kernel then the gradient kernel, for a
    mean and a sum, ignored targets and class weights, float32 and float64."""
    from bench.launches import Launches
    from kernels import cuda
    from kernels.cuda import loss

    monkeypatch.setattr(loss, "MAX_BLOCKS", blocks)
    rng = np.random.default_rng(7)
    for dtype, mean, column_sums in ((np.float32, True, True), (np.float64, False, False)):
        x, target, weight, g = (cuda.from_numpy(a) for a in (
            rng.standard_normal((7, 5)).astype(dtype), np.array([0, 4, -100, 2, 2, -100, 1]),
            rng.uniform(0.5, 2.0, 5).astype(dtype), np.array(0.75, dtype)))
        value, total_weight = cuda.cross_entropy_reduced(x, target, weight, -100, mean)
        expected = cuda.cross_entropy_backward_rows(g, x, target, weight, -100,
                                                    total_weight if mean else None, column_sums)
        expected = [value, total_weight] + list(expected if column_sums else (expected,))
        with Launches() as counted:
            got = cuda.cross_entropy_and_grad(g, x, target, weight, -100, mean, column_sums)
        assert counted.count == 1 and (got[3] is None) is not column_sums
        for a, b in zip(got, expected):
            assert cuda.to_numpy(a).tobytes() == cuda.to_numpy(b).tobytes(), (dtype, mean)
    with pytest.raises(ValueError, match=r"expected the gradient of a reduced loss \(0-d\), got "
                                         r"shape \(7,\)"):
        cuda.cross_entropy_and_grad(cuda.from_numpy(np.ones(7, np.float64)), x, target,
                                    weight, -100, True, False)


def test_module_to_moves_parameters_in_place_and_back():
    model = nn.Linear(3, 2)
    weight = model.weight
    model.to("cuda")
    assert model.weight is weight and weight.device == CUDA and weight.is_leaf
    model.cpu()
    assert weight.device == engine.device("cpu")


# ---- devices, transfers and errors ---------------------------------------------------

def test_gradient_flows_back_across_devices():
    a = engine.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = a.cuda()
    assert b.grad_fn.name() == "ToCopyBackward0"
    (b * b).sum().backward()
    assert a.grad.device == engine.device("cpu") and a.grad.tolist() == [[2, 4], [6, 8]]


def test_ops_on_two_devices_name_both():
    with pytest.raises(RuntimeError, match="cpu and cuda:0|cuda:0 and cpu"):
        engine.ones(2) + engine.ones(2, device="cuda")
    with pytest.raises(RuntimeError, match="cuda:0"):
        engine.ones(2, 2) @ engine.ones(2, 2, device="cuda")


def test_numpy_on_a_cuda_tensor_says_to_call_cpu():
    with pytest.raises(TypeError, match=r"Tensor.cpu\(\)"):
        engine.ones(2, device="cuda").numpy()


def test_repr_shows_the_device_as_pytorch_does():
    assert repr(engine.tensor([1.0, 2.0], device="cuda")) == \
        "tensor([1., 2.], device='cuda:0')"


def test_creation_functions_take_a_device():
    for t in (engine.zeros(2, 3, device="cuda"), engine.ones(2, device="cuda"),
              engine.full((2,), 7.0, device="cuda"), engine.arange(5, device="cuda"),
              engine.linspace(0, 1, 5, device="cuda"), engine.eye(3, device="cuda"),
              engine.rand(3, device="cuda"), engine.randn(3, device="cuda"),
              engine.randint(0, 5, (3,), device="cuda"), engine.tensor([1, 2], device="cuda"),
              engine.zeros_like(engine.ones(2, device="cuda"))):
        assert t.device == CUDA
    assert engine.eye(3, device="cuda").tolist() == np.eye(3).tolist()
    assert engine.arange(5, device="cuda").tolist() == [0, 1, 2, 3, 4]
    assert engine.linspace(0, 1, 5, device="cuda").tolist() == [0, 0.25, 0.5, 0.75, 1.0]
    for number in (0.5, np.float32(0.5), np.array(0.5)):  # 0-d stays 0-d (was (1,))
        scalar = engine.tensor(number, device="cuda")
        assert scalar.shape == () and scalar.item() == 0.5
        assert engine.tensor(number).to("cuda").shape == ()


def test_indexing_with_device_indices_masks_and_assignment():
    x = engine.arange(12.0).reshape(3, 4)
    g = x.cuda()
    idx = engine.tensor([2, 0, 2])
    assert g[idx.cuda()].tolist() == x[idx].tolist()
    assert g[g > 5].tolist() == x[x > 5].tolist()
    assert g[:, [3, -1]].tolist() == x[:, [3, -1]].tolist()
    assert g[None, 1, ..., ::2].tolist() == x[None, 1, ..., ::2].tolist()
    g[idx.cuda(), 1] = -1.0
    x[idx, 1] = -1.0
    assert g.tolist() == x.tolist()
    with pytest.raises(IndexError, match="index 3 is out of bounds for dimension 0 with size "
                                         "3"):
        g[engine.tensor([3], device="cuda")]
    with pytest.raises(IndexError, match="cuda:0 cannot index a tensor on cpu"):
        x[idx.cuda()]


def test_repeated_indices_accumulate_in_the_gradient():
    x = engine.ones(4, device="cuda", requires_grad=True)
    x[engine.tensor([1, 1, 3], device="cuda")].sum().backward()
    assert x.grad.tolist() == [0, 2, 0, 1]


@pytest.mark.parametrize("a_shape,b_shape", [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)),
                                             ((2, 5, 3), (3, 4)), ((2, 1, 5, 3), (3, 3, 4)),
                                             ((9, 7), (7, 10)),
                                             # size-1 batch dims last: their strides say nothing
                                             ((1, 3, 4), (2, 1, 4, 5)), ((2, 1, 3, 4), (4, 2))])
def test_matmul_shapes_match_numpy(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    got = engine.tensor(a, device="cuda") @ engine.tensor(b, device="cuda")
    np.testing.assert_allclose(got.cpu().numpy(), a @ b, rtol=1e-12)


def test_a_products_epilogue_follows_any_bias_in_every_path():
    """The epilogue (here relu) runs in the GEMM after a per-column bias; after any other
    bias, and where K is 0, by a launch of its own: the CPU's values in every case."""
    from kernels import cpu, cuda

    rng = np.random.default_rng(1)
    relu = [("relu", [("in", 0)])]
    for k, bias_shape in ((3, (4,)), (3, (5, 4)), (3, None), (0, (4,))):
        a, b = rng.standard_normal((5, k)), rng.standard_normal((k, 4))
        bias = None if bias_shape is None else rng.standard_normal(bias_shape)
        expected = cpu.matmul(a, b, bias=None if bias is None else bias.copy(), epilogue=relu)
        assert (expected >= 0).all() and expected.any() == bool(k or bias is not None)
        on_device = [None if v is None else cuda.from_numpy(v) for v in (a, b, bias)]
        got = cuda.matmul(*on_device[:2], bias=on_device[2], epilogue=relu)
        np.testing.assert_allclose(cuda.to_numpy(got), expected, rtol=1e-12)


# ---- random numbers --------------------------------------------------------------------

def test_random_numbers_are_seeded_and_distributed():
    engine.manual_seed(3)
    first = engine.rand(400, device="cuda")
    engine.cuda.manual_seed(3)
    assert engine.rand(400, device="cuda").tolist() == first.tolist()
    values = first.cpu().numpy()
    assert 0 <= values.min() and values.max() < 1 and abs(values.mean() - 0.5) < 0.05
    z = engine.randn(400, device="cuda", dtype=engine.float64).cpu().numpy()
    assert abs(z.mean()) < 0.2 and abs(z.std() - 1) < 0.2
    k = engine.randint(2, 5, (400,), device="cuda").cpu().numpy()
    assert set(k.tolist()) == {2, 3, 4}


def test_dropout_keeps_and_scales_on_the_gpu():
    x = engine.ones(1000, device="cuda", requires_grad=True)
    y = nn.functional.dropout(x, 0.25)
    kept = y.cpu().detach().numpy()
    assert set(np.unique(kept).tolist()) <= {0.0, float(np.float32(1 / 0.75))}
    assert abs((kept > 0).mean() - 0.75) < 0.06
    y.sum().backward()
    assert x.grad.cpu().tolist() == kept.tolist()


def test_compiled_replays_draw_as_eager_after_manual_seed_on_the_gpu():
    from test_compile import draws_as_eager

    draws_as_eager("cuda")


def test_a_compiled_function_follows_the_default_device():
    """A tensor the function makes goes to the call's default device: the replay kept the
    trace's (the CPU), with no error where eager raises one."""
    compiled = engine.compile(lambda x: x + engine.ones(2))
    assert compiled(engine.ones(2)).device.type == "cpu"
    engine.set_default_device("cuda")
    try:
        with pytest.raises(RuntimeError, match="same device"):
            compiled(engine.ones(2, device="cpu"))
        assert compiled(engine.ones(2)).device.type == "cuda"
    finally:
        engine.set_default_device(None)
    assert "the default device changed from cpu to cuda:0" in " ".join(compiled.events)


def test_checkpoint_recomputes_the_same_dropout_on_the_gpu():
    """checkpoint put back the CPU generator only: the recompute drew another CUDA mask,
    and the gradients were wrong."""
    from engine.utils.checkpoint import checkpoint

    engine.manual_seed(0)
    layer = nn.Linear(4, 4).to("cuda")
    x = engine.randn(3, 4, device="cuda", requires_grad=True)

    def f(y):
        return nn.functional.dropout(layer(y), 0.5).tanh()

    engine.manual_seed(5)
    f(x).sum().backward()
    plain, x.grad = x.grad.clone(), None
    engine.manual_seed(5)
    checkpoint(f, x, use_reentrant=False).sum().backward()
    assert x.grad.cpu().tolist() == plain.cpu().tolist()


def test_engine_tensor_of_a_gpu_tensor_stays_on_the_gpu_as_in_pytorch():
    t = engine.ones(2, device="cuda")
    assert engine.tensor(t).device == t.device and engine.tensor(t, device="cpu").device.type \
        == "cpu"
    assert engine.tensor(t).tolist() == [1.0, 1.0]


def test_multinomial_on_the_gpu():
    w = engine.tensor([0.0, 1.0, 3.0, 0.0], device="cuda")
    draws = engine.multinomial(w, 400, replacement=True).cpu().numpy()
    assert set(draws.tolist()) <= {1, 2} and 0.65 < (draws == 2).mean() < 0.85
    picked = engine.multinomial(w, 2).cpu().tolist()
    assert sorted(picked) == [1, 2]
    rows = engine.multinomial(engine.stack([w, engine.ones(4, device="cuda")]), 2)
    assert tuple(rows.shape) == (2, 2) and sorted(rows[0].cpu().tolist()) == [1, 2]


# ---- memory ----------------------------------------------------------------------------

def test_the_allocator_reuses_memory_across_training_steps():
    import gc

    engine.manual_seed(0)
    model = nn.Linear(6, 3).to("cuda")
    opt = optim.Adam(model.parameters())
    x = engine.ones(4, 6, device="cuda")
    reserved = []
    for _ in range(4):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
        gc.collect()
        reserved.append(engine.cuda.memory_reserved())
    assert reserved[1] == reserved[-1]  # after the first step, the cache serves every request
    before = engine.cuda.memory_allocated()
    y = engine.empty(1000, device="cuda")
    assert engine.cuda.memory_allocated() >= before + 4000
    del y
    assert engine.cuda.memory_allocated() == before


def test_pinned_batches_from_the_dataloader():
    from data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(engine.arange(6.0)), batch_size=3, pin_memory=True)
    batches = list(loader)
    assert all(b[0].is_pinned() for b in batches)
    assert [b[0].cuda().tolist() for b in batches] == [[0, 1, 2], [3, 4, 5]]
    assert not engine.ones(2).is_pinned()


def test_synchronize_and_device_queries():
    engine.cuda.synchronize()
    assert engine.cuda.device_count() >= 1
    assert engine.cuda.is_available()
