"""engine.func against torch.func: grad, grad_and_value, vjp, jvp, jacrev, jacfwd,
hessian, functional_call and vmap, their compositions (per-example gradients), argnums,
has_aux, in_dims/out_dims and the randomness modes."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import engine

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)
W, X, Y = RNG.standard_normal((3, 2)), RNG.standard_normal((5, 3)), RNG.standard_normal((5, 2))


def _same(a, b, rtol=1e-10):
    if isinstance(a, (tuple, list)):
        assert type(a) is type(b) and len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y, rtol)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same(a[k], b[k], rtol)
    else:
        assert isinstance(a, engine.Tensor) and a.shape == b.shape
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol,
                                   atol=1e-12)


def loss(w, x):
    return ((x @ w).tanh() ** 2).sum()


CALLS = {
    "grad": lambda L: L.func.grad(loss)(L.tensor(W), L.tensor(X)),
    "grad argnums": lambda L: L.func.grad(loss, argnums=(0, 1))(L.tensor(W), L.tensor(X)),
    "grad_and_value": lambda L: L.func.grad_and_value(loss)(L.tensor(W), L.tensor(X)),
    "grad has_aux": lambda L: L.func.grad(lambda w: (loss(w, L.tensor(X)), w.sum()),
                                          has_aux=True)(L.tensor(W)),
    "grad of a dict": lambda L: L.func.grad(lambda p: (p["a"] * p["b"]).sum())(
        {"a": L.tensor(X), "b": L.tensor(X * 2)}),
    "vjp": lambda L: L.func.vjp(lambda w: (L.tensor(X) @ w).sin(), L.tensor(W))[1](
        L.tensor(Y)),
    "jvp": lambda L: L.func.jvp(lambda w: (w ** 2).sin(), (L.tensor(W),),
                                (L.tensor(W * 0.5),)),
    "jvp has_aux": lambda L: L.func.jvp(lambda w: ((w ** 2).sin(), w.cos()), (L.tensor(W),),
                                        (L.tensor(W * 0.5),), has_aux=True),
    "jacrev": lambda L: L.func.jacrev(lambda w: (L.tensor(X) @ w).sin())(L.tensor(W)),
    "jacrev has_aux": lambda L: L.func.jacrev(lambda w: ((L.tensor(X) @ w).sin(), w * 3),
                                              has_aux=True)(L.tensor(W)),
    "jacfwd has_aux": lambda L: L.func.jacfwd(lambda w: (w.exp(), {"w": w.sum()}),
                                              has_aux=True)(L.tensor(W)),
    "jacrev argnums": lambda L: L.func.jacrev(lambda w, x: (x @ w).sin(), argnums=(0, 1))(
        L.tensor(W), L.tensor(X[:2])),
    "jacfwd": lambda L: L.func.jacfwd(lambda w: w.exp() * 2)(L.tensor(W)),
    "hessian": lambda L: L.func.hessian(lambda w: (w ** 3).sum() * w.sum())(L.tensor(W[0])),
    "vmap": lambda L: L.func.vmap(lambda x: (x ** 2).sum())(L.tensor(X)),
    "vmap in_dims": lambda L: L.func.vmap(lambda w, x: x @ w, in_dims=(None, 0))(
        L.tensor(W), L.tensor(X)),
    "vmap dim 1 out 1": lambda L: L.func.vmap(lambda x: x * 2, in_dims=1, out_dims=1)(
        L.tensor(X)),
    "vmap tuple out": lambda L: L.func.vmap(lambda x: (x.sum(), x.exp()))(L.tensor(X)),
    "vmap nested": lambda L: L.func.vmap(L.func.vmap(lambda v: v.sin()))(L.tensor(X)),
    "per-example grads": lambda L: L.func.vmap(
        L.func.grad(lambda w, x, y: ((x @ w - y) ** 2).sum()), in_dims=(None, 0, 0))(
        L.tensor(W), L.tensor(X), L.tensor(Y)),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_matches_torch_func(name):
    _same(CALLS[name](engine), CALLS[name](torch))


def test_per_example_gradients_of_an_mlp_equal_the_loop():
    engine.manual_seed(0)
    model = engine.nn.Sequential(engine.nn.Linear(3, 4), engine.nn.Tanh(),
                                 engine.nn.Linear(4, 2)).double()
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = engine.tensor(X), engine.tensor(Y)

    def sample_loss(p, xi, yi):
        out = engine.func.functional_call(model, p, (xi.unsqueeze(0),))
        return ((out - yi) ** 2).sum()

    per_example = engine.func.vmap(engine.func.grad(sample_loss), in_dims=(None, 0, 0))(
        params, x, y)
    for i in range(5):
        model.zero_grad()
        ((model(x[i:i + 1]) - y[i]) ** 2).sum().backward()
        for name, p in model.named_parameters():
            np.testing.assert_allclose(per_example[name][i].numpy(), p.grad.numpy(),
                                       rtol=1e-10)
    assert all(p.grad is not None for p in model.parameters())  # the model is untouched


def test_functional_call_restores_the_module():
    model = engine.nn.Linear(3, 2).double()
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    zeros = {"weight": engine.zeros(2, 3, dtype=engine.float64),
             "bias": engine.ones(2, dtype=engine.float64)}
    out = engine.func.functional_call(model, zeros, (engine.tensor(X),))
    assert out.tolist() == [[1.0, 1.0]] * 5
    for k, v in model.named_parameters():
        assert isinstance(v, engine.nn.Parameter) and engine.equal(v, before[k])
    with pytest.raises(RuntimeError, match="missing keys \\['bias'\\]"):
        engine.func.functional_call(model, {"weight": zeros["weight"]}, (engine.tensor(X),),
                                    strict=True)


def test_vmap_randomness_modes():
    def noisy(x):
        return x + engine.rand(())

    x = engine.zeros(4)
    with pytest.raises(RuntimeError, match="randomness error mode"):
        engine.func.vmap(noisy)(x)
    same = engine.func.vmap(noisy, randomness="same")(x)
    different = engine.func.vmap(noisy, randomness="different")(x)
    assert len(set(same.tolist())) == 1 and len(set(different.tolist())) == 4
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        engine.func.vmap(lambda a, b: a + b)(engine.zeros(3), engine.zeros(4))


@settings(deadline=None, max_examples=15)
@given(batch=st.integers(1, 4), features=st.integers(1, 3), dim=st.integers(0, 1),
       seed=st.integers(0, 2 ** 16))
def test_vmap_of_grad_over_shapes_and_in_dims(batch, features, dim, seed):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal((batch, features) if dim == 0 else (features, batch))
    w = rng.standard_normal(features)
    results = [lib.func.vmap(lib.func.grad(lambda v, x: (v * x).sin().sum()),
                             in_dims=(None, dim))(lib.tensor(w), lib.tensor(data))
               for lib in (engine, torch)]
    _same(*results)


@settings(deadline=None, max_examples=25)
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=3), data=st.data(),
       seed=st.integers(0, 2 ** 16))
def test_batching_rules_over_shapes_in_dims_and_out_dims(shape, data, seed):
    """A function of elementwise ops, broadcasting against an unbatched argument,
    reductions, softmax, reshapes, permutes and products: batched through the rules
    (no op falls back to the loop), equal to torch.func.vmap."""
    rank = len(shape)
    in_dim = data.draw(st.integers(-rank, rank - 1))
    out_dim = data.draw(st.integers(-rank, rank - 1))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    example = [n for i, n in enumerate(shape) if i != in_dim % rank]
    bias = rng.standard_normal(example[-1:] or [1])

    def f(L, v, b):
        h = (v * 2 + b).tanh() - L.softmax(v, -1) * v.sum(-1, keepdim=True)
        if h.dim() >= 2:
            h = h.transpose(0, -1).reshape(h.shape[::-1]).transpose(0, -1) @ \
                L.ones(h.shape[-1], h.shape[-1], dtype=h.dtype)
        return h.exp().mean(-1, keepdim=True).expand(*h.shape) + h

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a loop fallback would warn
        ours = engine.func.vmap(lambda v, b: f(engine, v, b), in_dims=(in_dim, None),
                                out_dims=out_dim)(engine.tensor(x), engine.tensor(bias))
    theirs = torch.func.vmap(lambda v, b: f(torch, v, b), in_dims=(in_dim, None),
                             out_dims=out_dim)(torch.tensor(x), torch.tensor(bias))
    _same(ours, theirs, rtol=1e-9)


def test_an_op_without_a_batching_rule_runs_per_example_with_one_warning():
    from engine import batching

    batching._warned.discard("cumsum")
    x = np.random.default_rng(1).standard_normal((3, 4))
    with pytest.warns(UserWarning, match="vmap: cumsum has no batching rule"):
        ours = engine.func.vmap(lambda v: v.cumsum(0) * 2)(engine.tensor(x))
    _same(ours, torch.func.vmap(lambda v: v.cumsum(0) * 2)(torch.tensor(x)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        engine.func.vmap(lambda v: v.cumsum(0))(engine.tensor(x))  # said once


def test_per_example_gradients_run_batched():
    """vmap(grad(loss)) of an MLP runs its forward and backward ops batched: no op but the
    loss's own kernels falls back to the per-example loop."""
    from engine import batching

    rng = np.random.default_rng(2)
    w1, w2 = (engine.tensor(rng.standard_normal(s)) for s in ((5, 3), (2, 5)))
    x, y = engine.tensor(rng.standard_normal((6, 3))), engine.tensor(rng.standard_normal((6, 2)))

    def loss(w1, w2, xi, yi):
        return ((xi @ w1.T).relu() @ w2.T - yi).pow(2).mean()

    batching._warned.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grads = engine.func.vmap(engine.func.grad(loss, argnums=(0, 1)),
                                 in_dims=(None, None, 0, 0))(w1, w2, x, y)
    for k in range(6):
        single = engine.func.grad(loss, argnums=(0, 1))(w1, w2, x[k], y[k])
        for g, s in zip(grads, single):
            np.testing.assert_allclose(g[k].numpy(), s.numpy(), rtol=1e-12)


@pytest.mark.skipif(not engine.cuda.is_available(), reason="no CUDA device or simulator")
def test_transforms_on_cuda_match_the_cpu():
    """jvp (forward mode), jacrev and vmap(grad) over a small MLP, on the GPU backend."""
    engine.manual_seed(0)
    model = engine.nn.Sequential(engine.nn.Linear(3, 4), engine.nn.Tanh(),
                                 engine.nn.Linear(4, 1))
    params = {k: v.detach() for k, v in model.named_parameters()}
    x, y = engine.tensor(X, dtype=engine.float32), engine.tensor(Y[:, :1],
                                                                 dtype=engine.float32)

    def sample_loss(p, xi, yi):
        return ((engine.func.functional_call(model, p, (xi.unsqueeze(0),)) - yi) ** 2).sum()

    def run(device):
        model.to(device)
        p = {k: v.to(device) for k, v in params.items()}
        per_example = engine.func.vmap(engine.func.grad(sample_loss), in_dims=(None, 0, 0))(
            p, x.to(device), y.to(device))
        jac = engine.func.jacrev(lambda w: (x.to(device) @ w).sin())(p["0.weight"].t())
        with engine.autograd.forward_ad.dual_level():
            dual = engine.autograd.forward_ad.make_dual(x.to(device), engine.ones_like(
                x.to(device)))
            tangent = engine.autograd.forward_ad.unpack_dual(model(dual)).tangent
        model.to("cpu")
        return [per_example["0.weight"], jac, tangent]

    for a, b in zip(run("cuda"), run("cpu")):
        assert a.device.type == "cuda"
        np.testing.assert_allclose(a.cpu().numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


def test_grad_refuses_a_non_scalar_output():
    with pytest.raises(RuntimeError, match=r"scalar Tensor, got shape \(3,\)"):
        engine.func.grad(lambda x: x * 2)(engine.ones(3))
    with pytest.raises(RuntimeError, match="scalar Tensor, got float"):
        engine.func.grad(lambda x: 2.0)(engine.ones(3))


def test_matrix_vector_products_batch_every_way():
    rng = np.random.default_rng(3)
    a, many_a = rng.standard_normal((3, 4)), rng.standard_normal((5, 3, 4))
    v, many_v = rng.standard_normal(4), rng.standard_normal((5, 4))
    for args, dims in (((a, many_v), (None, 0)), ((many_a, v), (0, None)),
                       ((many_a, many_v), (0, 0))):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ours = engine.func.vmap(lambda m, x: engine.mv(m, x), in_dims=dims)(
                *map(engine.tensor, args))
        _same(ours, torch.func.vmap(lambda m, x: torch.mv(m, x), in_dims=dims)(
            *map(torch.tensor, args)))


def test_vectorized_jacobian_is_one_batched_pass_equal_to_the_rows():
    rng = np.random.default_rng(4)
    w = rng.standard_normal((6, 5))
    x = rng.standard_normal(5)

    def f(L):
        weights = L.tensor(w)
        return lambda v: (weights @ v).tanh() * v.sum()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = engine.autograd.functional.jacobian(f(engine), engine.tensor(x), vectorize=True)
    rows = engine.autograd.functional.jacobian(f(engine), engine.tensor(x))
    theirs = torch.autograd.functional.jacobian(f(torch), torch.tensor(x), vectorize=True)
    _same(ours, rows)
    _same(ours, theirs, rtol=1e-9)
    forward = engine.autograd.functional.jacobian(f(engine), engine.tensor(x), vectorize=True,
                                                  strategy="forward-mode")
    _same(forward, theirs, rtol=1e-9)


@pytest.mark.parametrize("index", ["v[1] * 2", "v[:, 1:3].sum()", "v[[0, 2]] + 1",
                                   "v[..., None, 0]", "(v[1] ** 2).sum()"])
def test_indexing_batches_by_its_rule(index):
    x = np.random.default_rng(6).standard_normal((5, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = engine.func.vmap(lambda v: eval(index))(engine.tensor(x))
        grads = engine.func.vmap(engine.func.grad(lambda v: eval(index).sum()))(engine.tensor(x))
    _same(ours, torch.func.vmap(lambda v: eval(index))(torch.tensor(x)))
    _same(grads, torch.func.vmap(torch.func.grad(lambda v: eval(index).sum()))(torch.tensor(x)))


def test_per_example_gradients_of_a_convolution_batch_through_im2col():
    rng = np.random.default_rng(7)
    images, w = rng.standard_normal((4, 1, 6, 6)), rng.standard_normal((2, 1, 3, 3))

    def loss(L, w, image):
        return L.nn.functional.conv2d(image.unsqueeze(0), w, padding=1).tanh().sum()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = engine.func.vmap(engine.func.grad(lambda w, im: loss(engine, w, im)),
                                in_dims=(None, 0))(engine.tensor(w), engine.tensor(images))
    theirs = torch.func.vmap(torch.func.grad(lambda w, im: loss(torch, w, im)),
                             in_dims=(None, 0))(torch.tensor(w), torch.tensor(images))
    _same(ours, theirs, rtol=1e-9)


def test_reductions_of_zero_dimensional_examples():
    x = np.arange(3.0)
    for fn in (lambda v: v.sum(), lambda v: v.mean(), lambda v: v.amax(),
               lambda v: v.sum(dtype=v.dtype)):
        _same(engine.func.vmap(fn)(engine.tensor(x)), torch.func.vmap(fn)(torch.tensor(x)))


def test_batched_cross_entropy_checks_every_examples_targets():
    rng = np.random.default_rng(8)
    x = engine.tensor(rng.standard_normal((2, 4, 3)))
    targets = engine.tensor([[0, 1, 2, 0], [0, 1, 9, 0]])  # example 0 alone is traced
    with pytest.raises(IndexError, match="index 9 is out of bounds for size 3"):
        engine.func.vmap(lambda v, t: engine.nn.functional.cross_entropy(v, t))(x, targets)


# ---- vmap over the whole op table ---------------------------------------------------------

from op_specs import SPECS, make_array  # noqa: E402

TORCH_CANNOT_VMAP = {"index_mask", "masked_select", "dstack_column_stack"}
VMAP_SPECS = [s for s in SPECS if s.name not in TORCH_CANNOT_VMAP]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("spec", VMAP_SPECS, ids=[s.name for s in VMAP_SPECS])
def test_vmap_of_every_op_equals_torch_func_vmap(spec, dtype):
    """Three examples of each op, every argument mapped: through the batching rules (or
    the per-example loop for ops without one), values as torch.func.vmap's."""
    rng = np.random.default_rng(0)
    arrays = [np.stack([make_array(a, rng, dtype) for _ in range(3)]) for a in spec.args]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ops without a rule say so once
        ours = engine.func.vmap(lambda *xs: spec.fn(engine, *xs))(
            *[engine.tensor(a) for a in arrays])
    theirs = torch.func.vmap(lambda *xs: spec.fn(torch, *xs))(*[torch.tensor(a) for a in arrays])
    ours = ours if isinstance(ours, (tuple, list)) else [ours]
    theirs = theirs if isinstance(theirs, (tuple, list)) else [theirs]
    tol = 1e-4 if dtype == np.float32 else 1e-9
    for a, b in zip(ours, theirs):
        assert a.shape == tuple(b.shape)
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=tol, atol=tol,
                                   equal_nan=True)


JAC_SPECS = [s for s in SPECS if any(a.grad and not a.domain.startswith(("index", "mask"))
                                     for a in s.args)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("spec", JAC_SPECS, ids=[s.name for s in JAC_SPECS])
def test_jacrev_jvp_and_vjp_of_every_op_equal_torch_func(spec, dtype):
    """Each op as a function of its first differentiable argument (the others fixed)."""
    rng = np.random.default_rng(0)
    arrays = [make_array(a, rng, dtype) for a in spec.args]
    i = next(k for k, (a, x) in enumerate(zip(spec.args, arrays)) if a.grad and
             x.dtype.kind == "f")

    def as_function(L):
        def f(x):
            xs = [L.tensor(a) for a in arrays]
            xs[i] = x
            out = spec.fn(L, *xs)
            return out[0] if isinstance(out, (tuple, list)) else out
        return f

    tol = 2e-3 if dtype == np.float32 else 1e-7
    results = {}
    for L in (engine, torch):
        f, x = as_function(L), L.tensor(arrays[i])
        if L is torch and spec.name == "cdist":  # torch.func's own cdist rule differs from
            jac = torch.autograd.functional.jacobian(f, x)  # its autograd (and from ours)
        else:
            jac = L.func.jacrev(f)(x)
        out, pullback = L.func.vjp(f, x)
        try:
            tangent = L.func.jvp(f, (x,), (L.ones_like(x),))[1]
        except NotImplementedError:  # torch has no forward mode for this op
            tangent = None
        results[L] = (jac, pullback(L.ones_like(out))[0], tangent)
    for ours, theirs in zip(results[engine], results[torch]):
        if theirs is None:
            continue
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.detach().numpy(), theirs.detach().numpy(), rtol=tol,
                                   atol=tol, equal_nan=True)
