"""ParameterList and ParameterDict against PyTorch: registration, state dict keys, reprs
(PyTorch's own formats, nested too), mutation, and a model that trains through them."""
import numpy as np
import pytest

import engine
import nn
import optim
from conftest import needs_torch, torch


def _build(m):
    plist = m.nn.ParameterList([m.nn.Parameter(m.ones(2, 3)), m.ones(3, dtype=m.float64)])
    plist.append(m.zeros(1, 2))
    pdict = m.nn.ParameterDict({"a": m.nn.Parameter(m.ones(2)), "b": m.ones(1, 2, 3)})
    pdict["c"] = m.nn.Parameter(m.zeros(4, dtype=m.int64), requires_grad=False)
    return plist, pdict


@needs_torch
def test_reprs_keys_and_types_match_torch():
    ours, theirs = _build(engine), _build(torch)
    for a, b in zip(ours, theirs):
        assert repr(a) == repr(b)
        assert list(a.state_dict()) == list(b.state_dict())
        assert [type(p).__name__ for p in a.parameters()] == \
            [type(p).__name__ for p in b.parameters()]

    class Holder:
        def __init__(self, m):
            outer = m.nn.Module()
            outer.plist, outer.pdict = _build(m)
            self.module = outer

    assert repr(Holder(engine).module) == repr(Holder(torch).module)


def test_list_indexing_mutation_and_iteration():
    plist, _ = _build(engine)
    assert len(plist) == 3 and plist[-1].shape == (1, 2)
    plist[0] = engine.zeros(5)
    assert isinstance(plist[0], nn.Parameter) and tuple(plist[0].shape) == (5,)
    assert [tuple(p.shape) for p in plist] == [(5,), (3,), (1, 2)]
    assert [tuple(p.shape) for p in plist[1:]] == [(3,), (1, 2)]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        plist[3]


def test_dict_mutation_keeps_order_and_registration():
    _, pdict = _build(engine)
    assert list(pdict) == ["a", "b", "c"] and "b" in pdict and len(pdict) == 3
    popped = pdict.pop("b")
    assert tuple(popped.shape) == (1, 2, 3) and list(pdict.keys()) == ["a", "c"]
    assert list(pdict.state_dict()) == ["a", "c"]
    pdict.update([("d", engine.ones(1))])
    assert [k for k, _ in pdict.items()] == ["a", "c", "d"]


def test_a_model_trains_through_its_parameter_list():
    class Polynomial(nn.Module):
        def __init__(self):
            super().__init__()
            self.coefficients = nn.ParameterList([engine.zeros(()) for _ in range(3)])

        def forward(self, x):
            return sum(c * x ** i for i, c in enumerate(self.coefficients))

    model = Polynomial()
    x = engine.linspace(-1, 1, 50)
    y = 1 - 2 * x + 3 * x ** 2
    opt = optim.Adam(model.parameters(), lr=0.1)
    for _ in range(300):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    found = [c.item() for c in model.coefficients]
    np.testing.assert_allclose(found, [1, -2, 3], atol=0.05)
