"""Hostile optimizer state, run as a script so that a crash is a failed test.

    python tests/optimizer_state_child.py FOLDER [DTYPE]

For every optimizer, each state entry is removed, set to None, given the wrong shape or
dtype, or replaced by a number, and `step()` is called; then optimizer checkpoints
with edited headers are loaded and stepped. DTYPE (float32 by default; bfloat16 goes
through the narrow backend's widening kernels) is the weight's. Prints one JSON object:
what each case did ("ok" or the exception's type), and any case that raised something
unexpected.
"""
import json
import random
import sys
from pathlib import Path

import checkpoint_fuzz

import engine

optim = engine.optim

OPTIMIZERS = {
    "SGD": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "SGD-nesterov": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True,
                                         weight_decay=0.1),
    "Adam": lambda ps: optim.Adam(ps, amsgrad=True),
    "AdamW": lambda ps: optim.AdamW(ps),
    "Adagrad": lambda ps: optim.Adagrad(ps),
    "RMSprop": lambda ps: optim.RMSprop(ps, centered=True, momentum=0.9),
    "Adamax": lambda ps: optim.Adamax(ps),
    "NAdam": lambda ps: optim.NAdam(ps),
    "RAdam": lambda ps: optim.RAdam(ps),
    "Adadelta": lambda ps: optim.Adadelta(ps),
}

MUTATIONS = {
    "removed": lambda state, key, p: state.pop(key),
    "None": lambda state, key, p: state.__setitem__(key, None),
    "smaller": lambda state, key, p: state.__setitem__(key, engine.zeros(1)),
    "larger": lambda state, key, p: state.__setitem__(key, engine.zeros(4 * p.numel() + 3)),
    "float64": lambda state, key, p: state.__setitem__(key, engine.zeros_like(
        p, dtype=engine.float64)),
    "text": lambda state, key, p: state.__setitem__(key, "0"),
}


DTYPE = engine.float32


def stepped(name):
    """An optimizer of `name` after two steps on a 3 x 5 weight, and its parameter."""
    engine.manual_seed(0)
    weight = engine.randn(3, 5, dtype=DTYPE, requires_grad=True)
    optimizer = OPTIMIZERS[name]([weight])
    for _ in range(2):
        optimizer.zero_grad()
        (weight * weight).sum().backward()
        optimizer.step()
    return optimizer, weight


def outcome(optimizer):
    try:
        optimizer.step()
    except (RuntimeError, ValueError, TypeError, KeyError) as e:
        return type(e).__name__
    return "ok"


def edited_checkpoints(folder, cases):
    """Optimizer checkpoints with one header edit each, loaded and stepped."""
    rng = random.Random(7)
    results = {"refused": 0, "loaded": 0, "stepped": 0, "step refused": 0}
    for name in ("Adam", "RMSprop", "SGD-nesterov", "NAdam"):
        optimizer, weight = stepped(name)
        engine.save(optimizer.state_dict(), folder / "opt.ngd")
        raw = (folder / "opt.ngd").read_bytes()
        for _ in range(cases):
            (folder / "edited.ngd").write_bytes(checkpoint_fuzz.edit_header(raw, rng))
            fresh, weight = stepped(name)
            try:
                fresh.load_state_dict(engine.load(folder / "edited.ngd"))
            except (engine.CheckpointError, ValueError, TypeError, KeyError):
                results["refused"] += 1
                continue
            results["loaded"] += 1
            kind = outcome(fresh)
            results["stepped" if kind == "ok" else "step refused"] += 1
    return results


def main(folder):
    cases = {}
    for name in OPTIMIZERS:
        optimizer, weight = stepped(name)
        for key in sorted(optimizer.state[weight]):
            for mutation, apply in MUTATIONS.items():
                optimizer, weight = stepped(name)
                apply(optimizer.state[weight], key, weight)
                cases[f"{name} {key} {mutation}"] = outcome(optimizer)
    edits = 150 if DTYPE is engine.float32 else 40
    print(json.dumps({"cases": cases, "edited": edited_checkpoints(Path(folder), edits)}))


if __name__ == "__main__":
    if len(sys.argv) > 2:
        DTYPE = getattr(engine, sys.argv[2])
    main(sys.argv[1])
