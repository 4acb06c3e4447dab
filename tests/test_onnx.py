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
    conv = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(RuntimeError, match="has no ONNX translation yet"):
        engine.onnx.export(conv, engine.ones(1, 1, 5, 5))
    model = nn.Linear(2, 2)
    with pytest.raises(NotImplementedError, match="dynamic_axes"):
        engine.onnx.export(model, engine.ones(1, 2), dynamic_axes={"x": {0: "batch"}})
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
