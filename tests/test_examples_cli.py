"""Every example runs through the CLI (small epochs) and reaches its stated result; the
CLI's errors are one line; the digits example matches PyTorch from the same start."""
import os
import re
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
    "private_sgd": ["--epochs", "12", "--lr", "1.5"],
}


def test_every_example_is_listed(capsys):
    assert cli.main(["list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(CASES))
def test_example_reaches_its_goal_through_the_cli(name, data_root, tmp_path, capsys):
    args = ["run", name, "--quiet"] + CASES[name]
    if "data_root" in cli._load(name).DEFAULTS:
        args += ["--data-root", str(data_root)]
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
    (["run", "or_gate", "--epochs", "abc"], "expected a positive integer, got 'abc'"),
    (["run", "or_gate", "--epochs", "0"], "expected a positive integer"),
    (["run", "or_gate", "--lr", "abc"], "argument --lr: expected a positive number, got 'abc'"),
    (["run", "or_gate", "--lr", "nan"], "expected a positive number, got 'nan'"),
    (["run", "or_gate", "--lr", "inf"], "expected a positive number, got 'inf'"),
    (["run", "or_gate", "--lr", "-1"], "expected a positive number, got '-1'"),
    (["run", "or_gate", "--graph", "g.txt"], "--graph needs a .svg, .png or .pdf"),
    (["run", "or_gate", "--graph", "/no/such/folder/g.svg"], "the folder /no/such/folder "
                                                             "does not exist"),
    (["run", "or_gate", "--loss-curve", "curve.jpg"], "--loss-curve needs a .png or .svg"),
    (["run", "or_gate", "--loss-curve", "/no/such/c.png"], "does not exist"),
    (["run", "or_gate", "--batch-size", "8"], "--batch-size does not apply to or_gate (its "
                                              "own options: --epochs, --lr)"),
    (["run", "or_gate", "--data-root", "d"], "--data-root does not apply to or_gate"),
    (["run", "autograd_walkthrough", "--epochs", "3"], "(its own options: none)"),
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
    assert cli.main(["run", "fashion_mnist_mlp", "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
    assert cli.main(["run", "or_gate", "--device", "cuda"]) == 2  # or_gate runs on the CPU
    assert "--device does not apply to or_gate" in capsys.readouterr().err


def _cli(*args, env=None, **kwargs):
    """The numbagrad command in a child process, from the repository's root."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=240, env={**os.environ, **(env or {})}, **kwargs)


def test_the_script_alone_exits_as_the_cli_does(tmp_path):
    """python examples/NAME.py: exit 3 when the goal is missed, 2 for bad options, 1 and
    one line (no traceback) for a data folder that cannot be made."""
    missed = _cli("examples/or_gate.py", "--epochs", "1", "--quiet")
    assert missed.returncode == 3 and "NOT reached" in missed.stdout
    bad = _cli("examples/or_gate.py", "--lr", "nan")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    unwritable = _cli("examples/notmnist.py", "--quiet", "--data-root", "/proc/no/data")
    assert unwritable.returncode == 1, unwritable.stderr
    assert "Traceback" not in unwritable.stderr and len(unwritable.stderr.splitlines()) == 1


def test_a_closed_pipe_ends_the_listing_quietly():
    listing = subprocess.run(f"{sys.executable} -m engine list | head -1", shell=True,
                             capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert listing.stdout.startswith("autograd_walkthrough") and listing.stderr == ""


def test_a_missing_optional_package_says_what_to_install(monkeypatch, capsys):
    import builtins

    real_import = builtins.__import__

    def without_sklearn(name, *args, **kwargs):
        if name.startswith("sklearn"):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name.split(".")[0])
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_sklearn)
    assert cli.main(["run", "digits", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "needs the sklearn package" in err and "pip install scikit-learn" in err


def test_datasets_go_to_a_cache_folder_not_the_working_directory(monkeypatch):
    monkeypatch.delenv("NUMBAGRAD_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    assert cli.default_data_root() == "/somewhere/cache/numbagrad"
    monkeypatch.setenv("NUMBAGRAD_DATA", "/data/sets")
    assert cli.default_data_root() == "/data/sets"
    module = cli._load("fashion_mnist_mlp")
    options = cli._parser().parse_args(["run", "fashion_mnist_mlp"])
    assert cli.configure(module, options).data_root == "/data/sets"


def test_loss_curves_are_written_as_png_or_svg(tmp_path):
    from engine.cli.plot import loss_curve

    loss_curve([3.0, 2.0, float("nan"), 1.0], tmp_path / "c.svg")
    loss_curve([3.0, 2.0, 1.0], tmp_path / "c.png")
    svg = (tmp_path / "c.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 1
    assert Image.open(tmp_path / "c.png").size == (640, 400)


def test_progress_bars_redraw_only_on_a_terminal():
    import io

    from engine.cli.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    log, terminal = io.StringIO(), Terminal()
    for stream in (log, terminal):
        bar = Progress(range(3), desc="train", stream=stream)
        for _ in bar:
            bar.note(loss=0.5)
    assert "\r" not in log.getvalue() and log.getvalue().count("\n") == 1
    assert log.getvalue().startswith("train [") and "3/3" in log.getvalue()
    assert terminal.getvalue().startswith("\rtrain [")


def test_import_engine_with_a_read_only_cache(tmp_path):
    """Neither the install nor the home can hold numba's cache: one warning, and the
    kernels still compile (cached in a temporary folder)."""
    code = ("import warnings, numba.core.caching as c\n"
            "for cls in (c.InTreeCacheLocator, c.UserWideCacheLocator):\n"
            "    cls.from_function = classmethod(lambda cls, f, p: None)\n"
            "with warnings.catch_warnings(record=True) as caught:\n"
            "    warnings.simplefilter('always')\n"
            "    import engine\n"
            "    print(float((engine.arange(5000.0) * 2).sum()))\n"
            "print(sum('NUMBA_CACHE_DIR' in str(w.message) for w in caught))\n")
    run = _cli("-c", code, env={"NUMBA_CACHE_DIR": ""})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == [str(float(2 * sum(range(5000)))), "1"]


def test_python_dash_m_engine_and_the_script_alone():
    listed = subprocess.run([sys.executable, "-m", "engine", "list"], capture_output=True,
                            text=True, cwd=ROOT, timeout=120)
    assert listed.returncode == 0 and "or_gate" in listed.stdout
    alone = subprocess.run([sys.executable, "examples/or_gate.py", "--epochs", "500", "--quiet"],
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


def _readme_blocks():
    text = open(os.path.join(ROOT, "README.md")).read()
    return [block.split("\n", 1)[1] for block in text.split("```")[1::2]
            if block.startswith("python\n")]


def test_the_readme_first_example_prints_what_it_says():
    code = _readme_blocks()[0]
    run = _cli("-c", code)
    assert run.returncode == 0, run.stderr[-2000:]
    printed = run.stdout.splitlines()
    claims = [line.split("# ", 1)[1] for line in code.splitlines()
              if line.startswith("print(") and "# " in line]
    assert re.fullmatch(claims[0].replace("0x...", "0x[0-9a-f]+"),
                        printed[0])
    assert printed[1].startswith(claims[1].rstrip(". "))


def test_the_readme_hypothesis_example_passes_as_pasted(tmp_path):
    code = next(b for b in _readme_blocks() if "from hypothesis" in b)
    (tmp_path / "test_pasted.py").write_text(code)
    run = _cli("-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path / "test_pasted.py"))
    assert run.returncode == 0 and "1 passed" in run.stdout, run.stdout[-3000:]


def test_the_wheel_installs_examples_under_the_engine(tmp_path):
    """No top-level `examples` package: it would clash with other distributions'."""
    import zipfile

    import shutil

    source = tmp_path / "source"  # a copy: building writes build/ beside the sources
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", "build", "*.egg-info", "__pycache__", ".hypothesis", "data*"))
    shutil.copytree(os.path.join(ROOT, "data"), source / "data",
                    ignore=shutil.ignore_patterns("__pycache__"))
    build = _cli("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                 str(tmp_path), str(source))
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = tmp_path.glob("numbagrad-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "engine/examples/or_gate.py" in names and "engine/examples/__init__.py" in names
    assert not any(n.startswith("examples/") for n in names)
    metadata = next(n for n in names if n.endswith("METADATA"))
    assert "Requires-Dist: hypothesis" in zipfile.ZipFile(wheel).read(metadata).decode()
