"""Pickled checkpoints, and PyTorch 2.6's rule for loading them.

`engine.save` writes its own safe format whenever it can (tensors, numpy arrays,
containers, numbers, strings); anything else, a whole nn.Module say, is pickled, as
PyTorch pickles it. Unpickling can run any code the file names, so `engine.load`
refuses it by default (weights_only=True): only the globals a tree of tensors needs, and
those a user allowed with `add_safe_globals` / `safe_globals`, may be named.
`weights_only=False` unpickles anything, and should be used only for trusted files.
"""
import _compat_pickle
import contextlib
import io
import pickle

MAGIC = b"NBGRADPK"

# What pickled tensors, parameters and their containers name (module, qualified name).
_ALWAYS = {
    ("engine.tensor", "_rebuild"), ("engine.dtypes", "from_name"),
    ("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"),
    ("builtins", "complex"), ("builtins", "slice"), ("builtins", "range"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
}
_allowed = []  # objects users vouched for, by add_safe_globals


class WeightsOnlyError(pickle.UnpicklingError):
    """A pickled checkpoint that names something weights_only=True does not allow."""


def add_safe_globals(safe_globals):
    """Allow these classes and functions in checkpoints loaded with weights_only=True."""
    _allowed.extend(safe_globals)


def get_safe_globals():
    return list(_allowed)


def clear_safe_globals():
    _allowed.clear()


@contextlib.contextmanager
def safe_globals(safe_globals):
    """add_safe_globals for the duration of a `with` block."""
    before = list(_allowed)
    _allowed.extend(safe_globals)
    try:
        yield
    finally:
        _allowed[:] = before


def dumps(obj, pickle_module=None, protocol=2):
    return MAGIC + (pickle_module or pickle).dumps(obj, protocol=protocol)


def loads(raw, name, weights_only, map_location, pickle_module=None, **load_args):
    """Unpickle a checkpoint's payload; weights_only restricts what it may name."""
    payload = io.BytesIO(raw[len(MAGIC):])
    if not weights_only:
        unpickler = (pickle_module or pickle).Unpickler(payload, **load_args)
        return _moved(unpickler, map_location).load()
    return _moved(_Restricted(payload, name), map_location).load()


def _moved(unpickler, map_location):
    """Tensors rebuilt on `map_location`'s device instead of the one they were saved on."""
    if map_location is None:
        return unpickler
    find_class = unpickler.find_class

    def find(module, qualname):
        found = find_class(module, qualname)
        if (module, qualname) == ("engine.tensor", "_rebuild"):
            return lambda array, device, requires_grad: found(array, map_location,
                                                              requires_grad)
        return found

    unpickler.find_class = find
    return unpickler


class _Restricted(pickle.Unpickler):
    def __init__(self, payload, name):
        super().__init__(payload)
        self.name = name

    def find_class(self, module, qualname):
        found = None
        # Protocol 2 writes Python 2's names (__builtin__.set): compare Python 3's.
        module, qualname = _compat_pickle.NAME_MAPPING.get((module, qualname),
                                                           (module, qualname))
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, qualname) in _ALWAYS or _is_parameter(module, qualname):
            found = super().find_class(module, qualname)
        for obj in _allowed:
            if (getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)) == \
                    (module, qualname):
                found = obj
        if found is None:
            raise WeightsOnlyError(
                f"{self.name}: Weights only load failed: the checkpoint names "
                f"{module}.{qualname}, which loading with weights_only=True does not allow. "
                f"Re-running engine.load with weights_only=False will likely succeed, but "
                f"it can result in arbitrary code execution: do it only if you got the "
                f"file from a trusted source. Or allow that one global with "
                f"engine.serialization.add_safe_globals([{qualname}]).")
        return found

    def persistent_load(self, pid):
        raise WeightsOnlyError(f"{self.name}: persistent ids are not allowed")


def _is_parameter(module, qualname):
    return qualname == "Parameter" and module.split(".")[-2:] == ["nn", "parameter"]

