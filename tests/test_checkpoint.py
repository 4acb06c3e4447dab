"""engine.save / engine.load: round trips, resumed training, and files that are wrong."""
import os

import numpy as np
import pytest

import engine

nn = engine.nn


def _model():
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


def test_round_trip_of_nested_values(tmp_path):
    obj = {"a": [engine.tensor([1.5, 2.0]), (engine.tensor(3), "text", None)],
           "b": {1: engine.zeros(2, 0, dtype=engine.int32), 2: True},
           "scalars": [1, 2.5, float("inf"), float("nan"), -0.0],
           "grad": engine.ones(2, dtype=engine.float64, requires_grad=True)}
    path = tmp_path / "ck.ngd"
    engine.save(obj, path)
    back = engine.load(path)
    assert back["a"][0].tolist() == [1.5, 2.0] and back["a"][0].dtype is engine.float32
    assert back["a"][1][0].item() == 3 and back["a"][1][1:] == ("text", None)
    assert back["b"][1].shape == (2, 0) and back["b"][1].dtype is engine.int32
    assert back["b"][2] is True and isinstance(back["a"][1], tuple)
    assert back["scalars"][:3] == [1, 2.5, float("inf")] and np.isnan(back["scalars"][3])
    assert back["grad"].requires_grad and back["grad"].dtype is engine.float64


def test_trained_model_and_optimizer_resume(tmp_path):
    engine.manual_seed(0)
    model = _model()
    opt = engine.optim.Adam(model.parameters(), lr=0.01)
    x, y = engine.randn(16, 4), engine.randint(0, 3, (16,))

    def train(m, o, steps):
        for _ in range(steps):
            o.zero_grad()
            nn.functional.cross_entropy(m(x), y).backward()
            o.step()

    train(model, opt, 5)
    path = tmp_path / "run.ngd"
    engine.save({"model": model.state_dict(), "opt": opt.state_dict(), "epoch": 5}, path)

    fresh = _model()
    fresh_opt = engine.optim.Adam(fresh.parameters(), lr=0.5)
    ck = engine.load(path)
    fresh.load_state_dict(ck["model"])
    fresh_opt.load_state_dict(ck["opt"])
    model.eval()
    fresh.eval()
    assert fresh(x).tolist() == model(x).tolist()
    model.train()
    fresh.train()
    train(model, opt, 5)
    train(fresh, fresh_opt, 5)
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert a.tolist() == b.tolist()


def test_truncated_and_corrupt_files_are_refused(tmp_path):
    path = tmp_path / "ck.ngd"
    engine.save({"w": engine.arange(100.0)}, path)
    raw = path.read_bytes()
    for cut, pattern in [(len(raw) - 10, "truncated: tensor 0"), (20, "truncated: the header"),
                         (12, "truncated")]:
        bad = tmp_path / f"cut{cut}.ngd"
        bad.write_bytes(raw[:cut])
        with pytest.raises(engine.CheckpointError, match=pattern):
            engine.load(bad)
    wrong = tmp_path / "wrong.ngd"
    wrong.write_bytes(b"\x80\x04\x95 pickle data that must never be unpickled")
    with pytest.raises(engine.CheckpointError, match="not a numbagrad checkpoint"):
        engine.load(wrong)
    corrupt = tmp_path / "corrupt.ngd"
    corrupt.write_bytes(raw[:16] + b"{" * (int.from_bytes(raw[8:16], "little")) + raw[16 +
                        int.from_bytes(raw[8:16], "little"):])
    with pytest.raises(engine.CheckpointError, match="corrupt header"):
        engine.load(corrupt)


def test_unsupported_objects_are_refused_at_save(tmp_path):
    with pytest.raises(TypeError, match=r"cannot store object at obj\['x'\]"):
        engine.save({"x": object()}, tmp_path / "x.ngd")
    assert not os.listdir(tmp_path)


def test_a_failed_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ck.ngd"
    engine.save({"version": 1}, path)
    good = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        engine.save({"version": 2, "w": engine.ones(1000)}, path)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["ck.ngd"]
