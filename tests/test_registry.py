"""The op registry: each op's own file declares it public, and engine's names, the
Tensor methods, the in-place methods and the out= spellings all come from that table."""
import pytest

import engine
from engine.ops.registry import OPS, public


def test_every_declared_op_is_served_as_declared():
    assert len(OPS) > 180
    for name, entry in OPS.items():
        assert hasattr(engine, name), name
        if entry.method:
            assert getattr(engine.Tensor, name) is entry.fn, name
        if entry.inplace:
            assert callable(getattr(engine.Tensor, name + "_")), name
        served = getattr(engine, name)
        assert (served is entry.fn) != entry.out, name  # out= ops are wrapped, others bare


def test_the_out_spellings_write_into_out_and_the_inplace_methods_into_self():
    a, b = engine.tensor([1.0, -2.0]), engine.tensor([3.0, 4.0])
    for name, entry in OPS.items():
        if entry.out and name in ("add", "mul", "atan2", "maximum", "arctan2", "fmod"):
            out = engine.zeros(2)
            result = getattr(engine, name)(a, b, out=out)
            assert result is out and out.tolist() == entry.fn(a, b).tolist(), name
    x = engine.tensor([0.25, 4.0])
    for name in ("sqrt", "exp", "neg", "clamp_min"):
        y = x.clone()
        args = (1.0,) if name == "clamp_min" else ()
        assert getattr(y, name + "_")(*args) is y
        assert y.tolist() == getattr(engine, name)(x, *args).tolist()


def test_aliases_are_the_same_op():
    assert engine.Tensor.arccos is engine.Tensor.acos and engine.Tensor.multiply is \
        engine.Tensor.mul
    assert engine.arccos(engine.tensor([1.0]), out=engine.zeros(1)).tolist() == [0.0]


def test_declaring_a_name_twice_is_refused():
    def add(x):
        return x

    before = dict(OPS)
    with pytest.raises(ValueError, match="'add' is declared public twice"):
        public()(add)
    assert OPS == before
