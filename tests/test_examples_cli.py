"""Every example runs through the CLI (small epochs) and reaches its stated result; the
CLI's errors are one line; the digits example matches PyTorch from the same start."""
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import engine
from engine import cli
from conftest import needs_torch
from test_tutorials import load, same_start

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _idx(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big")
                                                         for n in array.shape)
    return header + array.tobytes()


def learnable_images(n, seed):
    """Images whose class shows as a bright band at row 2 * label: easy to learn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
        images[i, 2 * label + 2:2 * label + 5] = 230
    return images, labels.astype(np.uint8)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    """FashionMNIST and NotMNIST files in place, so the examples need no network."""
    root = tmp_path_factory.mktemp("data")
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n, seed in (("train", 600, 0), ("t10k", 200, 1)):
        images, labels = learnable_images(n, seed)
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(images))
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(labels))
    images, labels = learnable_images(400, 2)
    for i, (img, label) in enumerate(zip(images, labels)):
        folder = root / "NotMNIST" / "notMNIST_small" / "ABCDEFGHIJ"[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(folder / f"{i:04d}.png")
    (root / "NotMNIST" / "notMNIST_small" / ".complete").touch()  # a whole extraction
    return root


CASES = {  # small settings for CI, and what the run must reach
    "autograd_walkthrough": [],
    "or_gate": [],
    "logistic_regression": [],
    "my_linear": [],
    "fashion_mnist_mlp": ["--epochs", "2", "--lr", "0.05"],
    "text_dataset": [],
    "notmnist": ["--epochs", "2"],
    "digits": [],
    "char_gpt": ["--epochs", "3"],
}


def test_every_example_is_listed(capsys):
    assert cli.main(["list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(CASES)


@pytest.mark.parametrize("name", list(CASES))
def test_example_reaches_its_goal_through_the_cli(name, data_root, tmp_path, capsys):
    args = ["run", name, "--quiet", "--data-root", str(data_root)] + CASES[name]
    if name != "text_dataset":
        args += ["--graph", str(tmp_path / "graph.svg"), "--loss-curve",
                 str(tmp_path / "loss.png")]
    assert cli.main(args) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "goal" in out and "reached" in out and "NOT reached" not in out
    if name != "text_dataset":
        svg = (tmp_path / "graph.svg").read_text()
        assert svg.startswith("<?xml") and "Backward0" in svg
        assert Image.open(tmp_path / "loss.png").size == (640, 400)


def test_explain_through_the_cli(capsys):
    assert cli.main(["run", "or_gate", "--quiet", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "SigmoidBackward0" in out and "accumulated into fc.weight.grad" in out


@pytest.mark.parametrize("argv, message", [
    (["run", "nope"], "unknown example 'nope'"),
    (["run", "or_gat"], "did you mean 'or_gate'"),
    (["run", "or_gate", "--epochs", "abc"], "invalid"),
    (["run", "or_gate", "--epochs", "0"], "expected a positive integer"),
    (["run", "or_gate", "--graph", "g.txt"], "--graph needs a .svg, .png or .pdf"),
    (["run", "text_dataset", "--graph", "g.svg"], "builds no autograd graph"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_errors_are_one_line_and_a_non_zero_exit(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err and err.startswith("numbagrad: error")


def test_cuda_option_without_a_gpu(capsys, monkeypatch):
    monkeypatch.setattr(engine.cuda, "is_available", lambda: False)  # as on a GPU-less machine
    assert cli.main(["run", "or_gate", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_python_dash_m_engine_and_the_script_alone():
    listed = subprocess.run([sys.executable, "-m", "engine", "list"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert listed.returncode == 0 and "or_gate" in listed.stdout
    alone = subprocess.run([sys.executable, "examples/or_gate.py", "--epochs", "50", "--quiet"],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert alone.returncode == 0 and "or_gate: loss" in alone.stdout
    bad = subprocess.run([sys.executable, "-m", "engine", "run", "nope"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


@needs_torch
def test_digits_reaches_what_pytorch_reaches():
    ours, theirs = load("digits", "engine"), load("digits", "torch")
    model_e, model_t = ours.make_model(), theirs.make_model()
    same_start(model_e, model_t)
    _, acc_e, _ = ours.train(model_e, 30, 0.01)
    _, acc_t, _ = theirs.train(model_t, 30, 0.01)
    assert abs(acc_e - acc_t) <= 2 / 297 and acc_e >= 0.9


@needs_torch
def test_char_gpt_trains_step_for_step_like_pytorch():
    """Same start, same batches, no dropout: the two frameworks' AdamW steps agree."""
    ours, theirs = load("char_gpt", "engine"), load("char_gpt", "torch")
    model_e, model_t = ours.make_model(dropout=0.0), theirs.make_model(dropout=0.0)
    assert repr(model_e) == repr(model_t)
    same_start(model_e, model_t)
    engine.manual_seed(3)
    batches = [ours.get_batch("train", 8) for _ in range(12)]
    losses_e = ours.train(model_e, 12, 3e-3, batches=batches)
    losses_t = theirs.train(model_t, 12, 3e-3, batches=[
        tuple(theirs.torch.tensor(t.numpy()) for t in batch) for batch in batches])
    np.testing.assert_allclose(losses_e, losses_t, rtol=2e-4)
    assert losses_e[-1] < losses_e[0] - 0.5
