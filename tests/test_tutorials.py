"""The tutorials' training loops run with only their imports changed and give PyTorch's
losses: each example's own source is run twice, as written and with `import torch`."""
import pathlib
import types

import numpy as np
import pytest

import engine
from conftest import needs_torch

pytestmark = needs_torch
EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"


def load(name, framework):
    """The example module, its imports pointing at engine or at torch."""
    source = (EXAMPLES / f"{name}.py").read_text()
    if framework == "torch":
        source = (source.replace("import engine as torch", "import torch")
                  .replace("from engine import nn", "from torch import nn"))
    module = types.ModuleType(f"{name}_{framework}")
    exec(compile(source, str(EXAMPLES / f"{name}.py"), "exec"), module.__dict__)
    return module


def same_start(ours, theirs):
    ours.load_state_dict({k: engine.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})


@pytest.mark.parametrize("name, epochs", [("or_gate", 1000), ("my_linear", 200)])
def test_training_loop_matches_torch(name, epochs):
    ours, theirs = load(name, "engine"), load(name, "torch")
    model_e, model_t = ours.make_model(), theirs.make_model()
    assert repr(model_e) == repr(model_t)
    same_start(model_e, model_t)
    losses_e = ours.train(model_e, epochs)
    losses_t = theirs.train(model_t, epochs)
    np.testing.assert_allclose(losses_e, losses_t, rtol=1e-4, atol=1e-6)
    assert losses_e[-1] < losses_e[0] / 3


def test_or_gate_learns_the_gate():
    import argparse

    module = load("or_gate", "engine")
    config = argparse.Namespace(**module.DEFAULTS, seed=0, device="cpu", progress=False)
    assert module.run(config)["accuracy"] == 1.0
