"""nn.utils.parametrize and parametrizations.weight_norm against PyTorch's."""
import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")


def _symmetric(L):
    class Symmetric(L.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(0, 1)

        def right_inverse(self, A):
            return A.triu()

    return Symmetric()


def _scaled(L):
    class Scaled(L.nn.Module):
        def forward(self, X):
            return X * 2

        def right_inverse(self, A):
            return A / 2

    return Scaled()


W = np.random.default_rng(0).standard_normal((3, 3))


def _linear(L):
    m = L.nn.Linear(3, 3)
    with L.no_grad():
        m.weight.copy_(L.tensor(W, dtype=L.float32))
        m.bias.fill_(0.5)
    return m


def _both(run):
    return run(engine), run(torch)


def _same(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def test_a_parametrized_weight_matches_pytorch_in_names_repr_values_and_gradients():
    def run(L):
        m = _linear(L)
        L.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(L))
        L.nn.utils.parametrize.register_parametrization(m, "weight", _scaled(L))
        out = m(L.ones(2, 3) * L.arange(3.0))
        out.sum().backward()
        return (type(m).__name__, repr(m), sorted(m.state_dict()), m.weight.detach().numpy(),
                m.parametrizations.weight.original.grad.numpy(),
                L.nn.utils.parametrize.is_parametrized(m, "weight"),
                L.nn.utils.parametrize.type_before_parametrizations(m).__name__)

    ours, theirs = _both(run)
    assert ours[:3] == theirs[:3]
    _same(ours[3], theirs[3])
    _same(ours[4], theirs[4])
    assert ours[5:] == theirs[5:] == (True, "Linear")


def test_assignment_goes_through_right_inverse_and_removal_restores_the_module():
    def run(L):
        m = _linear(L)
        P = L.nn.utils.parametrize
        P.register_parametrization(m, "weight", _symmetric(L))
        m.weight = L.tensor(W.T @ W, dtype=L.float32)
        after_assign = m.parametrizations.weight.original.detach().numpy().copy()
        original = m.parametrizations.weight.original
        P.remove_parametrizations(m, "weight")
        return (after_assign, m.weight.detach().numpy(), type(m).__name__,
                sorted(m.state_dict()), m.weight is original)

    ours, theirs = _both(run)
    _same(ours[0], theirs[0])
    _same(ours[1], theirs[1])
    assert ours[2:] == theirs[2:] == ("Linear", ["bias", "weight"], True)


def test_leave_parametrized_false_keeps_the_original_and_cached_computes_once():
    m = _linear(engine)
    P = engine.nn.utils.parametrize
    calls = []

    class Counting(engine.nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 3

    P.register_parametrization(m, "weight", Counting())
    with P.cached():
        m.weight, m.weight, m.weight
    assert len(calls) == 1
    m.weight
    assert len(calls) == 2
    P.remove_parametrizations(m, "weight", leave_parametrized=False)
    _same(m.weight.detach().numpy(), W)


def test_an_optimizer_trains_the_original():
    m = _linear(engine)
    engine.nn.utils.parametrize.register_parametrization(m, "weight", _symmetric(engine))
    opt = engine.optim.SGD(m.parameters(), lr=0.1)
    before = m.weight.detach().numpy().copy()
    m(engine.ones(1, 3)).sum().backward()
    opt.step()
    after = m.weight.detach().numpy()
    assert not np.allclose(before, after)
    _same(after, after.T)  # still symmetric


def test_weight_norm_matches_pytorchs():
    def run(L):
        m = _linear(L)
        L.nn.utils.parametrizations.weight_norm(m, dim=0)
        plist = m.parametrizations.weight
        m(L.ones(2, 3)).pow(2).sum().backward()
        return (sorted(m.state_dict()), plist.original0.detach().numpy(),
                m.weight.detach().numpy(), plist.original0.grad.numpy(),
                plist.original1.grad.numpy())

    ours, theirs = _both(run)
    assert ours[0] == theirs[0]
    for a, b in zip(ours[1:], theirs[1:]):
        _same(a, b)


def test_refusals():
    P = engine.nn.utils.parametrize
    m = _linear(engine)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a "
                                         "parametrized element with name 'weights'"):
        P.register_parametrization(m, "weights", _symmetric(engine))
    with pytest.raises(TypeError, match="must be an nn.Module"):
        P.register_parametrization(m, "weight", lambda x: x)
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(m, "weight")

    class Shrink(engine.nn.Module):
        def forward(self, X):
            return X[:2]

    P.register_parametrization(m, "weight", _symmetric(engine))
    with pytest.raises(ValueError, match=r"changes the shape or dtype of 'weight' from \(3, 3\)"):
        P.register_parametrization(m, "weight", Shrink())


@pytest.mark.parametrize("make, shape", [
    (lambda L: L.nn.Linear(5, 4), (3, 5)),
    (lambda L: L.nn.Conv2d(2, 3, 3), (2, 2, 5, 5)),
    (lambda L: L.nn.ConvTranspose2d(2, 3, 3), (2, 2, 4, 4)),
], ids=["linear", "conv", "conv_transpose"])
def test_spectral_norm_parametrization_matches_torch(make, shape):
    """Same buffers (copied), same power iterations per training forward, same outputs,
    gradients and buffers; in eval mode u and v stay as they are."""
    torch.manual_seed(0)
    theirs = torch.nn.utils.parametrizations.spectral_norm(make(torch).double())
    ours = engine.nn.utils.parametrizations.spectral_norm(make(engine).to(engine.float64))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: engine.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(1)
    for training in (True, True, False):
        ours.train(training)
        theirs.train(training)
        x = rng.standard_normal(shape)
        got, want = ours(engine.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=1e-10)
        got.sum().backward()
        want.sum().backward()
        original = ours.parametrizations.weight.original
        np.testing.assert_allclose(original.grad.numpy(),
                                   theirs.parametrizations.weight.original.grad.numpy(),
                                   rtol=1e-9, atol=1e-12)
        for k, v in theirs.state_dict().items():
            np.testing.assert_allclose(ours.state_dict()[k].numpy(), v.numpy(), rtol=1e-10)


def test_spectral_norm_parametrization_refusals_and_vectors():
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'w'"):
        engine.nn.utils.parametrizations.spectral_norm(engine.nn.Linear(2, 2), name="w")
    with pytest.raises(ValueError, match="n_power_iterations"):
        engine.nn.utils.parametrizations.spectral_norm(engine.nn.Linear(2, 2),
                                                       n_power_iterations=0)
    ours = engine.nn.utils.parametrizations.spectral_norm(engine.nn.Linear(3, 2), name="bias")
    np.testing.assert_allclose(ours.bias.norm().item(), 1.0, rtol=1e-6)  # a vector: normalised


MAPS = ["matrix_exp", "cayley", "householder"]


def _orthogonal_layer(L, shape, orthogonal_map, use_trivialization, seed=1):
    weight = np.random.default_rng(seed).standard_normal(shape) * 0.5
    layer = L.nn.Linear(shape[1], shape[0], bias=False).double()
    with L.no_grad():
        layer.weight.copy_(L.tensor(weight))
    L.nn.utils.parametrizations.orthogonal(layer, orthogonal_map=orthogonal_map,
                                           use_trivialization=use_trivialization)
    return layer


def _orthonormal(W):
    small = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
    np.testing.assert_allclose(small, np.eye(min(W.shape)), atol=1e-12)


@pytest.mark.parametrize("orthogonal_map", MAPS)
@pytest.mark.parametrize("use_trivialization", [True, False])
@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)], ids=["square", "tall", "wide"])
def test_orthogonal_matches_torch(shape, orthogonal_map, use_trivialization):
    """The orthogonal weight, the output and, where no random completion enters it (a
    base completes tall and wide matrices at random), the original's gradient equal
    PyTorch's; the weight stays orthogonal through optimizer steps."""
    x = np.random.default_rng(2).standard_normal((6, shape[1]))
    results = []
    for L in (engine, torch):
        layer = _orthogonal_layer(L, shape, orthogonal_map, use_trivialization)
        out = layer(L.tensor(x))
        (out * out).sum().backward()
        results.append((layer.weight.detach().numpy(), out.detach().numpy(),
                        layer.parametrizations.weight.original.grad.numpy()))
    (w, out, grad), (w_t, out_t, grad_t) = results
    np.testing.assert_allclose(w, w_t, atol=1e-12)
    np.testing.assert_allclose(out, out_t, atol=1e-12)
    if shape[0] == shape[1] or not use_trivialization:
        np.testing.assert_allclose(grad, grad_t, atol=1e-10)
    _orthonormal(w)
    layer = _orthogonal_layer(engine, shape, orthogonal_map, use_trivialization)
    opt = engine.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        (layer(engine.tensor(x)) ** 3).sum().backward()
        opt.step()
    _orthonormal(layer.weight.detach().numpy())


@pytest.mark.parametrize("shape", [(5, 3), (3, 5)])
def test_orthogonal_gradient_through_a_random_base_is_right(shape):
    """With a randomly completed base the gradient cannot be PyTorch's own; central
    differences check it instead."""
    layer = _orthogonal_layer(engine, shape, "matrix_exp", True)
    x = engine.tensor(np.random.default_rng(3).standard_normal((4, shape[1])))
    original = layer.parametrizations.weight.original

    def loss(X):
        with engine.no_grad():
            original.copy_(X)
        return float((layer(x) ** 2).sum())

    start = original.detach().clone()
    (layer(x) ** 2).sum().backward()
    analytic = original.grad.numpy().copy()
    numeric = np.zeros(shape)
    for i in range(shape[0]):
        for j in range(shape[1]):
            step = engine.zeros(shape, dtype=engine.float64)
            step[i, j] = 1e-6
            numeric[i, j] = (loss(start + step) - loss(start - step)) / 2e-6
    np.testing.assert_allclose(analytic, numeric, atol=1e-6)


def test_orthogonal_assignment_and_refusals():
    layer = _orthogonal_layer(engine, (4, 4), "matrix_exp", True)
    q = engine.linalg.qr(engine.randn(4, 4, dtype=engine.float64))[0]
    layer.weight = q  # through right_inverse: q becomes the base
    np.testing.assert_allclose(layer.weight.detach().numpy(), q.numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="shape \\(4, 4\\)"):
        layer.weight = engine.eye(3, dtype=engine.float64)
    fixed = _orthogonal_layer(engine, (4, 4), "cayley", False)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        fixed.weight = q
    with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
        engine.nn.utils.parametrizations.orthogonal(engine.nn.Linear(2, 2), orthogonal_map="x")
    with pytest.raises(ValueError, match="Got a tensor of 1 dimensions"):
        engine.nn.utils.parametrizations.orthogonal(engine.nn.Linear(2, 2), name="bias")
    with pytest.raises(ValueError, match="no parameter or buffer with name 'w'"):
        engine.nn.utils.parametrizations.orthogonal(engine.nn.Linear(2, 2), name="w")
