"""torch.utils.tensorboard's SummaryWriter: the event files it writes, read back by
TensorBoard's own reader."""
import numpy as np
import pytest

import engine

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from engine.utils.tensorboard import SummaryWriter  # noqa: E402


def _read(folder):
    events = EventAccumulator(str(folder), size_guidance={"tensors": 0, "histograms": 0,
                                                          "scalars": 0})
    events.Reload()
    return events


def test_scalars_histograms_and_text_are_read_back_by_tensorboard(tmp_path):
    values = engine.tensor(np.random.default_rng(0).standard_normal(1000))
    with SummaryWriter(tmp_path / "run") as writer:
        for step in range(5):
            writer.add_scalar("loss", engine.tensor(1.0 / (step + 1)), step)
        writer.add_histogram("weights", values, 3)
        writer.add_histogram("uniform", np.arange(10.0), 4, bins=5)
        writer.add_text("note", "trained for 5 steps", 5)
        writer.add_scalars("curves", {"train": 0.5, "valid": engine.tensor(0.7)}, 1)
    events = _read(tmp_path / "run")
    loss = events.Scalars("loss")
    assert [e.step for e in loss] == list(range(5))
    assert [round(e.value, 6) for e in loss] == [round(1 / (s + 1), 6) for s in range(5)]
    histogram = events.Histograms("weights")[0].histogram_value
    assert histogram.num == 1000 and sum(histogram.bucket) == 1000
    assert histogram.min == pytest.approx(values.min().item())
    assert events.Histograms("uniform")[0].histogram_value.bucket == [2.0] * 5
    text = events.Tensors("note/text_summary")[0]
    assert text.step == 5 and text.tensor_proto.string_val == [b"trained for 5 steps"]
    valid = _read(tmp_path / "run" / "curves_valid").Scalars("curves")
    assert valid[0].value == pytest.approx(0.7) and valid[0].step == 1


def test_the_torch_import_path_and_default_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    import importlib

    module = importlib.import_module("engine.utils.tensorboard")
    writer = module.SummaryWriter(comment="_lr0.1")
    writer.close()
    assert writer.get_logdir().startswith("runs") and writer.get_logdir().endswith("_lr0.1")
    with pytest.raises(ValueError, match="empty"):
        module.SummaryWriter(tmp_path / "e").add_histogram("h", [], 0)
