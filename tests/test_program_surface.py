"""API surface that public PyTorch programs reach for, checked against torch itself:
views by PyTorch's stride rule, torch.backends, Variable, seeds without CUDA, default
devices, torch.nn.modules' paths, torch.utils.checkpoint, and a program's own data.py."""
import os
import subprocess
import sys

import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")

VIEWS = [  # (make the tensor, the view asked for)
    (lambda L: L.arange(72.0).reshape(2, 3, 12).split(4, dim=2)[1], (2, 3, 2, 2)),
    (lambda L: L.arange(72.0).reshape(2, 3, 12).split(4, dim=2)[2], (6, 4)),
    (lambda L: L.arange(24.0).reshape(4, 6)[:, 2:4], (4, 2, 1)),
    (lambda L: L.arange(6.0).reshape(2, 3).t(), (1, 3, 2, 1)),
    (lambda L: L.arange(6.0).reshape(2, 3).t(), (3, 2)),
    (lambda L: L.arange(60.0).reshape(3, 4, 5).permute(1, 0, 2), (4, 15)),
    (lambda L: L.arange(60.0).reshape(3, 4, 5)[:, ::2], (3, 2, 5)),
    (lambda L: L.arange(6.0).reshape(2, 3).t(), (6,)),
    (lambda L: L.arange(60.0).reshape(3, 4, 5).permute(1, 0, 2), (12, 5)),
    (lambda L: L.arange(24.0).reshape(4, 6)[:, 2:4], (8,)),
]


@pytest.mark.parametrize("make, shape", VIEWS)
def test_view_follows_pytorchs_stride_rule(make, shape):
    ours, theirs = make(engine), make(torch)
    assert ours.stride() == theirs.stride() and ours.is_contiguous() == theirs.is_contiguous()
    assert ours.storage_offset() == theirs.storage_offset()
    try:
        expected = theirs.view(shape)
    except RuntimeError:
        with pytest.raises(RuntimeError, match="view size is not compatible with input "
                                               "tensor's size and stride"):
            ours.view(shape)
        return
    got = ours.view(shape)
    assert got.shape == expected.shape and got.stride() == expected.stride()
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    got[(0,) * got.dim()] = -1.0  # a view: the write shows in the viewed tensor
    assert (ours == -1.0).sum().item() == 1


def test_stride_of_one_dimension_and_the_offset_of_a_slice():
    t, u = engine.zeros(4, 5)[1:, 2:], torch.zeros(4, 5)[1:, 2:]
    assert t.stride(0) == u.stride(0) and t.stride(-1) == u.stride(-1)
    assert t.storage_offset() == u.storage_offset() == 7


def test_an_integer_index_is_a_0_d_view_that_takes_in_place_ops():
    for lib in (engine, torch):
        v = lib.zeros(3)
        v[1] += 1
        v[2].add_(5)
        m = lib.zeros(2, 3)
        m[1, 2] += 7
        m[0][1].sub_(2)
        assert v.tolist() == [0.0, 1.0, 5.0] and m.tolist() == [[0, -2, 0], [0, 0, 7]]


def test_backends_flags():
    for lib in (engine, torch):
        assert lib.backends.mps.is_available() is False
        lib.backends.cudnn.benchmark = True
        lib.backends.cudnn.deterministic = True
        lib.backends.cuda.matmul.allow_tf32 = False
        assert lib.backends.cudnn.benchmark and lib.backends.cudnn.deterministic
    assert engine.backends.cudnn.is_available() is False


def test_variable_makes_a_tensor():
    for lib in (engine, torch):
        v = lib.autograd.Variable(lib.ones(2), requires_grad=True)
        assert isinstance(v, lib.Tensor) and v.requires_grad and v.is_leaf
        assert isinstance(lib.ones(1), lib.autograd.Variable)
        (v * 3).sum().backward()
        assert v.grad.tolist() == [3.0, 3.0]


def test_cuda_seeds_are_ignored_without_cuda(monkeypatch):
    monkeypatch.setattr(engine.cuda, "is_available", lambda: False)
    engine.cuda.manual_seed(0)
    engine.cuda.manual_seed_all(1)


def test_default_device(monkeypatch):
    assert engine.get_default_device() == engine.device("cpu")
    if not engine.cuda.is_available():
        pytest.skip("no CUDA device or simulator")
    engine.set_default_device("cuda")
    try:
        assert engine.zeros(2).device.type == "cuda" and engine.tensor([1.0]).is_cuda
        assert engine.from_numpy(np.ones(2)).device.type == "cpu"
        assert engine.zeros_like(engine.from_numpy(np.ones(2))).device.type == "cpu"
    finally:
        engine.set_default_device(None)
    assert engine.zeros(1).device.type == "cpu"


def test_version_and_nn_modules_paths():
    import importlib

    major, minor = engine.__version__.split(".")[:2]
    assert (int(major), int(minor)) >= (2, 0)  # programs compare it with "1.8" and the like
    from engine.nn.modules.batchnorm import _BatchNorm
    from engine.nn.modules.loss import _Loss, _WeightedLoss

    linear = importlib.import_module("engine.nn.modules.linear")
    assert linear.Linear is engine.nn.Linear
    assert issubclass(engine.nn.CrossEntropyLoss, _WeightedLoss) and issubclass(_WeightedLoss,
                                                                                 _Loss)
    assert issubclass(engine.nn.BatchNorm1d, _BatchNorm)
    assert engine.nn.modules.module.Module is engine.nn.Module


def test_checkpoint_recomputes_and_gives_the_same_gradients():
    from engine.utils.checkpoint import checkpoint, checkpoint_sequential

    nn = engine.nn
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Dropout(0.3), nn.Linear(8, 2))
    x = engine.randn(3, 4, requires_grad=True)
    grads = []
    for run in (lambda: model(x), lambda: checkpoint(model, x),
                lambda: checkpoint_sequential(model, 2, x)):
        model.zero_grad()
        x.grad = None
        engine.manual_seed(5)
        run().sum().backward()
        grads.append([x.grad.numpy().copy()] + [p.grad.numpy().copy()
                                                for p in model.parameters()])
    for other in grads[1:]:
        for a, b in zip(grads[0], other):
            np.testing.assert_allclose(a, b, rtol=1e-6)
    with engine.no_grad():
        assert checkpoint(model, x).grad_fn is None
    assert checkpoint(lambda t: (t * 2).sum(), x).grad_fn.name() == "_CheckpointBackward"


def test_a_program_with_its_own_data_and_nn_modules(tmp_path):
    """A program next to its own data.py and nn.py: engine loads its own packages, the
    program keeps its modules."""
    (tmp_path / "data.py").write_text("MINE = 'data'\ndef get_batch():\n    return 7\n")
    (tmp_path / "nn.py").write_text("MINE = 'nn'\n")
    (tmp_path / "prog.py").write_text(
        "import engine as torch\n"
        "from engine.utils.data import DataLoader, TensorDataset\n"
        "import data, nn\n"
        "model = torch.nn.Linear(2, 1)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for (x,) in DataLoader(TensorDataset(torch.ones(4, 2)), batch_size=2):\n"
        "    model(x).sum().backward()\n"
        "    opt.step()\n"
        "print(data.MINE, nn.MINE, data.get_batch())\n")
    run = subprocess.run([sys.executable, "prog.py"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["data", "nn", "7"]


def test_dropout2d_of_a_2d_input_warns_and_drops_elements():
    for lib in (engine, torch):
        with pytest.warns(UserWarning, match="Received a 2-D input to dropout2d"):
            out = lib.nn.Dropout2d(0.5)(lib.ones(40, 50))
        values = set(np.unique(out.numpy()))
        assert values == {0.0, 2.0}
        rows_mixed = ((out == 0).any(1) & (out != 0).any(1)).sum().item()
        assert rows_mixed > 30  # elementwise, not whole rows


def test_rnn_flatten_parameters_is_accepted():
    for lib in (engine, torch):
        lstm = lib.nn.LSTM(3, 4)
        assert lstm.flatten_parameters() is None


def test_random_sampler_with_replacement_draws_lazily():
    import itertools
    import tracemalloc

    sampler = engine.utils.data.RandomSampler(range(10), replacement=True,
                                              num_samples=int(1e10))
    tracemalloc.start()
    first = list(itertools.islice(iter(sampler), 1000))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(sampler) == int(1e10) and peak < 10_000_000
    assert set(first) <= set(range(10)) and len(set(first)) == 10
    assert len(list(engine.utils.data.RandomSampler(range(5), replacement=True,
                                                    num_samples=70))) == 70


def test_submodules_programs_import_by_path():
    """`import torch.backends.cudnn as cudnn` (dcgan), `torch.cuda.amp`, `torch.cpu.amp`
    and the classes PyTorch files elsewhere than their kin (checkpoints name them so)."""
    import importlib

    for name in ("backends.cudnn", "backends.mps", "backends.cuda", "cuda.amp", "cpu.amp",
                 "multiprocessing"):
        ours = importlib.import_module(f"engine.{name}")
        theirs = importlib.import_module(f"torch.{name}")
        assert ours.__name__ == f"engine.{name}"
        for attribute in ("is_available", "autocast", "GradScaler", "Process", "matmul"):
            if hasattr(theirs, attribute):
                assert hasattr(ours, attribute), (name, attribute)
    modules = importlib.import_module("engine.nn.modules")
    assert modules.activation.MultiheadAttention is engine.nn.MultiheadAttention
    assert issubclass(modules.linear.NonDynamicallyQuantizableLinear, engine.nn.Linear)
    assert modules.pixelshuffle.PixelShuffle is engine.nn.PixelShuffle
    for path in ("activation.MultiheadAttention", "linear.NonDynamicallyQuantizableLinear",
                 "pixelshuffle.PixelShuffle", "pixelshuffle.PixelUnshuffle"):
        module, name = path.split(".")
        assert hasattr(getattr(torch.nn.modules, module), name)


def test_device_and_layout_flags_match_torch():
    for ours, theirs in ((engine.ones(2), torch.ones(2)),
                         (engine.nn.Linear(2, 2).weight, torch.nn.Linear(2, 2).weight)):
        for flag in ("is_cpu", "is_cuda", "is_xpu", "is_mps", "is_meta", "is_sparse",
                     "is_quantized", "is_mkldnn", "is_nested"):
            assert getattr(ours, flag) == getattr(theirs, flag), flag
