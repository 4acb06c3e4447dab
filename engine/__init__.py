"""numbagrad's tensor and autograd engine, with PyTorch's API.

    import engine as torch          # tutorial code runs with only this line changed
"""
from . import accelerator, amp, autograd, backends, cpu, cuda, dtypes, serialization  # noqa: F401
from .amp import autocast, get_autocast_dtype, is_autocast_enabled  # noqa: F401
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad  # noqa: F401
from .autograd import set_grad_enabled  # noqa: F401
from .creation import (  # noqa: F401
    arange, as_tensor, bernoulli, empty, empty_like, eye, from_numpy, full, full_like,
    linspace, logspace, multinomial, ones, ones_like, rand, rand_like, randint, randn, randn_like,
    randperm,
    scalar_tensor, tensor, zeros, zeros_like,
)
from .device import device, get_default_device, set_default_device  # noqa: F401
from .legacy import (  # noqa: F401
    BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, IntTensor, LongTensor,
    ShortTensor,
)
from .dtypes import get_default_dtype, promote_types, set_default_dtype  # noqa: F401
from .dtypes import dtype, finfo, iinfo  # noqa: F401
from .threads import (  # noqa: F401
    are_deterministic_algorithms_enabled, get_num_interop_threads, get_num_threads,
    is_deterministic_algorithms_warn_only_enabled, set_num_interop_threads, set_num_threads,
    use_deterministic_algorithms,
)
from .ops import *  # noqa: F401,F403
from . import linalg  # noqa: E402,F401 - torch.linalg (after the ops, which it uses)
from .linalg import (  # noqa: E402,F401 - PyTorch's top-level spellings
    det, geqrf, inverse, logdet, matrix_exp, slogdet,
)
from .printing import set_printoptions  # noqa: F401
from .compiler import compile  # noqa: E402,F401,A001 - torch.compile
from .serialization import CheckpointError, load, save  # noqa: F401
from .random import (  # noqa: F401
    Generator, default_generator, get_rng_state, initial_seed, manual_seed, seed,
    set_rng_state,
)
from .tensor import Size, Tensor  # noqa: F401

__version__ = "2.13.0+numbagrad.0.1.0"  # the PyTorch whose API it follows, then its own

float32 = float = dtypes.float32  # noqa: A001 - PyTorch's names
float64 = double = dtypes.float64
float16 = half = dtypes.float16
bfloat16 = dtypes.bfloat16
int64 = long = dtypes.int64
int32 = int = dtypes.int32  # noqa: A001
int16 = short = dtypes.int16
int8 = dtypes.int8
uint8 = dtypes.uint8
bool = dtypes.bool_  # noqa: A001


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def __getattr__(name):
    if name in ("viz", "testing", "distributions", "distributed", "func", "onnx",
                "multiprocessing"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'engine' has no attribute '{name}'")


def _own_package(name):
    """numbagrad's top-level package `name`, even where a user's module of that name
    comes first on the path (a program with its own data.py): then ours is loaded by
    its location as engine.<name> alone, and the user's keeps the top-level name."""
    import importlib.util
    import os
    import sys

    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), name)
    ours = os.path.join(folder, "__init__.py")
    try:
        found = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        found = None
    if found is not None and found.origin and os.path.exists(found.origin) \
            and os.path.samefile(found.origin, ours):
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location(f"{__name__}.{name}", ours,
                                                  submodule_search_locations=[folder])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _register_packages():
    """`engine.nn`, `engine.optim` and `engine.data` are the top-level packages themselves,
    importable both ways (`from engine.data import DataLoader` too). Done last, when every
    name above exists, so the packages can `import engine` while this runs."""
    import sys

    from . import utils

    # Tutorials also write torch.utils.data.DataLoader: the same package under that path.
    utils.data = None
    for name, aliases in (("nn", ["nn"]), ("optim", ["optim"]), ("data", ["data", "utils.data"])):
        module = globals()[name] = _own_package(name)
        # its submodules too (`from torch.utils.data.distributed import ...`), so that a
        # class has one identity whichever path imported it
        loaded = [(key[len(module.__name__):], m) for key, m in list(sys.modules.items())
                  if key == module.__name__ or key.startswith(module.__name__ + ".")]
        for alias in aliases:
            for suffix, m in loaded:
                sys.modules.setdefault(f"{__name__}.{alias}{suffix}", m)
    utils.data = globals()["data"]


_register_packages()
