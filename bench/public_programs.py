"""PyTorch's own example programs, run on numbagrad with only `torch` changed.

    python -m bench.public_programs EXAMPLES_CHECKOUT [--only NAME ...] [--limit SECONDS]

EXAMPLES_CHECKOUT is a clone of github.com/pytorch/examples (the programs are not copied
here). Each program runs in a scratch copy of its folder, in a fresh process whose
`import torch` gives numbagrad (bench/shim/torch) and whose torchvision datasets give
synthetic data of the real shapes (bench/shim/torchvision); the datasets a program reads
from files (WikiText-2, BSDS300) are written as synthetic files of the same layout.
Nothing else about a program changes. Prints one line per program: status, seconds and,
for a failure, the error's last line.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

SHIM = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _wikitext(folder):
    rng = np.random.default_rng(0)
    words = "the of and model data train graph tensor loss grad value sum".split()
    os.makedirs(os.path.join(folder, "data", "wikitext-2"), exist_ok=True)
    for name, lines in (("train", 300), ("valid", 40), ("test", 40)):
        with open(os.path.join(folder, "data", "wikitext-2", f"{name}.txt"), "w") as f:
            for _ in range(lines):
                f.write(" ".join(rng.choice(words, 10)) + "\n")


def _bsds300(folder):
    from PIL import Image

    rng = np.random.default_rng(0)
    for part, count in (("train", 12), ("test", 4)):
        images = os.path.join(folder, "dataset", "BSDS300", "images", part)
        os.makedirs(images, exist_ok=True)
        for i in range(count):
            pixels = (rng.random((321, 481, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(os.path.join(images, f"{i}.jpg"))


# (name, folder, [(script, arguments)], data maker): the arguments are those of the
# examples' own CI script (run_python_examples.sh), shortened where it allows.
PROGRAMS = [
    ("mnist (CNN)", "mnist", [("main.py", "--epochs 1 --dry-run")], None),
    ("mnist_rnn (LSTM)", "mnist_rnn", [("main.py", "--epochs 1 --dry-run")], None),
    ("mnist_forward_forward", "mnist_forward_forward", [("main.py", "--epochs 1 --no_accel")],
     None),
    ("mnist_hogwild (shared memory, 2 processes)", "mnist_hogwild",
     [("main.py", "--epochs 1 --dry-run")], None),
    ("regression", "regression", [("main.py", "--epochs 1")], None),
    ("vae", "vae", [("main.py", "--epochs 1")], None),
    ("dcgan", "dcgan", [("main.py", "--dataset fake --dry-run")], None),
    ("super_resolution (train, then upscale)", "super_resolution",
     [("main.py", "--upscale_factor 3 --batchSize 4 --testBatchSize 100 --nEpochs 1 --lr 0.001"),
      ("super_resolve.py", "--input_image dataset/BSDS300/images/test/0.jpg --model "
                           "model_epoch_1.pth --output_filename out.png")], _bsds300),
    ("time_sequence_prediction (LSTM cells, LBFGS)", "time_sequence_prediction",
     [("generate_sine_wave.py", ""), ("train.py", "--steps 2")], None),
    ("word_language_model (LSTM, then generate)", "word_language_model",
     [("main.py", "--epochs 1 --dry-run"), ("generate.py", "")], _wikitext),
    ("word_language_model (Transformer)", "word_language_model",
     [("main.py", "--epochs 1 --dry-run --model Transformer"), ("generate.py", "")],
     _wikitext),
    ("reinforcement_learning reinforce (gymnasium)", "reinforcement_learning",
     [("reinforce.py", "")], None),
    ("reinforcement_learning actor_critic (gymnasium)", "reinforcement_learning",
     [("actor_critic.py", "")], None),
    ("siamese_network", "siamese_network", [("main.py", "--epochs 1 --dry-run")], None),
    ("gcn", "gcn", [("main.py", "--epochs 1 --dry-run")], None),
]


def run(checkout, name, folder, steps, make_data, limit):
    with tempfile.TemporaryDirectory() as scratch:
        work = os.path.join(scratch, folder)
        shutil.copytree(os.path.join(checkout, folder), work)
        if make_data:
            make_data(work)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([SHIM, ROOT]),
                   OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg")
        start = time.perf_counter()
        for script, arguments in steps:
            try:
                done = subprocess.run([sys.executable, script, *arguments.split()], cwd=work,
                                      env=env, capture_output=True, text=True, timeout=limit)
            except subprocess.TimeoutExpired:
                return "timeout", time.perf_counter() - start, f"{script}: over {limit} s"
            if done.returncode != 0:
                lines = [line for line in done.stderr.splitlines() if line.strip()]
                return "fails", time.perf_counter() - start, \
                    f"{script}: {lines[-1] if lines else done.returncode}"
        return "runs", time.perf_counter() - start, ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkout", help="a clone of github.com/pytorch/examples")
    parser.add_argument("--only", nargs="*", help="programs whose name starts so")
    parser.add_argument("--limit", type=float, default=600, help="seconds per script")
    args = parser.parse_args()
    for name, folder, steps, make_data in PROGRAMS:
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        status, seconds, reason = run(args.checkout, name, folder, steps, make_data,
                                      args.limit)
        print(f"{status:8s} {seconds:7.1f} s  {name}  {reason}", flush=True)


if __name__ == "__main__":
    main()
