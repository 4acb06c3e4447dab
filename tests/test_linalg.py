"""engine.linalg against torch.linalg: values and gradients (float32 and float64, batched),
central differences through gradcheck, hypothesis over shapes, PyTorch's refusals."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import engine

torch = pytest.importorskip("torch")
RNG = np.random.default_rng(0)


def _general(shape):
    return RNG.standard_normal(shape) + 3 * np.eye(shape[-1])  # well conditioned


def _spd(shape):
    a = RNG.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


CASES = {  # name: (fn(lib, *tensors), input arrays)
    "inv": (lambda L, a: L.linalg.inv(a), [_general((2, 3, 3))]),
    "solve": (lambda L, a, b: L.linalg.solve(a, b), [_general((2, 3, 3)),
                                                     RNG.standard_normal((2, 3, 4))]),
    "solve vector": (lambda L, a, b: L.linalg.solve(a, b), [_general((3, 3)),
                                                            RNG.standard_normal(3)]),
    "solve right": (lambda L, a, b: L.linalg.solve(a, b, left=False),
                    [_general((3, 3)), RNG.standard_normal((2, 3))]),
    "det": (lambda L, a: L.linalg.det(a), [_general((4, 4))]),
    "slogdet": (lambda L, a: L.linalg.slogdet(a).logabsdet * 2 + L.linalg.slogdet(a).sign,
                [RNG.standard_normal((3, 3, 3))]),
    "cholesky": (lambda L, a: L.linalg.cholesky(a), [_spd((2, 4, 4))]),
    "cholesky upper": (lambda L, a: L.linalg.cholesky(a, upper=True), [_spd((3, 3))]),
    "eigvalsh": (lambda L, a: L.linalg.eigvalsh(a), [_spd((2, 4, 4))]),
    "eigh": (lambda L, a: L.linalg.eigh(a).eigenvalues.sum(-1, keepdim=True)
             + L.linalg.eigh(a).eigenvectors ** 2, [_spd((3, 3))]),
    "eigh upper": (lambda L, a: L.linalg.eigh(a, UPLO="U").eigenvectors.abs(),
                   [RNG.standard_normal((3, 3))]),
    "matrix_norm fro": (lambda L, a: L.linalg.matrix_norm(a), [RNG.standard_normal((2, 3, 4))]),
    "matrix_norm 1": (lambda L, a: L.linalg.matrix_norm(a, 1), [RNG.standard_normal((3, 4))]),
    "matrix_norm -inf": (lambda L, a: L.linalg.matrix_norm(a, -math.inf, keepdim=True),
                         [RNG.standard_normal((2, 3, 4))]),
    # SVD and QR: losses that do not depend on the signs LAPACK picks for the vectors
    "svd tall": (lambda L, a: _svd_loss(L, a), [RNG.standard_normal((4, 3))]),
    "svd wide, batched": (lambda L, a: _svd_loss(L, a), [RNG.standard_normal((2, 3, 5))]),
    "svdvals": (lambda L, a: L.linalg.svdvals(a), [RNG.standard_normal((2, 4, 3))]),
    "qr tall": (lambda L, a: _qr_loss(L, a), [RNG.standard_normal((5, 3))]),
    "qr square, batched": (lambda L, a: _qr_loss(L, a), [RNG.standard_normal((2, 3, 3))]),
    "matrix_norm nuc": (lambda L, a: L.linalg.matrix_norm(a, "nuc"),
                        [RNG.standard_normal((2, 3, 4))]),
    "matrix_norm 2": (lambda L, a: L.linalg.matrix_norm(a, 2, dim=(0, 2), keepdim=True),
                      [RNG.standard_normal((3, 2, 4))]),
    "matrix_norm -2": (lambda L, a: L.linalg.matrix_norm(a, -2), [RNG.standard_normal((4, 3))]),
    "vector_norm": (lambda L, a: L.linalg.vector_norm(a, 3, dim=-1),
                    [RNG.standard_normal((2, 5))]),
    "norm": (lambda L, a: L.linalg.norm(a) + L.linalg.norm(a, dim=0).sum(),
             [RNG.standard_normal((3, 4))]),
}


def _svd_loss(L, a):
    """Weighted sums of S, |U|, |Vh| and U Vh: blind to the signs of the vectors."""
    U, S, Vh = L.linalg.svd(a, full_matrices=False)
    return (S.cumsum(-1).sum(-1) + U.abs().cumsum(-2).sum((-2, -1))
            + Vh.abs().cumsum(-1).sum((-2, -1)) + (U @ Vh).cumsum(-1).sum((-2, -1)))


def _qr_loss(L, a):
    Q, R = L.linalg.qr(a)  # LAPACK's sign convention, the same for numpy and PyTorch
    return Q.cumsum(-2).sum((-2, -1)) + R.cumsum(-1).sum((-2, -1))


def _run(lib, case, dtype):
    fn, arrays = CASES[case]
    leaves = [lib.tensor(a, dtype=getattr(lib, dtype), requires_grad=True) for a in arrays]
    out = fn(lib, *leaves)
    weights = lib.tensor(np.linspace(0.5, 1.5, out.numel()).reshape(out.shape),
                         dtype=out.dtype)
    (out * weights).sum().backward()
    return out.detach().numpy(), [leaf.grad.numpy() for leaf in leaves]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_values_and_gradients_match_torch(case, dtype):
    (ours, our_grads), (theirs, their_grads) = (_run(lib, case, dtype)
                                                for lib in (engine, torch))
    rtol = 1e-9 if dtype == "float64" else 2e-4
    np.testing.assert_allclose(ours, theirs, rtol=rtol, atol=rtol)
    for a, b in zip(our_grads, their_grads):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("case", ["inv", "solve", "det", "slogdet", "cholesky", "eigvalsh",
                                  "svd tall", "svd wide, batched", "qr tall",
                                  "qr square, batched", "matrix_norm nuc"])
def test_gradients_match_central_differences(case):
    fn, arrays = CASES[case]
    inputs = [engine.tensor(a, requires_grad=True) for a in arrays]
    prepare = (lambda a: (a + a.mT) / 2) if case in ("cholesky", "eigvalsh") else (lambda a: a)
    assert engine.autograd.gradcheck(lambda a, *rest: fn(engine, prepare(a), *rest), inputs)


@settings(deadline=None, max_examples=25)
@given(batch=st.lists(st.integers(0, 2), max_size=2), n=st.integers(1, 4),
       k=st.integers(1, 3), seed=st.integers(0, 2 ** 16))
def test_shapes_of_any_batch(batch, n, k, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((*batch, n, n)) + 2 * n * np.eye(n)
    b = rng.standard_normal((*batch, n, k))
    for fn in (lambda L, x, y: L.linalg.solve(x, y), lambda L, x, y: L.linalg.inv(x) @ y,
               lambda L, x, y: L.linalg.det(x).unsqueeze(-1).unsqueeze(-1) * y):
        ours = fn(engine, engine.tensor(a), engine.tensor(b))
        theirs = fn(torch, torch.tensor(a), torch.tensor(b))
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("call, message", [
    (lambda L: L.linalg.inv(L.zeros(3, 3)), "singular"),
    (lambda L: L.linalg.solve(L.zeros(2, 2), L.ones(2)), "singular"),
    (lambda L: L.linalg.cholesky(-L.eye(2)), "positive-definite"),
    (lambda L: L.linalg.inv(L.ones(2, 3)), "square"),
    (lambda L: L.linalg.det(L.ones(3)), "dimensions"),
    (lambda L: L.linalg.inv(L.eye(2, dtype=L.int64)), "floating point"),
])
def test_refusals(call, message):
    for lib in (engine, torch):
        with pytest.raises(RuntimeError):
            call(lib)
    with pytest.raises(RuntimeError, match=message):
        call(engine)


def test_qr_r_mode_gives_r_alone():
    a = RNG.standard_normal((4, 3))
    Q, R = engine.linalg.qr(engine.tensor(a), mode="r")
    assert Q.shape == (0,)
    np.testing.assert_allclose(R.numpy(), torch.linalg.qr(torch.tensor(a), mode="r").R.numpy())


def test_unsupported_choices_are_refused_in_words():
    with pytest.raises(RuntimeError, match="Order 3 not supported"):
        engine.linalg.matrix_norm(engine.eye(2), 3)
    with pytest.raises(NotImplementedError, match="full_matrices=False"):
        engine.linalg.svd(engine.ones(3, 2))
    assert engine.linalg.svd(engine.eye(2)).S.tolist() == [1.0, 1.0]  # square: either way
    with pytest.raises(RuntimeError, match="unrecognized mode 'full'"):
        engine.linalg.qr(engine.eye(2), mode="full")
    with pytest.raises(NotImplementedError, match="mode='complete' for tall"):
        engine.linalg.qr(engine.ones(3, 2), mode="complete")
    with pytest.raises(ValueError, match="driver"):
        engine.linalg.svdvals(engine.eye(2), driver="gesvd")
    a = engine.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="wide matrix"):
        engine.linalg.qr(a).Q.sum().backward()


@pytest.mark.skipif(not engine.cuda.is_available(), reason="no CUDA device or simulator")
def test_cuda_tensors_go_through_the_host_and_back():
    a = engine.tensor(_spd((3, 3)), requires_grad=True)
    cuda = a.detach().cuda().requires_grad_(True)
    for fn in (engine.linalg.inv, engine.linalg.cholesky, engine.linalg.det,
               engine.linalg.svdvals, lambda m: engine.linalg.qr(m).R):
        ours = fn(cuda)
        assert ours.device.type == "cuda"
        np.testing.assert_allclose(ours.detach().cpu().numpy(), fn(a).detach().numpy(),
                                   rtol=1e-10)
