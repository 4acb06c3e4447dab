"""`save` and `load`: checkpoints that cannot run code when loaded, and that a hostile
file cannot turn into a crash, a hang or an unbounded allocation.

File layout (little-endian), in the spirit of safetensors:

    8 bytes   magic  b"NBGRAD02"
    8 bytes   N, the length of the header
    N bytes   header: UTF-8 JSON {"tree": ..., "tensors": [{"dtype", "shape", "offset",
              "nbytes", "requires_grad"}, ...]}, padded with spaces so that the data
              starts 8-byte aligned
    ...       the tensors' raw bytes, C order, at their offsets from the end of the header

`tree` is the saved object with each tensor replaced by {"__tensor__": i} (a numpy
array by {"__ndarray__": i}). Plain values (None, bools, ints, floats incl. inf/nan,
strings), lists, tuples and dicts (string or int keys) round-trip. Anything else (a
whole module, a custom class) is pickled instead, as PyTorch does, and loading that
needs weights_only=False or an allowance (`engine.unpickling`). Saves to a path write a
temporary file in the same folder and rename it over the target, so a crash never
leaves a half-written checkpoint where the old one was; file objects are written to.

Tensors are stored in order, each at the first offset after its predecessor that is a
multiple of its item size (b"NBGRAD01" files, written before alignment, pack them with
no padding). `load` accepts exactly that layout: offsets in order, aligned, disjoint,
ending where the file ends; so the bytes a file decodes to are bounded by its size.
"""
import json
import math
import os
import pickle
import stat
import tempfile

import numpy as np

from . import dtypes, unpickling
from .tensor import Tensor
from .unpickling import (  # noqa: F401 - torch.serialization's names
    WeightsOnlyError, add_safe_globals, clear_safe_globals, get_safe_globals, safe_globals,
)

MAGIC = b"NBGRAD02"
# Each format's alignment of a tensor's offset, from its item size.
_ALIGNMENT = {b"NBGRAD01": lambda itemsize: 1, MAGIC: lambda itemsize: itemsize}
_ENTRY_KEYS = {"dtype", "shape", "offset", "nbytes", "requires_grad"}
_MAX_DEPTH = 256  # deeper trees are refused rather than recursed into


class CheckpointError(RuntimeError):
    """A file that is not a numbagrad checkpoint, or is truncated or inconsistent."""


def _encode(obj, tensors, path):
    if isinstance(obj, Tensor):
        tensors.append(obj)
        return {"__tensor__": len(tensors) - 1}
    if isinstance(obj, np.ndarray):
        dtypes.from_numpy(obj.dtype)  # a TypeError for dtypes the format has no name for
        tensors.append(Tensor._make(np.asarray(obj, order="C")))  # 0-d stays 0-d
        return {"__ndarray__": len(tensors) - 1}
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


def save(obj, f, pickle_module=None, pickle_protocol=2):
    """Write `obj` to `f` (a path, written atomically, or a binary file object): in the
    safe format when it is made of tensors, numpy arrays, containers and plain values,
    else pickled (with `pickle_module` and `pickle_protocol`, as PyTorch's save)."""
    tensors = []
    try:
        tree = _encode(obj, tensors, "obj")
    except TypeError:
        _write(f, [unpickling.dumps(obj, pickle_module, pickle_protocol)])
        return
    _write(f, _safe_format(tree, tensors))


def _safe_format(tree, tensors):
    """The file's bytes, as a list of chunks."""
    entries, end, blobs = [], 0, []
    for t in tensors:
        array = t.detach().cpu().numpy()  # tobytes() below writes C order whatever the layout
        offset = _align(end, array.itemsize)
        entries.append({"dtype": t.dtype.name, "shape": list(array.shape), "offset": offset,
                        "nbytes": array.nbytes, "requires_grad": t.requires_grad})
        blobs.append((offset - end, array))
        end = offset + array.nbytes
    header = json.dumps({"tree": tree, "tensors": entries}).encode("utf-8")
    header += b" " * (_align(16 + len(header), 8) - 16 - len(header))
    chunks = [MAGIC, len(header).to_bytes(8, "little"), header]
    for padding, array in blobs:
        chunks += [bytes(padding), array.tobytes()]
    return chunks


def _write(f, chunks):
    if hasattr(f, "write"):
        for chunk in chunks:
            f.write(chunk)
        return
    path = os.fspath(f)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise




def _align(offset, alignment):
    return -(-offset // alignment) * alignment


# ---- loading: every check, before anything is built ------------------------------------

def load(f, map_location=None, pickle_module=None, *, weights_only=True, mmap=None,
         **pickle_load_args):
    """Read a checkpoint written by `save` from a path or a binary file object.

    A safe-format file never executes anything: whatever it holds, the outcome is the
    saved object or a `CheckpointError` saying what is wrong, the header checked entry
    by entry against the layout above before a single tensor is made. A pickled one
    loads with weights_only=True (the default, as in PyTorch 2.6) only if it names
    nothing but tensors' own parts and what `add_safe_globals` allowed.
    """
    from .creation import tensor as make_tensor

    if mmap:
        raise ValueError("load: mmap=True is not supported: checkpoints are read whole")
    if hasattr(f, "read"):
        path, raw = getattr(f, "name", "<file object>"), f.read()
    else:
        path = os.fspath(f)
        raw = _read_regular_file(path)
    if raw[:8] == unpickling.MAGIC:
        try:
            return unpickling.loads(raw, path, weights_only is not False, map_location,
                                    pickle_module, **pickle_load_args)
        except unpickling.WeightsOnlyError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, IndexError) as e:
            raise CheckpointError(f"{path}: a corrupt pickled checkpoint ({e})") from None
    try:
        header, data, alignment = _split(raw)
        entries = _entries(header, len(data), alignment)
        tensors = []
        for i, (dtype, shape, start, nbytes, requires_grad) in enumerate(entries):
            array = np.frombuffer(data[start:start + nbytes], dtype=dtype.numpy)
            try:
                array = array.reshape(shape)
            except (ValueError, OverflowError) as e:
                raise CheckpointError(f"tensor {i} has an impossible shape {shape} ({e})")
            t = make_tensor(array, dtype=dtype, device=map_location)
            tensors.append(t.requires_grad_(True) if requires_grad else t)
        return _decode(header["tree"], tensors, 0)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None


def _read_regular_file(path):
    """The whole file, read by its size; devices, pipes and folders are refused (reading
    /dev/zero or a FIFO would never end)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise CheckpointError(f"{path} is not a regular file: a checkpoint is read from "
                                  f"a file of known size")
        with os.fdopen(os.dup(fd), "rb") as handle:
            raw = handle.read(info.st_size)
    finally:
        os.close(fd)
    if len(raw) != info.st_size:
        raise CheckpointError(f"{path} changed while it was read ({len(raw)} of "
                              f"{info.st_size} bytes)")
    return raw


def _split(raw):
    """The parsed header, the data region and the format's alignment rule."""
    alignment = _ALIGNMENT.get(raw[:8])
    if alignment is None:
        raise CheckpointError(f"not a numbagrad checkpoint (bad magic bytes {raw[:8]!r})")
    if len(raw) < 16:
        raise CheckpointError("truncated: the file ends inside the header length")
    size = int.from_bytes(raw[8:16], "little")
    if size > len(raw) - 16:
        raise CheckpointError(f"truncated: the header needs {size} bytes, the file has "
                              f"{len(raw) - 16} after the length")
    try:
        header = json.loads(raw[16:16 + size].decode("utf-8"))
    except (ValueError, RecursionError) as e:
        raise CheckpointError(f"corrupt header: {e}") from None
    if not isinstance(header, dict) or set(header) != {"tree", "tensors"}:
        raise CheckpointError("corrupt header: expected an object with 'tree' and 'tensors'")
    return header, memoryview(raw)[16 + size:], alignment


def _entries(header, available, alignment):
    """(dtype, shape, offset, nbytes, requires_grad) per tensor, each checked: known
    dtype, a shape of non-negative ints, nbytes that the shape needs, and an offset right
    after the previous tensor (aligned); the last tensor ends where the file ends."""
    entries = header["tensors"]
    if not isinstance(entries, list):
        raise CheckpointError("corrupt header: 'tensors' is not a list")
    checked, end = [], 0
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != _ENTRY_KEYS:
            raise CheckpointError(f"tensor {i} has an invalid entry: expected the keys "
                                  f"{sorted(_ENTRY_KEYS)}")
        name, shape = entry["dtype"], entry["shape"]
        offset, nbytes, requires_grad = entry["offset"], entry["nbytes"], entry["requires_grad"]
        dtype = dtypes.from_name(name) if isinstance(name, str) and name in dtypes.NAMES \
            else None
        if dtype is None:
            raise CheckpointError(f"tensor {i} has an unknown dtype {name!r}")
        if not isinstance(shape, list) or len(shape) > 64 \
                or not all(_is_count(n) for n in shape):
            raise CheckpointError(f"tensor {i} has an invalid shape {shape!r}: expected a "
                                  f"list of at most 64 non-negative integers")
        if not (_is_count(offset) and _is_count(nbytes) and isinstance(requires_grad, bool)):
            raise CheckpointError(f"tensor {i} has an invalid entry: offset and nbytes must "
                                  f"be non-negative integers, requires_grad a bool")
        if requires_grad and not dtype.is_floating_point:
            raise CheckpointError(f"tensor {i} of {dtype} cannot require gradients")
        needed = math.prod(shape) * dtype.itemsize
        if nbytes != needed:
            raise CheckpointError(f"tensor {i} claims {nbytes} bytes but shape "
                                  f"{tuple(shape)} of {dtype} needs {needed}")
        expected = _align(end, alignment(dtype.itemsize))
        if offset != expected:
            raise CheckpointError(f"tensor {i} starts at byte {offset} of the data, where "
                                  f"the layout puts it at {expected} (tensors are stored in "
                                  f"order, aligned, with no gaps or overlaps)")
        end = offset + nbytes
        if end > available:
            raise CheckpointError(f"truncated: tensor {i} needs bytes {offset} to {end} of "
                                  f"the data, the file has {available}")
        checked.append((dtype, tuple(shape), offset, nbytes, requires_grad))
    if end != available:
        raise CheckpointError(f"the data has {available - end} bytes after its last tensor")
    return checked


def _is_count(value):
    return type(value) is int and value >= 0


def _decode(node, tensors, depth):
    """The object tree with tensors put back; anything `save` cannot have written is
    refused, and so is nesting deeper than _MAX_DEPTH."""
    if depth > _MAX_DEPTH:
        raise CheckpointError(f"inconsistent object tree: nested deeper than {_MAX_DEPTH}")
    if isinstance(node, list):
        return [_decode(v, tensors, depth + 1) for v in node]
    if not isinstance(node, dict):
        return node  # JSON's scalars: None, bool, int, float, str
    if len(node) != 1:
        raise CheckpointError(f"inconsistent object tree: an object with keys "
                              f"{sorted(node)[:4]}")
    ((kind, value),) = node.items()
    if kind == "__tensor__" and type(value) is int and 0 <= value < len(tensors):
        return tensors[value]
    if kind == "__ndarray__" and type(value) is int and 0 <= value < len(tensors):
        return tensors[value].detach().cpu().numpy()
    if kind == "__tuple__" and isinstance(value, list):
        return tuple(_decode(v, tensors, depth + 1) for v in value)
    if kind == "__float__" and value in ("inf", "-inf", "nan"):
        return float(value)
    if kind == "__dict__" and isinstance(value, list) and all(_is_item(v) for v in value):
        return {k: _decode(v, tensors, depth + 1) for k, v in value}
    raise CheckpointError(f"inconsistent object tree: invalid {kind!r} entry")


def _is_item(pair):
    return isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int)) \
        and not isinstance(pair[0], bool)
