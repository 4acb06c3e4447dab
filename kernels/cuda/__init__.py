"""The CUDA backend: every name in `kernels.interface.REQUIRED`, over `CudaArray`s.

Importing this module needs numba's CUDA support (a driver, or the simulator under
NUMBA_ENABLE_CUDASIM=1); `engine.cuda.is_available()` says whether it can be used.
Kernels are compiled on first use, per dtype and operand layout.
"""
from .runtime import SIMULATED, synchronize  # noqa: F401 - first: it makes numba.cuda importable
from .allocator import empty_cache, memory_allocated, memory_reserved  # noqa: F401
from .array import CudaArray, empty  # noqa: F401
from .elementwise import *  # noqa: F401,F403 - one kernel per name in kernels.scalar
from .fused import kernel as fused_kernel, sum_kernel as fused_sum_kernel  # noqa: F401 - engine.compile's fused groups
from .indexing import getitem, index_add, setitem  # noqa: F401
from .layout import broadcast_to, copy, diagonal, permute, reshape  # noqa: F401
from .linalg import cholesky, det, eigh, inv, matmul, qr, slogdet, solve, svd  # noqa: F401
from .window import fold, unfold  # noqa: F401
from .loss import (  # noqa: F401
    cross_entropy_and_grad, cross_entropy_backward_rows, cross_entropy_reduced,
    cross_entropy_rows,
)
from .memory import (  # noqa: F401
    arange, astype, concatenate, copy_into, eye, from_numpy, full, linspace, memory_root,
    stack, storage_offset, strides, to_numpy, where,
)
from .optim import (  # noqa: F401
    adadelta_step, adagrad_step, adam_step, adamax_step, nadam_step, radam_step, rmsprop_step,
    sgd_step, update_many,
)
from .random import (  # noqa: F401
    bernoulli, generator, load_state, multinomial, normal, randint, reseed, saved_state,
    uniform,
)
from .pinned import from_pinned, is_pinned, pinned_empty, to_pinned  # noqa: F401 - host memory
from .reduce import (  # noqa: F401
    amax, amin, argsort, cumsum, gather, log_softmax, log_softmax_backward, logsumexp, max_along,
    min_along, scatter_add, searchsorted, softmax, softmax_backward, sum,
)

name = "cuda"

