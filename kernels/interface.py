"""The functions a backend must provide, with the same names and signatures everywhere.

Ops in `engine` call only these names, so adding a device means adding a module
that defines all of them; `missing(module)` says what a new backend still lacks.
Arrays are the backend's own (numpy arrays on the CPU); `out=` arguments, where
present, let callers write into memory they already own.
"""
from . import scalar, update_rules

MEMORY = (
    "empty", "full", "arange", "linspace", "eye", "from_numpy", "to_numpy", "astype",
    "copy", "copy_into", "memory_root", "strides", "storage_offset", "reshape", "permute",
    "broadcast_to", "diagonal",
    "getitem", "setitem", "index_add", "concatenate", "stack", "where",
)
RANDOM = ("generator", "uniform", "normal", "randint", "bernoulli", "multinomial")
# One kernel per scalar formula (kernels/scalar.py; `where` is a memory op above), and
# the in-place updates.
ELEMENTWISE = tuple(n for n in scalar.NAMES if n not in MEMORY) + (
    "add_", "sub_", "mul_", "div_")
REDUCTION = (
    "sum", "amax", "amin", "max_along", "min_along", "logsumexp",
    "softmax", "log_softmax", "softmax_backward", "log_softmax_backward",
    "gather", "scatter_add", "cross_entropy_rows", "cross_entropy_reduced",
    "cross_entropy_backward_rows", "cross_entropy_and_grad", "argsort",
    "cumsum", "searchsorted",
)
LINALG = ("matmul", "inv", "solve", "det", "slogdet", "cholesky", "eigh", "svd", "qr")
WINDOWS = ("unfold", "fold")
OPTIM = tuple(step.__name__ for step in update_rules.STEPS) + ("update_many",)

REQUIRED = MEMORY + RANDOM + ELEMENTWISE + REDUCTION + LINALG + WINDOWS + OPTIM


def missing(backend):
    """Names from REQUIRED that `backend` does not define."""
    return [name for name in REQUIRED if not hasattr(backend, name)]
