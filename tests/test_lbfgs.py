"""optim.LBFGS against torch.optim.LBFGS: the same iterates, evaluation counts and state,
with and without the strong-Wolfe line search."""
import numpy as np
import pytest

import engine

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((32, 3)), RNG.standard_normal((32, 1))


def _train(lib, line_search, lr, steps=5, history=5, max_iter=8):
    lib.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(3, 6), lib.nn.Tanh(), lib.nn.Linear(6, 1)).double()
    with lib.no_grad():  # the same start for both
        for p, w in zip(model.parameters(), _START):
            p.copy_(lib.tensor(w))
    opt = lib.optim.LBFGS(model.parameters(), lr=lr, max_iter=max_iter,
                          history_size=history, line_search_fn=line_search)
    x, y = lib.tensor(X), lib.tensor(Y)

    def closure():
        opt.zero_grad()
        loss = lib.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    state = opt.state[next(iter(model.parameters()))]
    return losses, [p.detach().numpy() for p in model.parameters()], state


_START = [RNG.standard_normal(s) * 0.5 for s in [(6, 3), (6,), (1, 6), (1,)]]


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
@pytest.mark.parametrize("lr, history", [(1.0, 5), (0.5, 2), (1.0, 100)])
def test_iterates_match_torch(line_search, lr, history):
    ours = _train(engine, line_search, lr, history=history)
    theirs = _train(torch, line_search, lr, history=history)
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9)
    for a, b in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    for key in ("func_evals", "n_iter"):
        assert ours[2][key] == theirs[2][key], key
    assert len(ours[2]["old_dirs"]) == len(theirs[2]["old_dirs"]) <= history
    assert ours[0][-1] < ours[0][0]


def test_stops_at_once_when_the_gradient_is_below_tolerance():
    w = engine.zeros(3, requires_grad=True)
    opt = engine.optim.LBFGS([w], tolerance_grad=1e-3)
    calls = []

    def closure():
        calls.append(1)
        opt.zero_grad()
        loss = (w * 1e-5).sum()
        loss.backward()
        return loss

    opt.step(closure)
    assert len(calls) == 1 and w.tolist() == [0.0, 0.0, 0.0]


def test_refusals_match_torch():
    w = engine.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        engine.optim.LBFGS([w], line_search_fn="backtracking")
    with pytest.raises(ValueError, match="parameter groups"):
        engine.optim.LBFGS([{"params": [w]}, {"params": [engine.zeros(1,
                                                                     requires_grad=True)]}])
    with pytest.raises(RuntimeError, match="closure"):
        engine.optim.LBFGS([w]).step(None)
