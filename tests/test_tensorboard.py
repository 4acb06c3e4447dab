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


def _pixels(events, tag):
    import io

    from PIL import Image

    found = events.Images(tag)[0]
    return found.step, np.asarray(Image.open(io.BytesIO(found.encoded_image_string)))


IMAGES = [  # (tag, method, array, dataformats)
    ("chw", "add_image", np.random.default_rng(1).random((3, 5, 7)), "CHW"),
    ("hwc", "add_image", np.random.default_rng(2).random((4, 6, 3)), "HWC"),
    ("grey", "add_image", np.random.default_rng(3).random((5, 4)), "HW"),
    ("bytes", "add_image", np.arange(60, dtype=np.uint8).reshape(1, 6, 10), "CHW"),
    ("past range", "add_image", np.linspace(-1, 2, 48).reshape(3, 4, 4), "CHW"),
    ("batch", "add_images", np.random.default_rng(4).random((11, 1, 3, 4)), "NCHW"),
    ("batch hwc", "add_images", np.random.default_rng(5).random((3, 4, 5, 3)), "NHWC"),
]


@pytest.mark.parametrize("tag, method, array, formats", IMAGES, ids=[i[0] for i in IMAGES])
def test_images_are_the_pixels_pytorchs_writer_writes(tag, method, array, formats, tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    with SummaryWriter(tmp_path / "ours") as ours:
        getattr(ours, method)(tag, engine.tensor(array), 3, dataformats=formats)
    with TorchWriter(tmp_path / "theirs") as theirs:
        getattr(theirs, method)(tag, torch.tensor(array), 3, dataformats=formats)
    step, got = _pixels(_read(tmp_path / "ours"), tag)
    _, want = _pixels(_read(tmp_path / "theirs"), tag)
    assert step == 3
    np.testing.assert_array_equal(got, want)


def test_image_formats_that_do_not_fit_are_refused(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        with pytest.raises(ValueError, match="dataformats 'CHW' does not describe an image of "
                                             "shape \\(2, 3\\)"):
            writer.add_image("bad", np.zeros((2, 3)))
        with pytest.raises(ValueError, match="has no batch"):
            writer.add_images("bad", np.zeros((3, 2, 2)), dataformats="CHW")


class Net(engine.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = engine.nn.Sequential(engine.nn.Linear(4, 8), engine.nn.ReLU())
        self.head = engine.nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.body(x)).softmax(-1)


def test_the_graph_is_read_back_with_module_scopes(tmp_path):
    with SummaryWriter(tmp_path) as writer:
        writer.add_graph(Net(), engine.randn(3, 4))
    graph = _read(tmp_path).Graph()
    nodes = {n.name: n for n in graph.node}
    assert nodes["input/input.0"].op == "IO Node"
    assert "Net/Sequential[body]/Linear[0]/weight" in nodes
    linear = [n for n in graph.node if n.name.startswith("Net/Sequential[body]/Linear[0]/")
              and n.op != "Parameter"]
    assert linear and "input/input.0" in linear[0].input
    relu = next(n for n in graph.node if n.name.startswith("Net/Sequential[body]/ReLU[1]/"))
    assert relu.op == "relu"
    softmax = next(n for n in graph.node if n.op == "softmax")
    assert softmax.name.startswith("Net/softmax")  # run by Net's own forward
    assert list(softmax.attr["_output_shapes"].list.shape[0].dim) == [
        type(softmax.attr["_output_shapes"].list.shape[0].dim[0])(size=n) for n in (3, 2)]
    assert nodes["output/output.0"].input == [softmax.name]
    for node in graph.node:  # every edge names a node of the graph
        assert all(source in nodes for source in node.input)


@pytest.mark.parametrize("thresholds, weighted", [(127, False), (11, True), (300, False)])
def test_pr_curves_are_the_data_pytorchs_writer_writes(thresholds, weighted, tmp_path):
    torch = pytest.importorskip("torch")
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 2, 200)
    predictions = rng.random(200)
    weights = rng.random(200) if weighted else None
    with SummaryWriter(tmp_path / "ours") as ours:
        ours.add_pr_curve("pr", engine.tensor(labels), engine.tensor(predictions), 2,
                          num_thresholds=thresholds,
                          weights=None if weights is None else engine.tensor(weights))
    with TorchWriter(tmp_path / "theirs") as theirs:
        theirs.add_pr_curve("pr", torch.tensor(labels), torch.tensor(predictions), 2,
                            num_thresholds=thresholds, weights=weights)  # numpy: theirs
        # multiplies weights in numpy and takes no tensor there
    got, want = (_read(tmp_path / run).Tensors("pr")[0] for run in ("ours", "theirs"))
    assert got.step == want.step == 2
    assert got.tensor_proto.tensor_shape == want.tensor_proto.tensor_shape
    np.testing.assert_array_equal(got.tensor_proto.float_val, want.tensor_proto.float_val)


def test_embeddings_are_the_files_pytorchs_writer_writes(tmp_path):
    """The projector's files: tensors, labels (plain and with a header), the sprite's
    pixels and the config, as torch's writer writes them, for two embeddings in a run."""
    torch = pytest.importorskip("torch")
    from PIL import Image
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    rng = np.random.default_rng(6)
    features = rng.standard_normal((7, 3)).astype(np.float32)
    images = rng.random((7, 1, 4, 5)).astype(np.float32)
    labels = [f"class {i % 3}" for i in range(7)]
    table = [[i, i * i] for i in range(7)]
    runs = {"ours": (SummaryWriter, engine.tensor), "theirs": (TorchWriter, torch.tensor)}
    for run, (Writer, make) in runs.items():
        with Writer(tmp_path / run) as writer:
            writer.add_embedding(make(features), metadata=labels, label_img=make(images))
            writer.add_embedding(make(features), metadata=table, global_step=3,
                                 tag="with/slash", metadata_header=["id", "square"])
    for name in ("projector_config.pbtxt", "00000/default/tensors.tsv",
                 "00000/default/metadata.tsv", "00003/with%2fslash/metadata.tsv",
                 "00003/with%2fslash/tensors.tsv"):
        assert (tmp_path / "ours" / name).read_text() == \
            (tmp_path / "theirs" / name).read_text(), name
    sprites = [np.asarray(Image.open(tmp_path / run / "00000/default/sprite.png"))
               for run in runs]
    np.testing.assert_array_equal(*sprites)
    with SummaryWriter(tmp_path / "bad") as writer:
        with pytest.raises(ValueError, match="6 labels for 7 points"):
            writer.add_embedding(features, metadata=labels[:6])


def test_figures_are_the_pixels_pytorchs_writer_writes(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("torch")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    def figures():
        made = []
        for k in range(3):
            fig = plt.figure(figsize=(2, 1.5), dpi=40)
            plt.plot(np.arange(10) * (k + 1), color="C%d" % k)
            made.append(fig)
        return made

    for run, Writer in (("ours", SummaryWriter), ("theirs", TorchWriter)):
        with Writer(tmp_path / run) as writer:
            one = figures()[0]
            writer.add_figure("one", one, 1)
            assert not plt.fignum_exists(one.number)  # closed after
            writer.add_figure("many", figures(), 2, close=False)
        plt.close("all")
    for tag in ("one", "many"):
        ours, theirs = (_pixels(_read(tmp_path / run), tag) for run in ("ours", "theirs"))
        assert ours[0] == theirs[0]
        np.testing.assert_array_equal(ours[1], theirs[1])
