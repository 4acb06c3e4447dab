"""`save` and `load`: checkpoints that cannot run code when loaded.

File layout (little-endian), in the spirit of safetensors:

    8 bytes   magic  b"NBGRAD01"
    8 bytes   N, the length of the header
    N bytes   header: UTF-8 JSON {"tree": ..., "tensors": [{"dtype", "shape", "offset",
              "nbytes", "requires_grad"}, ...]}
    ...       the tensors' raw bytes, C order, at their offsets from the end of the header

`tree` is the saved object with each tensor replaced by {"__tensor__": i}. Plain values
(None, bools, ints, floats incl. inf/nan, strings), lists, tuples and dicts (string or
int keys) round-trip; anything else is refused at save time rather than pickled. Saves
write a temporary file in the same folder and rename it over the target, so a crash
never leaves a half-written checkpoint where the old one was.
"""
import json
import math
import os
import tempfile

import numpy as np

from . import dtypes
from .tensor import Tensor

MAGIC = b"NBGRAD01"


class CheckpointError(RuntimeError):
    """A file that is not a numbagrad checkpoint, or is truncated or inconsistent."""


def _encode(obj, tensors, path):
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return {"__tensor__": len(tensors) - 1}
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{path}[{i}]") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, dict):
        items = []
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise TypeError(f"save: dict keys must be str or int, got {k!r} at {path}")
            items.append([k, _encode(v, tensors, f"{path}[{k!r}]")])
        return {"__dict__": items}
    raise TypeError(f"save: cannot store {type(obj).__name__} at {path}: only tensors, "
                    f"numbers, strings, None, lists, tuples and dicts are saved (no pickle)")


def _decode(node, tensors):
    if isinstance(node, list):
        return [_decode(v, tensors) for v in node]
    if isinstance(node, dict):
        if "__tensor__" in node:
            return tensors[node["__tensor__"]]
        if "__tuple__" in node:
            return tuple(_decode(v, tensors) for v in node["__tuple__"])
        if "__float__" in node:
            return float(node["__float__"])
        return {k: _decode(v, tensors) for k, v in node["__dict__"]}
    return node


def save(obj, f):
    """Write `obj` (nested dicts/lists of tensors and plain values) to path `f`, atomically."""
    tensors = []
    tree = _encode(obj, tensors, "obj")
    entries, offset, blobs = [], 0, []
    for t in tensors:
        array = t.detach().cpu().numpy()  # tobytes() below writes C order whatever the layout
        entries.append({"dtype": t.dtype.name, "shape": list(array.shape), "offset": offset,
                        "nbytes": array.nbytes, "requires_grad": t.requires_grad})
        blobs.append(array)
        offset += array.nbytes
    header = json.dumps({"tree": tree, "tensors": entries}).encode("utf-8")
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC)
            out.write(len(header).to_bytes(8, "little"))
            out.write(header)
            for array in blobs:
                out.write(array.tobytes())
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(f, map_location=None, weights_only=True):
    """Read a checkpoint written by `save`; never executes anything from the file."""
    from .creation import tensor as make_tensor

    path = os.fspath(f)
    with open(path, "rb") as handle:
        raw = handle.read()
    if raw[:8] != MAGIC:
        raise CheckpointError(f"{path} is not a numbagrad checkpoint (bad magic bytes "
                              f"{raw[:8]!r})")
    if len(raw) < 16:
        raise CheckpointError(f"{path} is truncated: it ends inside the header length")
    size = int.from_bytes(raw[8:16], "little")
    if 16 + size > len(raw):
        raise CheckpointError(f"{path} is truncated: the header needs {size} bytes, the file "
                              f"has {len(raw) - 16} after the length")
    try:
        header = json.loads(raw[16:16 + size].decode("utf-8"))
        entries, tree = header["tensors"], header["tree"]
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{path} has a corrupt header: {e}") from None
    data = memoryview(raw)[16 + size:]
    tensors = []
    for i, entry in enumerate(entries):
        try:
            dtype = dtypes.from_name(entry["dtype"])
            shape = tuple(int(n) for n in entry["shape"])
            start, nbytes = int(entry["offset"]), int(entry["nbytes"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: tensor {i} has an invalid entry ({e})") from None
        if nbytes != math.prod(shape) * dtype.itemsize:
            raise CheckpointError(f"{path}: tensor {i} claims {nbytes} bytes but shape {shape} "
                                  f"of {dtype} needs {math.prod(shape) * dtype.itemsize}")
        if start < 0 or start + nbytes > len(data):
            raise CheckpointError(f"{path} is truncated: tensor {i} needs bytes {start} to "
                                  f"{start + nbytes} of the data, the file has {len(data)}")
        array = np.frombuffer(data[start:start + nbytes], dtype=dtype.numpy).reshape(shape)
        t = make_tensor(array, dtype=dtype, device=map_location)
        if entry.get("requires_grad"):
            t.requires_grad_(True)
        tensors.append(t)
    try:
        return _decode(tree, tensors)
    except (KeyError, IndexError, TypeError) as e:
        raise CheckpointError(f"{path} has an inconsistent object tree ({e})") from None
