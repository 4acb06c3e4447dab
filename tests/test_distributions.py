"""engine.distributions against torch.distributions: values, gradients through the
parameters (REINFORCE's log_prob, rsample's reparameterisation), shapes, validation."""
import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)
VALUES = RNG.standard_normal((4, 3, 2))


def _grads(lib, make, params, fn):
    leaves = [lib.tensor(p, requires_grad=True) for p in params]
    out = fn(lib, make(lib, *leaves))
    out.sum().backward()
    return out.detach().numpy(), [leaf.grad.numpy() for leaf in leaves]


CASES = {
    "normal": (lambda L, loc, scale: L.distributions.Normal(loc, scale),
               [RNG.standard_normal((3, 2)), RNG.random((3, 2)) + 0.5],
               lambda L, d: d.log_prob(L.tensor(VALUES))),
    "normal entropy": (lambda L, loc, scale: L.distributions.Normal(loc, scale),
                       [RNG.standard_normal(3), RNG.random(3) + 0.1],
                       lambda L, d: d.entropy() + d.cdf(L.tensor([0.1, 0.5, -1.0]))),
    "categorical probs": (lambda L, p: L.distributions.Categorical(probs=p),
                          [RNG.random((3, 4)) + 0.1],
                          lambda L, d: d.log_prob(L.tensor([[0, 3, 2], [1, 1, 0]])) * 2
                          + d.entropy()),
    "categorical logits": (lambda L, z: L.distributions.Categorical(logits=z),
                           [RNG.standard_normal((2, 5))],
                           lambda L, d: d.log_prob(L.tensor([4, 0])) + d.entropy()),
    "bernoulli probs": (lambda L, p: L.distributions.Bernoulli(probs=p),
                        [RNG.random(5) * 0.9 + 0.05],
                        lambda L, d: d.log_prob(L.tensor([1.0, 0.0, 1.0, 1.0, 0.0],
                                                         dtype=L.float64)) + d.entropy()),
    "bernoulli logits": (lambda L, z: L.distributions.Bernoulli(logits=z),
                         [RNG.standard_normal(4) * 3],
                         lambda L, d: d.log_prob(L.tensor([1.0, 0.0, 0.0, 1.0],
                                                          dtype=L.float64)) + d.entropy()),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_values_and_gradients_match_torch(case):
    make, params, fn = CASES[case]
    (ours, our_grads), (theirs, their_grads) = [_grads(lib, make, params, fn)
                                                for lib in (engine, torch)]
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    for a, b in zip(our_grads, their_grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_rsample_is_reparameterised_and_sample_is_not():
    loc = engine.tensor([1.0, -2.0], requires_grad=True)
    scale = engine.tensor([0.5, 2.0], requires_grad=True)
    d = engine.distributions.Normal(loc, scale)
    engine.manual_seed(0)
    x = d.rsample((1000,))
    assert x.shape == (1000, 2) and x.requires_grad and not d.sample().requires_grad
    x.sum().backward()
    assert loc.grad.tolist() == [1000.0, 1000.0]
    eps = (x.detach() - loc.detach()) / scale.detach()
    np.testing.assert_allclose(scale.grad.numpy(), eps.sum(0).numpy(), rtol=1e-5)
    assert abs(x.detach().mean(0)[0].item() - 1.0) < 0.1 and abs(x.detach().std(0)[1].item()
                                                                  - 2.0) < 0.2


def test_samples_follow_their_distribution_and_shapes():
    engine.manual_seed(1)
    c = engine.distributions.Categorical(probs=engine.tensor([[0.1, 0.0, 0.9],
                                                              [0.5, 0.5, 0.0]]))
    draws = c.sample((4000,))
    assert draws.shape == (4000, 2) and c.batch_shape == (2,) and c.event_shape == ()
    frequencies = [(draws[:, 0] == k).float().mean().item() for k in range(3)]
    assert abs(frequencies[0] - 0.1) < 0.03 and frequencies[1] == 0.0
    assert (draws[:, 1] != 2).all()
    b = engine.distributions.Bernoulli(probs=engine.tensor([0.2, 0.8]))
    ones = b.sample((4000,)).mean(0)
    assert abs(ones[0].item() - 0.2) < 0.03 and abs(ones[1].item() - 0.8) < 0.03
    n = engine.distributions.Normal(0.0, 1.0)
    assert n.batch_shape == () and n.sample((3, 2)).shape == (3, 2) and n.mean.item() == 0


@pytest.mark.parametrize("bad", [
    lambda L: L.distributions.Normal(L.tensor([0.0]), L.tensor([-1.0])),
    lambda L: L.distributions.Normal(L.tensor([0.0]), L.tensor([1.0])).log_prob(
        L.tensor([float("nan")])),
    lambda L: L.distributions.Categorical(probs=L.tensor([0.5, -0.1])),
    lambda L: L.distributions.Categorical(probs=L.tensor([0.5, 0.5]), logits=L.zeros(2)),
    lambda L: L.distributions.Categorical(logits=L.zeros(3)).log_prob(L.tensor(3)),
    lambda L: L.distributions.Bernoulli(probs=L.tensor([1.5])),
    lambda L: L.distributions.Bernoulli(probs=L.tensor([0.5])).log_prob(L.tensor([2.0])),
])
def test_invalid_arguments_raise_as_in_torch(bad):
    for lib in (engine, torch):
        with pytest.raises(ValueError):
            bad(lib)


def test_validation_can_be_turned_off():
    d = engine.distributions.Normal(engine.tensor([0.0]), engine.tensor([-1.0]),
                                    validate_args=False)
    assert d.scale.item() == -1.0


def test_reinforce_step_matches_torch():
    """The policy-gradient loss of pytorch/examples' REINFORCE: -log_prob(a) * return."""
    w0, states = RNG.standard_normal((4, 2)), RNG.standard_normal((5, 4))
    grads = []
    for lib in (engine, torch):
        w = lib.tensor(w0, requires_grad=True)
        state = lib.tensor(states)
        policy = lib.distributions.Categorical(logits=state @ w)
        actions = lib.tensor([0, 1, 1, 0, 1])
        loss = (-policy.log_prob(actions) * lib.tensor([1.0, 0.5, -0.2, 2.0, 1.0])).sum()
        loss.backward()
        grads.append(w.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-10)
