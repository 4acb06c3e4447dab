"""nn.utils.weight_norm and spectral_norm against PyTorch's: names, forward values,
gradients, power iteration in training only, and removal."""
import warnings

import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)
X = RNG.standard_normal((5, 2, 6))


def _conv(lib, weights):
    m = lib.nn.Conv1d(2, 4, 3).double()
    with lib.no_grad():
        m.weight.copy_(lib.tensor(weights[0]))
        m.bias.copy_(lib.tensor(weights[1]))
    return m


WEIGHTS = [RNG.standard_normal((4, 2, 3)), RNG.standard_normal(4)]


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_matches_torch(dim):
    results = []
    for lib in (engine, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch deprecates the hook-based API
            m = lib.nn.utils.weight_norm(_conv(lib, WEIGHTS), dim=dim)
        out = m(lib.tensor(X))
        (out ** 2).sum().backward()
        results.append((out.detach().numpy(), m.weight_g.grad.numpy(), m.weight_v.grad.numpy(),
                        [n for n, _ in m.named_parameters()], m.weight_g.shape))
    for a, b in zip(results[0][:3], results[1][:3]):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    assert results[0][3:] == results[1][3:]


def test_spectral_norm_matches_torch_in_training_and_eval():
    results = []
    for lib in (engine, torch):
        m = lib.nn.utils.spectral_norm(_conv(lib, WEIGHTS), n_power_iterations=2)
        with lib.no_grad():  # the same start for the power iteration
            m.weight_u.copy_(lib.tensor(np.ones(4) / 2))
            m.weight_v.copy_(lib.tensor(np.ones(6) / np.sqrt(6)))
        for _ in range(3):
            out = m(lib.tensor(X))
        (out ** 2).sum().backward()
        u_trained = m.weight_u.detach().numpy().copy()
        m.eval()
        evaluated = m(lib.tensor(X)).detach().numpy()
        assert np.array_equal(m.weight_u.detach().numpy(), u_trained)  # no iteration in eval
        results.append((out.detach().numpy(), m.weight_orig.grad.numpy(), u_trained, evaluated,
                        sorted(m.state_dict())))
    for a, b in zip(results[0][:4], results[1][:4]):
        np.testing.assert_allclose(a, b, rtol=1e-10)
    assert results[0][4] == results[1][4] == ["bias", "weight_orig", "weight_u", "weight_v"]


def test_removal_leaves_a_plain_parameter_with_the_current_weight():
    m = engine.nn.utils.weight_norm(_conv(engine, WEIGHTS))
    before = m(engine.tensor(X)).detach()
    engine.nn.utils.remove_weight_norm(m)
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight"]
    np.testing.assert_allclose(m(engine.tensor(X)).detach().numpy(), before.numpy(),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found"):
        engine.nn.utils.remove_weight_norm(m)
    s = engine.nn.utils.spectral_norm(_conv(engine, WEIGHTS))
    engine.nn.utils.remove_spectral_norm(s)
    assert sorted(s.state_dict()) == ["bias", "weight"]
    with pytest.raises(RuntimeError, match="two weight_norm hooks"):
        engine.nn.utils.weight_norm(engine.nn.utils.weight_norm(engine.nn.Linear(2, 2)))
