"""The CPU backend: every name in `kernels.interface.REQUIRED`, over numpy arrays."""
from .elementwise import *  # noqa: F401,F403 - one kernel per name in kernels.scalar
from .fused import kernel as fused_kernel, sum_kernel as fused_sum_kernel  # noqa: F401 - engine.compile's fused groups
from .inplace import add_, div_, mul_, sub_  # noqa: F401
from .linalg import cholesky, det, eigh, inv, matmul, qr, slogdet, solve, svd  # noqa: F401
from .window import fold, unfold  # noqa: F401
from .loss import (  # noqa: F401
    cross_entropy_and_grad, cross_entropy_backward_rows, cross_entropy_reduced,
    cross_entropy_rows,
)
from .optim import (  # noqa: F401
    adadelta_step, adagrad_step, adam_step, adamax_step, nadam_step, radam_step, rmsprop_step,
    sgd_step, update_many,
)
from .memory import (  # noqa: F401
    arange, astype, broadcast_to, concatenate, copy, copy_into, diagonal, empty, eye, from_numpy,
    full, getitem, index_add, linspace, memory_root, permute, reshape, setitem, stack,
    storage_offset, strides, to_numpy, where,
)
from .random import (  # noqa: F401
    bernoulli, generator, load_state, multinomial, normal, randint, reseed, saved_state,
    uniform,
)
from .reduce import (  # noqa: F401
    amax, amin, argsort, cumsum, gather, log_softmax, log_softmax_backward, logsumexp, max_along,
    min_along, scatter_add, searchsorted, softmax, softmax_backward, sum,
)

name = "cpu"
