"""engine.onnx.export: the written model, run by onnxruntime, gives the model's outputs."""
import io

import numpy as np
import pytest

import engine
from engine import nn

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


class Attention(nn.Module):
    """Token embedding, one attention head, a linear head: embeddings, batched products,
    transposes, scaling, softmax and a mean."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(11, 8)
        self.q, self.k, self.v = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 8)
        self.head = nn.Linear(8, 3)

    def forward(self, tokens):
        x = self.embed(tokens)
        weights = (self.q(x) @ self.k(x).transpose(-2, -1) / 8 ** 0.5).softmax(-1)
        return self.head((weights @ self.v(x)).mean(1))


class SuperResolution(nn.Module):
    """PyTorch's ONNX tutorial model: convolutions, then a pixel shuffle."""

    def __init__(self, factor=3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 5, 1, 2)
        self.conv2 = nn.Conv2d(16, 16, 3, 1, 1)
        self.conv3 = nn.Conv2d(16, factor ** 2, 3, 1, 1)
        self.shuffle = nn.PixelShuffle(factor)

    def forward(self, x):
        x = engine.relu(self.conv2(engine.relu(self.conv1(x))))
        return self.shuffle(self.conv3(x))


class LeNet(nn.Module):
    """Convolutions, batch norm, max and average pooling, a flatten, linear layers."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
        self.bn = nn.BatchNorm2d(16)
        self.fc1, self.fc2 = nn.Linear(16 * 4 * 4, 32), nn.Linear(32, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(engine.relu(self.conv1(x)), 2)
        x = nn.functional.avg_pool2d(engine.relu(self.bn(self.conv2(x))), 2, ceil_mode=True)
        return nn.functional.log_softmax(self.fc2(engine.relu(self.fc1(x.flatten(1)))), 1)


class Rearrange(nn.Module):
    """Basic indexing (ints, steps, None, Ellipsis), cat, stack and clamp."""

    def forward(self, x):
        rolled = engine.cat([x[:, 1:], x[:, :1]], 1)
        strided = engine.cat([x[..., ::2, None].squeeze(-1), x[:, :, 1::2]], -1)
        return engine.stack([rolled, strided, x[:, -1:, :] * x[0]], 0).clamp(-1, 1)


MODELS = {
    "mlp": (lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3), nn.Softmax(-1)),
            lambda: engine.randn(5, 4)),
    "flatten, dropout, log_softmax": (
        lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 5), nn.Tanh(), nn.Dropout(0.5),
                              nn.Linear(5, 2), nn.LogSoftmax(1)),
        lambda: engine.randn(2, 3, 4)),
    "layer norm, gelu, sigmoid": (
        lambda: nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.GELU(), nn.Linear(6, 2),
                              nn.Sigmoid()),
        lambda: engine.randn(3, 4)),
    "attention over embeddings": (Attention, lambda: engine.randint(0, 11, (2, 5))),
    "super-resolution": (SuperResolution, lambda: engine.randn(2, 1, 12, 12)),
    "lenet": (LeNet, lambda: engine.randn(3, 1, 28, 28)),
    "conv1d and activations": (
        lambda: nn.Sequential(nn.Conv1d(3, 4, 3, padding=2, dilation=2, stride=2), nn.ELU(),
                              nn.LeakyReLU(0.2), nn.Hardtanh(-0.5, 0.5), nn.Softplus(2.0, 1.0),
                              nn.Conv1d(4, 4, 3, groups=2)),
        lambda: engine.randn(2, 3, 11)),
    "pooling with padding": (
        lambda: nn.Sequential(nn.MaxPool2d(3, stride=2, padding=1), nn.AvgPool2d(2, padding=1),
                              nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        lambda: engine.randn(2, 3, 9, 8)),
    "transposed convolutions": (
        lambda: nn.Sequential(nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
                              nn.ConvTranspose2d(4, 2, (2, 3), stride=(2, 1), dilation=(1, 2))),
        lambda: engine.randn(2, 3, 4, 5)),
    "slices, cat and stack": (Rearrange, lambda: engine.randn(2, 3, 4)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnxruntime_gives_the_models_outputs(name, tmp_path):
    make, make_input = MODELS[name]
    engine.manual_seed(0)
    model, x = make(), make_input()
    model.train()
    path = tmp_path / "model.onnx"
    engine.onnx.export(model, (x,), str(path), input_names=["x"], output_names=["y"])
    assert model.training, "the model's mode is restored after the export"
    onnx.checker.check_model(onnx.load(str(path)))
    session = ort.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == ["x"]
    got = session.run(["y"], {"x": x.numpy()})[0]
    model.eval()
    with engine.no_grad():
        want = model(x).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    fresh = make_input()  # the file computes; it does not replay the traced values
    with engine.no_grad():
        np.testing.assert_allclose(session.run(None, {"x": fresh.numpy()})[0],
                                   model(fresh).numpy(), rtol=1e-5, atol=1e-6)


def test_weights_keep_their_names_and_a_file_object_works():
    model = nn.Sequential(nn.Linear(2, 2))
    buffer = io.BytesIO()
    proto = engine.onnx.export(model, engine.ones(1, 2), buffer)
    assert {i.name for i in proto.graph.initializer} >= {"0.weight", "0.bias"}
    assert onnx.load_from_string(buffer.getvalue()).graph.output[0].name == "output_0"


def test_what_cannot_be_exported_is_refused_in_words():
    cumulative = engine.cumsum
    with pytest.raises(RuntimeError, match="has no ONNX translation yet"):
        engine.onnx.export(lambda x: cumulative(x, 0), engine.ones(3))
    model = nn.Linear(2, 2)
    with pytest.raises(NotImplementedError, match="export_params=False"):
        engine.onnx.export(model, engine.ones(1, 2), export_params=False)
    with pytest.raises(ValueError, match="opset_version=19"):
        engine.onnx.export(model, engine.ones(1, 2), opset_version=19)
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['fancy'\\]"):
        engine.onnx.export(model, engine.ones(1, 2), fancy=True)

    def data_dependent(x):
        return x * 2 if x.sum().item() > 0 else x

    with pytest.raises(RuntimeError, match="cannot be traced.*item"):
        engine.onnx.export(data_dependent, engine.ones(2))
    assert not engine.onnx.is_in_onnx_export()


def _session(model, x, **options):
    buffer = io.BytesIO()
    model.eval()
    engine.onnx.export(model, (x,), buffer, input_names=["input"], output_names=["output"],
                       **options)
    return ort.InferenceSession(buffer.getvalue())


def _check(session, model, inputs):
    for x in inputs:
        got = session.run(["output"], {"input": x.numpy()})[0]
        with engine.no_grad():
            want = model(x)
        want = want[0] if isinstance(want, tuple) else want
        np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)


def test_dynamic_batch_of_the_onnx_tutorials_model():
    """PyTorch's super-resolution tutorial exports with a dynamic batch: the file names
    the axis and runs any batch size."""
    engine.manual_seed(0)
    model = SuperResolution()
    session = _session(model, engine.randn(1, 1, 12, 12),
                       dynamic_axes={"input": {0: "batch_size"}, "output": {0: "batch_size"}})
    assert session.get_inputs()[0].shape == ["batch_size", 1, 12, 12]
    assert session.get_outputs()[0].shape == ["batch_size", 1, 36, 36]
    _check(session, model, [engine.randn(n, 1, 12, 12) for n in (1, 4, 7)])


def test_dynamic_axes_in_list_form_and_undeclared_outputs():
    engine.manual_seed(0)
    model = LeNet()
    session = _session(model, engine.randn(2, 1, 28, 28), dynamic_axes={"input": [0]})
    assert session.get_inputs()[0].shape == ["input_dynamic_axes_1", 1, 28, 28]
    assert session.get_outputs()[0].shape == ["output_dim_0", 10]  # follows the input
    _check(session, model, [engine.randn(n, 1, 28, 28) for n in (1, 5)])


class Wrapped(nn.Module):
    """The char-level GPT example's logits, for an export."""

    def __init__(self):
        super().__init__()
        from examples import char_gpt

        self.gpt, self.vocab = char_gpt.GPT(), len(char_gpt.CHARS)

    def forward(self, ids):
        return self.gpt(ids)[0]


def test_dynamic_batch_and_time_of_a_gpt():
    """Batch and sequence length both dynamic: the per-head views, the causal mask sliced
    to the length (`causal[:T, :T]`) and the positions (`arange(T)`) are read from the
    input's shape at run time."""
    engine.manual_seed(0)
    model = Wrapped()
    session = _session(model, engine.randint(0, model.vocab, (2, 9)),
                       dynamic_axes={"input": {0: "batch", 1: "time"},
                                     "output": {0: "batch", 1: "time"}})
    assert session.get_inputs()[0].shape == ["batch", "time"]
    _check(session, model, [engine.randint(0, model.vocab, shape)
                            for shape in ((2, 9), (1, 3), (4, 32))])


class Batched(nn.Module):
    def __init__(self, forward):
        super().__init__()
        self.fn = forward

    def forward(self, x):
        return self.fn(x)


def test_dynamic_axes_that_cannot_be_written_are_refused_in_words():
    x = engine.randn(2, 3, 6, 6)
    with pytest.raises(ValueError, match="'images', which is not one of the input_names"):
        _session(LeNet(), engine.randn(2, 1, 28, 28), dynamic_axes={"images": [0]})
    with pytest.raises(NotImplementedError, match="made inside the model takes its size"):
        _session(Batched(lambda x: x + engine.zeros(x.shape[0], 1, 1, 1)), x,
                 dynamic_axes={"input": [0]})
    with pytest.raises(RuntimeError, match="graph changes with the size of a dynamic axis"):
        _session(Batched(lambda x: x * 2 if x.shape[0] < 3 else x), x,
                 dynamic_axes={"input": [0]})
    with pytest.raises(NotImplementedError, match="image sides follow a dynamic axis"):
        _session(nn.Conv2d(3, 2, 3), x, dynamic_axes={"input": {2: "height"}})
    with pytest.raises(ValueError, match="dynamic axis 5 is out of range"):
        _session(nn.Conv2d(3, 2, 3), x, dynamic_axes={"input": [5]})
