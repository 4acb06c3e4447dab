"""engine.save / engine.load: round trips, resumed training, and files that are wrong."""
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

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


def test_other_objects_are_pickled_and_refused_by_weights_only_loads(tmp_path):
    """PyTorch 2.6's rule: save pickles what the safe format cannot hold; load refuses
    to unpickle it unless told weights_only=False, or the global is allowed."""
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    engine.save(model, tmp_path / "model.ngd")
    with pytest.raises(engine.serialization.WeightsOnlyError,
                       match=r"names nn\.containers\.Sequential.*weights_only=False.*"
                             r"arbitrary code execution"):
        engine.load(tmp_path / "model.ngd")
    back = engine.load(tmp_path / "model.ngd", weights_only=False)
    assert repr(back) == repr(model)
    assert back[0].weight.tolist() == model[0].weight.tolist()
    with engine.serialization.safe_globals([nn.Sequential, nn.Linear]):
        with pytest.raises(engine.serialization.WeightsOnlyError, match="ReLU"):
            engine.load(tmp_path / "model.ngd")  # every class named must be allowed
    with engine.serialization.safe_globals([nn.Sequential, nn.Linear, nn.ReLU]):
        assert repr(engine.load(tmp_path / "model.ngd")) == repr(model)
    assert engine.serialization.get_safe_globals() == []


class _Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


def test_allowed_globals_load_with_weights_only(tmp_path):
    engine.save({"p": _Point(1, engine.ones(2))}, tmp_path / "p.ngd")
    with pytest.raises(engine.serialization.WeightsOnlyError, match="_Point"):
        engine.load(tmp_path / "p.ngd")
    with engine.serialization.safe_globals([_Point]):
        point = engine.load(tmp_path / "p.ngd")["p"]
    assert point.x == 1 and point.y.tolist() == [1.0, 1.0]
    engine.serialization.add_safe_globals([_Point])
    try:
        assert engine.load(tmp_path / "p.ngd")["p"].x == 1
    finally:
        engine.serialization.clear_safe_globals()


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_weights_only_load_never_runs_code_from_the_file(tmp_path):
    marker = tmp_path / "ran"
    engine.save({"w": engine.ones(2), "evil": _Evil(marker)}, tmp_path / "evil.ngd")
    with pytest.raises(engine.serialization.WeightsOnlyError, match="system"):
        engine.load(tmp_path / "evil.ngd")
    assert not marker.exists()


def test_numpy_arrays_and_file_objects(tmp_path):
    import io

    obj = {"a": np.arange(3.0), "b": [np.ones((2, 2), np.int32), engine.ones(2)],
           "c": np.zeros((0, 3), np.bool_), "d": np.array(2.5), "e": np.eye(3)[:, ::2]}
    buffer = io.BytesIO()
    engine.save(obj, buffer)
    buffer.seek(0)
    back = engine.load(buffer)
    assert isinstance(back["a"], np.ndarray) and back["a"].tolist() == [0.0, 1.0, 2.0]
    assert back["b"][0].dtype == np.int32 and isinstance(back["b"][1], engine.Tensor)
    assert back["c"].shape == (0, 3) and back["c"].dtype == np.bool_
    assert back["d"].shape == () and back["d"] == 2.5  # 0-d stays 0-d (was (1,))
    np.testing.assert_array_equal(back["e"], obj["e"])  # a strided view, saved whole
    with open(tmp_path / "f.ngd", "wb") as f:
        engine.save({"w": engine.arange(4)}, f)
    with open(tmp_path / "f.ngd", "rb") as f:
        assert engine.load(f)["w"].tolist() == [0, 1, 2, 3]
    engine.save(np.ones(3, np.float16), tmp_path / "half.ngd")  # no name in the format:
    assert engine.load(tmp_path / "half.ngd", weights_only=True).dtype == np.float16  # pickled


def test_pickled_tensors_honour_map_location(tmp_path):
    engine.save({"w": engine.ones(2), "k": {1, 2}}, tmp_path / "set.ngd")  # a set: pickled
    back = engine.load(tmp_path / "set.ngd", map_location="cpu")
    assert back["k"] == {1, 2} and back["w"].device.type == "cpu"
    with pytest.raises(ValueError, match="mmap"):
        engine.load(tmp_path / "set.ngd", mmap=True)


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


# ---- hostile files ---------------------------------------------------------------------

def _craft(path, entries, data, tree=None, magic=b"NBGRAD02"):
    """A checkpoint written by hand: `entries` as the header's tensor list."""
    tree = {"__tuple__": [{"__tensor__": i} for i in range(len(entries))]} \
        if tree is None else tree
    header = json.dumps({"tree": tree, "tensors": entries}).encode()
    path.write_bytes(magic + len(header).to_bytes(8, "little") + header + data)
    return path


def _entry(offset, shape=(4,), dtype="float32", nbytes=None):
    if nbytes is None:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    shape = list(shape) if isinstance(shape, tuple) else shape
    return {"dtype": dtype, "shape": shape, "offset": offset, "requires_grad": False,
            "nbytes": nbytes}


@pytest.mark.parametrize("entries, data, message", [
    ([_entry(0)] * 5000, bytes(16), "starts at byte 0 of the data, where the layout puts "
                                     "it at 16"),
    ([_entry(0, shape=(2.0, 2), nbytes=16)], bytes(16), "invalid shape"),
    ([_entry(0, shape="4", nbytes=16)], bytes(16), "invalid shape"),
    ([_entry(0, shape=(-1,), nbytes=4)], bytes(4), "invalid shape"),
    ([_entry(0, nbytes=16.0)], bytes(16), "offset and nbytes must be non-negative integers"),
    ([_entry(0, nbytes=15.5)], bytes(16), "offset and nbytes must be non-negative integers"),
    ([_entry(0, dtype="int8", shape=(1,)), _entry(1, dtype="float32")], bytes(17),
     "starts at byte 1 of the data, where the layout puts it at 4"),
    ([_entry(4)], bytes(20), "starts at byte 4 of the data, where the layout puts it at 0"),
    ([_entry(0)], bytes(20), "4 bytes after its last tensor"),
    ([_entry(0, shape=(10 ** 30,), nbytes=16)], bytes(16), "claims 16 bytes"),
    ([_entry(0, dtype="complex64", nbytes=16)], bytes(16), "unknown dtype 'complex64'"),
    ([_entry(0, dtype=["float32"], nbytes=16)], bytes(16), "unknown dtype"),
    ([dict(_entry(0), extra=1)], bytes(16), "invalid entry"),
    ([dict(_entry(0, dtype="int64", shape=(2,)), requires_grad=True)], bytes(16),
     "cannot require gradients"),
])
def test_malformed_tensor_entries_are_refused(tmp_path, entries, data, message):
    with pytest.raises(engine.CheckpointError, match=re.escape(message)):
        engine.load(_craft(tmp_path / "bad.ngd", entries, data))


@pytest.mark.parametrize("tree, message", [
    ({"__tensor__": 1}, "invalid '__tensor__'"),
    ({"__tensor__": True}, "invalid '__tensor__'"),
    ({"__float__": "1e999999"}, "invalid '__float__'"),
    ({"__dict__": [[[1], 2]]}, "invalid '__dict__'"),
    ({"__dict__": [[True, 2]]}, "invalid '__dict__'"),
    ({"__tuple__": 5}, "invalid '__tuple__'"),
    ({"__pickle__": "x"}, "invalid '__pickle__'"),
    ({"__tensor__": 0, "__tuple__": []}, "an object with keys"),
])
def test_inconsistent_trees_are_refused(tmp_path, tree, message):
    path = _craft(tmp_path / "bad.ngd", [_entry(0)], bytes(16), tree=tree)
    with pytest.raises(engine.CheckpointError, match=re.escape(message)):
        engine.load(path)


def test_deep_nesting_is_refused_not_recursed_into(tmp_path):
    for depth in (300, 100_000):
        header = b'{"tree": ' + b"[" * depth + b"]" * depth + b', "tensors": []}'
        path = tmp_path / f"deep{depth}.ngd"
        path.write_bytes(b"NBGRAD02" + len(header).to_bytes(8, "little") + header)
        with pytest.raises(engine.CheckpointError, match="deeper|corrupt header"):
            engine.load(path)


def test_headers_that_are_not_the_format_are_refused(tmp_path):
    for header in (b"[]", b'{"tree": 1}', b'{"tree": 1, "tensors": {}}', b"\xff\xfe",
                   b'{"tree": 1, "tensors": [], "x": 2}', b"1" * 5000):
        path = tmp_path / "bad.ngd"
        path.write_bytes(b"NBGRAD02" + len(header).to_bytes(8, "little") + header)
        with pytest.raises(engine.CheckpointError):
            engine.load(path)


def test_files_of_the_unaligned_first_format_still_load(tmp_path):
    """NBGRAD01 packed tensors back to back; such files keep loading, checked likewise."""
    data = np.array([1, 0, 1], np.bool_).tobytes() + np.arange(2.0).tobytes()
    entries = [_entry(0, dtype="bool", shape=(3,)), _entry(3, dtype="float64", shape=(2,))]
    flag, values = engine.load(_craft(tmp_path / "v1.ngd", entries, data, magic=b"NBGRAD01"))
    assert flag.tolist() == [True, False, True] and values.tolist() == [0.0, 1.0]
    entries[1]["offset"] = 8
    with pytest.raises(engine.CheckpointError, match="layout puts it at 3"):
        engine.load(_craft(tmp_path / "v1.ngd", entries, data + bytes(5), magic=b"NBGRAD01"))


def test_saved_tensors_are_aligned_to_their_item_size(tmp_path):
    obj = [engine.tensor([True, False, True]), engine.arange(3), engine.ones(1),
           engine.tensor([1.0], dtype=engine.float64)]
    engine.save(obj, tmp_path / "ck.ngd")
    raw = (tmp_path / "ck.ngd").read_bytes()
    size = int.from_bytes(raw[8:16], "little")
    assert raw[:8] == b"NBGRAD02" and (16 + size) % 8 == 0
    offsets = [e["offset"] for e in json.loads(raw[16:16 + size])["tensors"]]
    assert offsets == [0, 8, 32, 40]
    back = engine.load(tmp_path / "ck.ngd")
    assert [t.tolist() for t in back] == [t.tolist() for t in obj]


def _load_in_subprocess(path, seconds=60):
    """engine.load(path) in a child with 2 GiB of address space: reading without bound
    would end in MemoryError there, or in a timeout, instead of taking this machine."""
    code = ("import resource, sys, engine\n"
            "resource.setrlimit(resource.RLIMIT_AS, (2 ** 31, 2 ** 31))\n"
            "try:\n    engine.load(sys.argv[1])\n"
            "except engine.CheckpointError as e:\n    print('refused:', e)\n")
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, timeout=seconds)


def test_devices_and_pipes_are_refused_without_reading(tmp_path):
    fifo = tmp_path / "pipe.ngd"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    for path in ("/dev/zero", fifo, tmp_path):
        run = _load_in_subprocess(path)
        assert run.returncode == 0 and "is not a regular file" in run.stdout, run.stderr


@pytest.mark.slow
def test_fuzzed_checkpoints_are_refused_or_round_trip(tmp_path):
    """2,500 damaged checkpoints (truncations, bit flips, header edits) in a child
    process, so that a crash fails this test instead of ending the suite."""
    script = Path(__file__).with_name("checkpoint_fuzz.py")
    run = subprocess.run([sys.executable, str(script), "18", "2500", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert report["refused"] + report["loaded"] == 2500 and report["refused"] > 1000
