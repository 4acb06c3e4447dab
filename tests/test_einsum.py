"""einsum against torch.einsum: hypothesis over random equations (one to three operands,
repeated labels, broadcast and empty dims, implicit and explicit outputs, ellipses),
values and gradients; float64 central differences; the refusals."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import testing
from conftest import assert_close, needs_torch, torch
from test_properties import SETTINGS

LABELS = "abcd"


@st.composite
def equations(draw):
    """(equation, operand shapes): labels a-d with sizes 0-3; a label that one operand
    repeats (a diagonal) keeps its full size there, others may broadcast as size 1."""
    sizes = {c: draw(st.integers(0, 3)) for c in LABELS}
    n_operands = draw(st.integers(1, 3))
    ellipsis = draw(st.booleans())
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=2))) if ellipsis else ()
    terms, shapes = [], []
    for _ in range(n_operands):
        term = draw(st.lists(st.sampled_from(LABELS), max_size=3))
        shape = [sizes[c] if term.count(c) > 1 or not draw(st.booleans()) or sizes[c] == 0
                 else draw(st.sampled_from([1, sizes[c]])) for c in term]
        if ellipsis:
            kept = draw(st.integers(0, len(batch)))  # fewer ellipsis dims broadcast too
            terms.append("..." + "".join(term))
            shapes.append(batch[len(batch) - kept:] + tuple(shape))
        else:
            terms.append("".join(term))
            shapes.append(tuple(shape))
    used = sorted({c for t in terms for c in t if c != "."})
    if draw(st.booleans()):
        return ",".join(terms), shapes
    out = draw(st.permutations(used).flatmap(
        lambda p: st.integers(0, len(p)).map(lambda k: "".join(p[:k]))))
    return ",".join(terms) + "->" + ("..." if ellipsis else "") + out, shapes


@needs_torch
@SETTINGS
@given(case=equations(), seed=st.integers(0, 2**16))
def test_einsum_matches_torch(case, seed):
    equation, shapes = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    ours = [engine.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_e, out_t = engine.einsum(equation, *ours), torch.einsum(equation, *theirs)
    assert_close(out_e, out_t, 1e-10, 1e-12, what=f"{equation} forward")
    weights = rng.standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(weights)).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a.grad, b.grad, 1e-10, 1e-12, what=f"{equation} grad {i}")


@pytest.mark.parametrize("equation, shapes", [
    ("ij,jk->ik", [(2, 3), (3, 2)]),
    ("ii->i", [(3, 3)]),
    ("bij,bj->bi", [(2, 2, 3), (2, 3)]),
    ("i,i,i->", [(3,), (3,), (3,)]),
])
def test_einsum_gradients_match_finite_differences(equation, shapes):
    rng = np.random.default_rng(0)
    inputs = [engine.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    assert testing.check_gradients(lambda *xs: engine.einsum(equation, *xs), *inputs)


def test_operands_may_come_as_one_list():
    a, b = engine.ones(2, 3), engine.ones(3, 4)
    assert engine.einsum("ij,jk->ik", [a, b]).tolist() == [[3.0] * 4] * 2


@pytest.mark.parametrize("equation, shapes, message", [
    ("ij,jk->ik", [(2, 3)], r"fewer operands were provided \(1\) than specified"),
    ("ij->ij", [(2, 3), (3,)], r"more operands were provided \(2\)"),
    ("ijk->i", [(2, 3)], r"number of subscripts in the equation \(3\) does not match the "
                         r"number of dimensions \(2\) for operand 0"),
    ("ij,jk->ik", [(2, 3), (4, 2)], "subscript j has size 4 for operand 1 which does not "
                                    "broadcast with previously seen size 3"),
    ("ij->ii", [(2, 2)], "output subscript i appears more than once"),
    ("ij->k", [(2, 2)], "output subscript k does not appear"),
    ("i1->i", [(2, 2)], "invalid subscript given at index 1"),
])
def test_refusals_say_what_is_wrong(equation, shapes, message):
    with pytest.raises(ValueError, match=message):
        engine.einsum(equation, *[engine.ones(s) for s in shapes])
