"""A seeded fuzzer for engine.load, run as a script so that a crash is a failed test.

    python tests/checkpoint_fuzz.py SEED CASES FOLDER

Each case damages a valid checkpoint (a truncation, a flipped bit, or an edit of the
JSON header that keeps it parseable) and loads it. The only outcomes allowed are a
`CheckpointError`, or an object that decodes to no more tensor bytes than the file
holds and survives save and load again unchanged. Anything else is printed, and the
script exits 1; a crash kills the process, which the calling test sees.
"""
import json
import math
import random
import sys
import traceback
from pathlib import Path

import numpy as np

import engine

HOSTILE = [None, True, -1, 0, 1, 3, 7, 2 ** 31, 2 ** 63, 10 ** 30, 1.5, 2.0, -0.0, "1", "",
           "float32", "int64", "bool", [], [1], [2, 3], [-1], [0, 10 ** 20], {}, {"a": 1},
           [[1]], float("nan")]


def base_checkpoints():
    """Checkpoints of the shapes people save: a model with buffers of several dtypes,
    an optimizer's state, nested containers with empty and 0-d tensors."""
    engine.manual_seed(0)
    nn = engine.nn
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), nn.Linear(5, 2))
    optimizer = engine.optim.Adam(model.parameters(), amsgrad=True)
    model(engine.randn(4, 3)).sum().backward()
    optimizer.step()
    yield {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3}
    yield {"a": [engine.tensor([True, False, True]), engine.arange(5),
                 (engine.zeros(2, 0), "text", None)],
           "b": {1: engine.tensor(2.5, dtype=engine.float64), 2: float("inf")},
           "c": engine.ones(3, dtype=engine.int32), "g": engine.ones(2, requires_grad=True)}


def split(raw):
    size = int.from_bytes(raw[8:16], "little")
    return json.loads(raw[16:16 + size]), raw[16 + size:]


def join(magic, header, data, length=None):
    text = json.dumps(header).encode()
    size = len(text) if length is None else length
    return magic + size.to_bytes(8, "little") + text + data


def paths(node, path=()):
    """Every position in a JSON tree, as a path of keys and indices."""
    yield path
    items = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from paths(value, path + (key,))


def edit_header(raw, rng):
    """One structural edit of the header, most aimed at the tensor entries."""
    header, data = split(raw)
    kind = rng.randrange(8)
    entries = header["tensors"]
    if kind == 0 and entries:  # one field of one entry becomes something hostile
        entry = rng.choice(entries)
        entry[rng.choice(sorted(entry))] = rng.choice(HOSTILE)
    elif kind == 1 and entries:  # an offset moved, a little or onto another tensor
        entry = rng.choice(entries)
        entry["offset"] = rng.choice([entry["offset"] + rng.randint(-9, 9),
                                      rng.choice(entries)["offset"]])
    elif kind == 2 and entries:  # an entry repeated many times: overlapping tensors
        entries.extend([rng.choice(entries)] * rng.randint(1, 50))
    elif kind == 3 and entries:  # shape and nbytes changed together, consistently
        entry = rng.choice(entries)
        entry["shape"] = [rng.randint(0, 4) for _ in range(rng.randint(0, 3))]
        entry["nbytes"] = math.prod(entry["shape"]) * np.dtype(entry["dtype"]).itemsize
    elif kind == 4:  # any position in the whole header replaced
        where = rng.choice(list(paths(header))[1:])
        node = header
        for key in where[:-1]:
            node = node[key]
        node[where[-1]] = rng.choice(HOSTILE)
    elif kind == 5:  # deep nesting, written as text (too deep for json.dumps)
        depth = rng.choice([50, 300, 5000])
        opening, closing = rng.choice([("[", "]"), ('{"__tuple__": [', "]}")])
        header["tree"] = "DEEP"
        text = json.dumps(header).replace('"DEEP"', opening * depth + "0" + closing * depth)
        return raw[:8] + len(text).to_bytes(8, "little") + text.encode() + data
    elif kind == 6:  # a wrong header length
        return join(raw[:8], header, data, length=rng.randint(0, 2 * len(raw)))
    else:  # bytes appended or removed at the end of the data
        data = data + bytes(rng.randint(1, 9)) if rng.random() < 0.5 else data[:-1]
    return join(raw[:8], header, data)


def damage(raw, rng):
    kind = rng.random()
    if kind < 0.25:
        return raw[:rng.randrange(len(raw))]
    if kind < 0.5:
        flipped = bytearray(raw)
        at = rng.randrange(len(raw))
        flipped[at] ^= 1 << rng.randrange(8)
        return bytes(flipped)
    return edit_header(raw, rng)


def tensor_bytes(obj):
    if isinstance(obj, engine.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(tensor_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(tensor_bytes(v) for v in obj)
    return 0


def same(a, b):
    if isinstance(a, engine.Tensor):
        return isinstance(b, engine.Tensor) and a.dtype is b.dtype and a.shape == b.shape \
            and a.requires_grad == b.requires_grad \
            and a.detach().numpy().tobytes() == b.detach().numpy().tobytes()
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(map(same, a.values(),
                                                                       b.values()))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def main(seed, cases, folder):
    rng = random.Random(seed)
    folder = Path(folder)
    bases = []
    for i, obj in enumerate(base_checkpoints()):
        engine.save(obj, folder / f"base{i}.ngd")
        bases.append((folder / f"base{i}.ngd").read_bytes())
    refused = loaded = 0
    failures = []
    for case in range(cases):
        raw = damage(rng.choice(bases), rng)
        path = folder / "case.ngd"
        path.write_bytes(raw)
        try:
            obj = engine.load(path)
        except engine.CheckpointError:
            refused += 1
            continue
        except Exception:
            failures.append(f"case {case}: {traceback.format_exc(limit=3)}")
            continue
        loaded += 1
        try:
            engine.save(obj, folder / "again.ngd")
            kept = same(obj, engine.load(folder / "again.ngd"))
        except Exception:
            failures.append(f"case {case} did not save again: {traceback.format_exc(limit=3)}")
            continue
        if tensor_bytes(obj) > len(raw) or not kept:
            failures.append(f"case {case}: loaded {tensor_bytes(obj)} tensor bytes from a "
                            f"{len(raw)}-byte file, or did not round-trip")
    print(json.dumps({"refused": refused, "loaded": loaded, "failures": failures[:5],
                      "failed": len(failures)}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]))
