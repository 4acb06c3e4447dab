"""The margin, ranking, embedding and likelihood losses and the distances against
PyTorch: hypothesis over batch sizes and values, every reduction, values and the
gradients of every float input; module reprs; the refusals."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
from conftest import assert_close, needs_torch, torch
from test_properties import SETTINGS


def _signs(rng, n):
    return rng.choice([-1.0, 1.0], n)


CASES = {  # name -> (arrays for a batch of n rows of c classes, call(F, *tensors, reduction))
    "cosine_embedding": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                            rng.standard_normal((n, c)), _signs(rng, n)],
                         lambda F, a, b, y, r: F.cosine_embedding_loss(a, b, y, 0.2, reduction=r)),
    "margin_ranking": (lambda rng, n, c: [rng.standard_normal(n), rng.standard_normal(n),
                                          _signs(rng, n)],
                       lambda F, a, b, y, r: F.margin_ranking_loss(a, b, y, 0.3, reduction=r)),
    "hinge_embedding": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                           rng.choice([-1.0, 1.0], (n, c))],
                        lambda F, x, y, r: F.hinge_embedding_loss(x, y, 0.5, reduction=r)),
    "soft_margin": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                       rng.choice([-1.0, 1.0], (n, c))],
                    lambda F, x, y, r: F.soft_margin_loss(x, y, reduction=r)),
    "triplet": (lambda rng, n, c: [rng.standard_normal((n, c)) for _ in range(3)],
                lambda F, a, p, q, r: F.triplet_margin_loss(a, p, q, 1.0, 2, 1e-6, False,
                                                              reduction=r)),
    "triplet_swap_p1": (lambda rng, n, c: [rng.standard_normal((n, c)) for _ in range(3)],
                        lambda F, a, p, q, r: F.triplet_margin_loss(a, p, q, 0.5, 1, 1e-6,
                                                                    True, reduction=r)),
    "multi_margin": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                        rng.integers(0, c, n)],
                     lambda F, x, t, r: F.multi_margin_loss(x, t, 1, 1.0, None, reduction=r)),
    "multi_margin_p2_weighted": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                                    rng.integers(0, c, n),
                                                    rng.random(c) + 0.5],
                                 lambda F, x, t, w, r: F.multi_margin_loss(
                                     x, t, 2, 0.7, w.detach(), reduction=r)),
    "multilabel_soft_margin": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                                  (rng.random((n, c)) > 0.5) * 1.0],
                               lambda F, x, y, r: F.multilabel_soft_margin_loss(
                                   x, y, None, reduction=r)),
    "poisson_log": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                       rng.integers(0, 5, (n, c)) * 1.0],
                    lambda F, x, y, r: F.poisson_nll_loss(x, y, True, True, eps=1e-8, reduction=r)),
    "poisson_rates": (lambda rng, n, c: [rng.random((n, c)) + 0.1,
                                         rng.integers(0, 5, (n, c)) * 1.0],
                      lambda F, x, y, r: F.poisson_nll_loss(x, y, False, False, eps=1e-8,
                                                           reduction=r)),
    "gaussian_nll": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                        rng.standard_normal((n, c)), rng.random((n, c))],
                     lambda F, x, y, v, r: F.gaussian_nll_loss(x, y, v, True, 1e-2, reduction=r)),
    "gaussian_nll_row_var": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                                rng.standard_normal((n, c)), rng.random(n)],
                             lambda F, x, y, v, r: F.gaussian_nll_loss(x, y, v, False, 1e-6,
                                                                       reduction=r)),
    "cosine_similarity": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                             rng.standard_normal((1, c))],
                          lambda F, a, b, r: F.cosine_similarity(a, b, 1)),
    "pairwise_distance": (lambda rng, n, c: [rng.standard_normal((n, c)),
                                             rng.standard_normal((n, c))],
                          lambda F, a, b, r: F.pairwise_distance(a, b, 3.0, 1e-6, True)),
}


# The label-like argument of each case (signs, classes, counts): no gradient is asked of
# it, as PyTorch refuses some of them.
LABELS = {"cosine_embedding": 2, "margin_ranking": 2, "hinge_embedding": 1, "soft_margin": 1,
          "multi_margin": 1, "multi_margin_p2_weighted": 1, "multilabel_soft_margin": 1,
          "poisson_log": 1, "poisson_rates": 1}


@needs_torch
@pytest.mark.parametrize("name", sorted(CASES))
@SETTINGS
@given(n=st.integers(1, 5), c=st.integers(1, 4), reduction=st.sampled_from(["mean", "sum",
                                                                          "none"]),
       seed=st.integers(0, 2**16))
def test_matches_torch(name, n, c, reduction, seed):
    make, call = CASES[name]
    arrays = make(np.random.default_rng(seed), n, c)
    wants = [a.dtype == np.float64 and i != LABELS.get(name) for i, a in enumerate(arrays)]
    ours = [engine.tensor(a, requires_grad=w) for a, w in zip(arrays, wants)]
    theirs = [torch.tensor(a, requires_grad=w) for a, w in zip(arrays, wants)]
    out_e = call(nn.functional, *ours, reduction)
    out_t = call(torch.nn.functional, *theirs, reduction)
    assert_close(out_e, out_t, 1e-10, 1e-12, what=f"{name} forward")
    w = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if b.requires_grad and b.grad is not None:
            assert_close(a.grad, b.grad, 1e-9, 1e-11, what=f"{name} grad {i}")


@needs_torch
@pytest.mark.parametrize("name, args", [
    ("CosineEmbeddingLoss", ()), ("MarginRankingLoss", (0.5,)), ("HingeEmbeddingLoss", ()),
    ("SoftMarginLoss", ()), ("TripletMarginLoss", (0.5, 1.0)), ("MultiMarginLoss", ()),
    ("MultiLabelSoftMarginLoss", ()), ("PoissonNLLLoss", ()), ("GaussianNLLLoss", ()),
    ("CosineSimilarity", (0,)), ("PairwiseDistance", ()),
])
def test_modules_print_as_torch(name, args):
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


def test_a_cosine_similarity_of_a_zero_vector_is_zero_not_nan():
    zero = engine.zeros(1, 3, requires_grad=True)
    sim = nn.functional.cosine_similarity(zero, engine.ones(1, 3))
    sim.sum().backward()
    assert sim.tolist() == [0.0] and not engine.isnan(zero.grad).any()


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.functional.gaussian_nll_loss(engine.ones(2, 3), engine.ones(2, 3),
                                             engine.ones(3, 2)), ValueError,
     r"var is of incorrect size: \(3, 2\) for input of shape \(2, 3\)"),
    (lambda: nn.functional.gaussian_nll_loss(engine.ones(2), engine.ones(2), -1.0), ValueError,
     "var has negative entry"),
    (lambda: nn.functional.multi_margin_loss(engine.ones(2, 3), engine.tensor([0, 1]), p=3),
     ValueError, "only p == 1 and p == 2 supported"),
    (lambda: nn.functional.cosine_similarity(engine.ones(2, 3), engine.ones(4)),
     RuntimeError, r"shapes \(2, 3\) and \(4,\) cannot be broadcast"),
])
def test_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()


@needs_torch
@pytest.mark.parametrize("size_average, reduce", [(None, None), (False, None), (None, False),
                                                  (True, True), (0, None), (True, 0)])
def test_legacy_reduction_flags_mean_what_they_mean_in_torch(size_average, reduce):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch deprecates the flags
        expected = torch.nn.MSELoss(size_average, reduce).reduction
        x = np.random.default_rng(0).standard_normal((3, 2))
        theirs = torch.nn.functional.soft_margin_loss(
            torch.tensor(x), torch.tensor(np.sign(x)), size_average, reduce)
    assert nn.MSELoss(size_average, reduce).reduction == expected
    ours = nn.functional.soft_margin_loss(engine.tensor(x), engine.tensor(np.sign(x)),
                                          size_average, reduce)
    assert_close(ours, theirs, 1e-12, 1e-12)
