"""numba.cuda, imported once, and how kernels are launched on this machine.

numba-cuda 0.30 still registers `np.row_stack`, which numpy 2.5 removed; the alias
below lets it import there (it is the same function as `np.vstack`).
Under numba's simulator (NUMBA_ENABLE_CUDASIM=1) every GPU thread is a Python thread,
so launches there use a handful of threads; the kernels loop over their elements, so
the results do not depend on the launch shape.
"""
import numpy as np

if not hasattr(np, "row_stack"):
    np.row_stack = np.vstack

from numba import config, cuda  # noqa: E402 - needs the alias above

SIMULATED = bool(config.ENABLE_CUDASIM)
THREADS = 8 if SIMULATED else 256          # threads per block for 1-d loops
MAX_BLOCKS = 1 if SIMULATED else 4096      # grid-stride loops cover the rest
ROW_THREADS = 4 if SIMULATED else 256      # threads that share one row of a reduction
# GEMM: a block of TILE x TILE threads computes a (TILE * WORK)^2 tile of the product,
# each thread WORK x WORK outputs held in registers, stepping through K by DEPTH.
TILE, WORK, DEPTH = (2, 2, 4) if SIMULATED else (16, 4, 16)


def grid(n):
    """(blocks, threads) for a grid-stride loop over n items."""
    return (max(1, min(MAX_BLOCKS, -(-n // THREADS))), THREADS)


def synchronize():
    cuda.synchronize()
