"""engine.autograd.functional against torch.autograd.functional: vjp, jvp, jacobian,
hessian, hvp and vhp, their result structures, create_graph and strict; Hessians are
symmetric and match finite differences of gradients."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import engine

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)
X, Y = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
V, U = RNG.standard_normal((2, 3)), RNG.standard_normal(2)


def two_to_one(x, y):
    return (x.tanh() * y).sum(-1) + (x ** 2).sum(-1)


def scalar(x, y):
    return ((x @ y).sin() ** 2).sum() + (y ** 3).sum() * x.sum()


def _same(a, b, rtol=1e-10):
    if isinstance(a, tuple):
        # torch's forward-mode jacobian gives a list where reverse mode gives a tuple
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, rtol)
        return
    assert isinstance(a, engine.Tensor) and a.shape == b.shape
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol, atol=1e-12)


CALLS = {
    "vjp": lambda L, F: F.vjp(two_to_one, (L.tensor(X), L.tensor(Y)), L.tensor(U)),
    "vjp scalar": lambda L, F: F.vjp(lambda x: (x ** 2).sum(), L.tensor(X)),
    "jvp": lambda L, F: F.jvp(two_to_one, (L.tensor(X), L.tensor(Y)),
                              (L.tensor(V), L.tensor(Y))),
    "jvp one input": lambda L, F: F.jvp(lambda x: x.exp().sum(0), L.tensor(X), L.tensor(V)),
    "jacobian": lambda L, F: F.jacobian(two_to_one, (L.tensor(X), L.tensor(Y))),
    "jacobian one": lambda L, F: F.jacobian(lambda x: x.sigmoid() * 3, L.tensor(X)),
    "jacobian tuple out": lambda L, F: F.jacobian(lambda x: (x.sum(0), x * 2), L.tensor(X)),
    "jacobian vectorize": lambda L, F: F.jacobian(lambda x: x.sin(), L.tensor(Y),
                                                  vectorize=True),
    "hessian": lambda L, F: F.hessian(scalar, (L.tensor(X), L.tensor(Y))),
    "hessian one": lambda L, F: F.hessian(lambda y: (y ** 3).sum() * y.sum(), L.tensor(Y)),
    "hvp": lambda L, F: F.hvp(scalar, (L.tensor(X), L.tensor(Y)), (L.tensor(V), L.tensor(Y))),
    "vhp": lambda L, F: F.vhp(scalar, (L.tensor(X), L.tensor(Y)), (L.tensor(V), L.tensor(Y))),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_values_and_structures_match_torch(name):
    ours = CALLS[name](engine, engine.autograd.functional)
    theirs = CALLS[name](torch, torch.autograd.functional)
    _same(ours, theirs)


def test_hessians_are_symmetric_and_match_differences_of_gradients():
    y0 = RNG.standard_normal(4)

    def f(y):
        return (y.sin() * y.roll(1, 0)).sum() + (y ** 4).sum()

    h = engine.autograd.functional.hessian(f, engine.tensor(y0)).numpy()
    np.testing.assert_allclose(h, h.T, rtol=1e-12)

    def gradient(y):
        t = engine.tensor(y, requires_grad=True)
        f(t).backward()
        return t.grad.numpy()

    eps = 1e-6
    numeric = np.stack([(gradient(y0 + eps * e) - gradient(y0 - eps * e)) / (2 * eps)
                        for e in np.eye(4)])
    np.testing.assert_allclose(h, numeric, rtol=1e-6, atol=1e-8)


def test_create_graph_makes_results_differentiable():
    for lib in (engine, torch):
        x = lib.tensor(Y, requires_grad=True)
        _, product = lib.autograd.functional.vjp(lambda t: (t ** 3).sum(), x,
                                                 create_graph=True)
        product.sum().backward()  # d/dx sum(3 x^2) = 6 x
        np.testing.assert_allclose(x.grad.numpy(), 6 * Y, rtol=1e-12)
        plain = lib.autograd.functional.jacobian(lambda t: t * 2, x)
        assert not plain.requires_grad


def test_strict_refuses_an_independent_input_and_otherwise_gives_zeros():
    def ignores_y(x, y):
        return x * 2

    for lib in (engine, torch):
        args = (lib.tensor(Y), lib.tensor(Y))
        jac = lib.autograd.functional.jacobian(ignores_y, args)
        assert jac[1].abs().sum().item() == 0 and jac[1].shape == (3, 3)
        with pytest.raises(RuntimeError, match="independent of input 1"):
            lib.autograd.functional.jacobian(ignores_y, args, strict=True)
        with pytest.raises(RuntimeError, match="independent of input 1"):
            lib.autograd.functional.vjp(ignores_y, args, lib.tensor(Y), strict=True)


@pytest.mark.parametrize("call, message", [
    (lambda F, L: F.vjp(lambda x: x * 2, L.tensor(Y)), "v can only be None"),
    (lambda F, L: F.jvp(lambda x: x * 2, L.tensor(Y)), "v can only be None"),
    (lambda F, L: F.hessian(lambda x: x * 2, L.tensor(Y)), "should contain a single element"),
    (lambda F, L: F.vjp(lambda x: x * 2, L.tensor(Y), L.ones(2)), "v has invalid size"),
    (lambda F, L: F.jacobian(lambda x: x, [1, 2]), "must be either a Tensor or a tuple"),
])
def test_refusals_match_torch(call, message):
    for lib in (engine, torch):
        with pytest.raises((RuntimeError, TypeError), match=message):
            call(lib.autograd.functional, lib)


@pytest.mark.parametrize("name", ["jacobian", "jacobian one", "jacobian tuple out"])
def test_forward_mode_jacobians_equal_reverse_mode_and_torch(name):
    def forward(L, F):
        original = F.jacobian
        F_forward = type("F", (), {"jacobian": staticmethod(
            lambda f, x, **kw: original(f, x, strategy="forward-mode", vectorize=True))})
        return CALLS[name](L, F_forward)

    _same(forward(engine, engine.autograd.functional),
          forward(torch, torch.autograd.functional))
    _same(forward(engine, engine.autograd.functional),
          CALLS[name](engine, engine.autograd.functional))


@settings(deadline=None, max_examples=20)
@given(shape=st.lists(st.integers(0, 3), min_size=0, max_size=2),
       seed=st.integers(0, 2 ** 16))
def test_jacobian_shapes_of_any_input(shape, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    ours = engine.autograd.functional.jacobian(lambda t: (t * t).tanh(), engine.tensor(x))
    assert ours.shape == tuple(shape) * 2
    if x.size == 0:
        return  # torch's own jacobian fails here ("stack expects a non-empty TensorList")
    theirs = torch.autograd.functional.jacobian(lambda t: (t * t).tanh(), torch.tensor(x))
    _same(ours, theirs)


def test_a_hessian_built_with_create_graph_draws_its_second_order_graph():
    x = engine.tensor([0.5, -1.0, 2.0], requires_grad=True)
    h = engine.autograd.functional.hessian(lambda v: (v.sin() * v).sum(), x,
                                           create_graph=True)
    source = engine.viz.draw(h.sum(), {"x": x}).source
    # sin's derivative is cos, and cos's is -sin: both appear in the second-order graph
    assert "SinBackward0" in source and "CosBackward0" in source and "x" in source
    h.sum().backward()  # and it is differentiable once more: third derivatives
    assert x.grad.shape == (3,)
