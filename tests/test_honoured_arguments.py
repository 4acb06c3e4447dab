"""Arguments PyTorch accepts are honoured, never ignored: the legacy size_average and
reduce flags of every functional loss, and inplace=True of every activation."""
import numpy as np
import pytest

import engine
from engine.tensor import version_counter

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(0)
X, Y = RNG.random((4, 3)), RNG.random((4, 3))
CLASSES, SIGNS = np.array([0, 2, 1, 1]), np.array([1.0, -1.0, -1.0, 1.0])

LOSSES = {
    "mse_loss": lambda L: (L.tensor(X), L.tensor(Y)),
    "l1_loss": lambda L: (L.tensor(X), L.tensor(Y)),
    "smooth_l1_loss": lambda L: (L.tensor(X), L.tensor(Y)),
    "binary_cross_entropy": lambda L: (L.tensor(X), L.tensor(Y)),
    "binary_cross_entropy_with_logits": lambda L: (L.tensor(X), L.tensor(Y)),
    "cross_entropy": lambda L: (L.tensor(X), L.tensor(CLASSES)),
    "nll_loss": lambda L: (L.tensor(X), L.tensor(CLASSES)),
    "kl_div": lambda L: (L.tensor(X), L.tensor(Y)),
    "poisson_nll_loss": lambda L: (L.tensor(X), L.tensor(Y)),
    "soft_margin_loss": lambda L: (L.tensor(X[:, 0]), L.tensor(SIGNS)),
    "hinge_embedding_loss": lambda L: (L.tensor(X[:, 0]), L.tensor(SIGNS)),
    "margin_ranking_loss": lambda L: (L.tensor(X[:, 0]), L.tensor(Y[:, 0]), L.tensor(SIGNS)),
    "cosine_embedding_loss": lambda L: (L.tensor(X), L.tensor(Y), L.tensor(SIGNS)),
    "multi_margin_loss": lambda L: (L.tensor(X), L.tensor(CLASSES)),
    "multilabel_soft_margin_loss": lambda L: (L.tensor(X), L.tensor(Y)),
}


@pytest.mark.filterwarnings("ignore:size_average and reduce args will be deprecated")
@pytest.mark.parametrize("flags", [{"reduce": False}, {"size_average": False},
                                   {"size_average": True, "reduce": True},
                                   {"size_average": False, "reduce": True},
                                   {"size_average": 0}, {"reduce": 0}])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_legacy_loss_flags_are_honoured(name, flags):
    ours = getattr(engine.nn.functional, name)(*LOSSES[name](engine), **flags)
    theirs = getattr(torch.nn.functional, name)(*LOSSES[name](torch), **flags)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


ACTIVATIONS = {  # name: extra positional arguments before inplace
    "relu": (), "relu6": (), "elu": (1.0,), "selu": (), "celu": (0.7,), "silu": (),
    "leaky_relu": (0.2,), "hardtanh": (-0.5, 0.5), "hardsigmoid": (), "hardswish": (),
    "mish": (), "threshold": (0.1, -2.0),
}
VALUES = np.array([-4.0, -3.0, -1.5, -0.3, 0.0, 0.05, 0.4, 2.0, 3.0, 7.0])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_inplace_activations_write_into_their_input(name):
    results = {}
    for lib in (engine, torch):
        x = lib.tensor(VALUES, requires_grad=True)
        y = x * 1.0  # a non-leaf, as inplace activations meet them in a network
        before = y._version if lib is torch else version_counter(y).value
        out = getattr(lib.nn.functional, name)(y, *ACTIVATIONS[name], True)
        after = y._version if lib is torch else version_counter(y).value
        assert out is y and after > before, name
        (out * lib.arange(10.0, dtype=out.dtype)).sum().backward()
        results[lib] = (out.detach().numpy(), x.grad.numpy())
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            getattr(lib.nn.functional, name)(lib.ones(2, requires_grad=True),
                                             *ACTIVATIONS[name], True)
    np.testing.assert_allclose(results[engine][0], results[torch][0], rtol=1e-12)
    # 1e-6: torch's celu and hardsigmoid backward use float32 constants even in float64
    np.testing.assert_allclose(results[engine][1], results[torch][1], rtol=1e-6)


@pytest.mark.parametrize("module", [
    lambda nn: nn.ReLU(True), lambda nn: nn.ReLU6(True), lambda nn: nn.ELU(inplace=True),
    lambda nn: nn.SELU(True), lambda nn: nn.CELU(inplace=True), lambda nn: nn.SiLU(True),
    lambda nn: nn.LeakyReLU(0.1, True), lambda nn: nn.Hardtanh(-1, 1, True),
    lambda nn: nn.Hardsigmoid(True), lambda nn: nn.Hardswish(True), lambda nn: nn.Mish(True),
    lambda nn: nn.Threshold(0.1, 20, True)])
def test_inplace_modules(module):
    for lib in (engine, torch):
        y = lib.tensor(VALUES)
        assert module(lib.nn)(y) is y
    np.testing.assert_allclose(module(engine.nn)(engine.tensor(VALUES)).numpy(),
                               module(torch.nn)(torch.tensor(VALUES)).numpy(), rtol=1e-12)
    assert repr(module(engine.nn)) == repr(module(torch.nn))


@pytest.mark.parametrize("fn, shape", [("dropout", (6, 5)), ("dropout1d", (2, 6, 5)),
                                       ("dropout2d", (2, 6, 5, 1))])
def test_inplace_dropouts(fn, shape):
    engine.manual_seed(0)
    y = engine.ones(shape) * 1.0
    out = getattr(engine.nn.functional, fn)(y, 0.5, True, True)
    assert out is y and set(np.unique(y.numpy())) <= {0.0, 2.0}
    module = {"dropout": engine.nn.Dropout, "dropout1d": engine.nn.Dropout1d,
              "dropout2d": engine.nn.Dropout2d}[fn](0.5, inplace=True)
    z = engine.ones(shape)
    assert module(z) is z
