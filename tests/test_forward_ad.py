"""Forward mode (engine.autograd.forward_ad): tangents against torch's forward AD, and for
every op in the sweep's table the adjoint identity <u, J v> = <J^T u, v> with reverse
mode, and central differences in float64."""
import numpy as np
import pytest

import engine
from op_specs import SPECS, make_array

torch = pytest.importorskip("torch")
fw = engine.autograd.forward_ad
RNG = np.random.default_rng(0)


def test_tangents_match_torch_forward_ad():
    p, t, w = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3)), \
        RNG.standard_normal((3, 4))
    results = []
    for lib in (engine, torch):
        ad = lib.autograd.forward_ad
        with ad.dual_level():
            x = ad.make_dual(lib.tensor(p), lib.tensor(t))
            y = (x @ lib.tensor(w)).tanh().sum(1) * x.exp().mean()
            primal, tangent = ad.unpack_dual(y)
            assert ad.unpack_dual(lib.tensor(w)).tangent is None
            assert np.array_equal(ad.unpack_dual(x).tangent.numpy(), t)
            results.append((primal.numpy(), tangent.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-10)


def test_two_duals_add_their_contributions():
    a, b = RNG.standard_normal(3), RNG.standard_normal(3)
    ta, tb = RNG.standard_normal(3), RNG.standard_normal(3)
    with fw.dual_level():
        x, y = fw.make_dual(engine.tensor(a), engine.tensor(ta)), \
            fw.make_dual(engine.tensor(b), engine.tensor(tb))
        tangent = fw.unpack_dual(x * y).tangent.numpy()
    np.testing.assert_allclose(tangent, ta * b + a * tb, rtol=1e-12)


def test_duals_need_a_level_and_matching_shapes():
    with pytest.raises(RuntimeError, match="inside a dual_level"):
        fw.make_dual(engine.ones(2), engine.ones(2))
    with fw.dual_level():
        with pytest.raises(RuntimeError, match="different size"):
            fw.make_dual(engine.ones(2), engine.ones(3))


FLOAT_SPECS = [s for s in SPECS if s.gradcheck
               and any(a.grad and not a.domain.startswith(("index", "mask")) for a in s.args)]


@pytest.mark.parametrize("spec", FLOAT_SPECS, ids=[s.name for s in FLOAT_SPECS])
def test_every_op_has_forward_mode_consistent_with_reverse_mode(spec):
    rng = np.random.default_rng(1)
    arrays = [make_array(a, rng, np.float64) for a in spec.args]
    chosen = [i for i, (a, x) in enumerate(zip(spec.args, arrays))
              if a.grad and x.dtype.kind == "f"]
    tangents = {i: rng.standard_normal(arrays[i].shape) for i in chosen}
    with fw.dual_level():
        inputs = [fw.make_dual(engine.tensor(x), engine.tensor(tangents[i])) if i in chosen
                  else engine.tensor(x) for i, x in enumerate(arrays)]
        out = spec.fn(engine, *inputs)
        jv = fw.unpack_dual(out).tangent
    jv = np.zeros(out.shape) if jv is None else jv.numpy()
    u = rng.standard_normal(out.shape)
    leaves = [engine.tensor(x, requires_grad=i in chosen) for i, x in enumerate(arrays)]
    back = spec.fn(engine, *leaves)
    pulled = engine.autograd.grad(back, [leaves[i] for i in chosen], engine.tensor(u),
                                  allow_unused=True)
    lhs = float((u * jv).sum())
    rhs = sum(float((g.numpy() * tangents[i]).sum()) for g, i in zip(pulled, chosen)
              if g is not None)
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-9)
    eps = 1e-6  # and J v against central differences of the op itself
    shifted = [lambda s: [engine.tensor(x + s * tangents[i]) if i in chosen
                          else engine.tensor(x) for i, x in enumerate(arrays)]][0]
    numeric = (spec.fn(engine, *shifted(eps)).numpy() - spec.fn(engine, *shifted(-eps)).numpy()) \
        / (2 * eps)
    np.testing.assert_allclose(jv, numeric, rtol=1e-5, atol=1e-6)


def test_explain_replays_a_jvp_step_by_step():
    rng = np.random.default_rng(5)
    x, v = engine.tensor(rng.standard_normal(4)), engine.tensor(rng.standard_normal(4))
    w = engine.tensor(rng.standard_normal((3, 4)))

    def f(x):
        return (w @ x).tanh()

    explanation = engine.viz.explain_jvp(f, x, v)
    output, product = explanation.result
    expected_out, expected = engine.func.jvp(f, (x,), (v,))
    np.testing.assert_allclose(product.numpy(), expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(output.detach().numpy(), expected_out.numpy(), rtol=1e-12)
    text = str(explanation)
    assert "cotangent 0" in text and "TanhBackwardBackward0" in text, text
    assert len(explanation) > 3
