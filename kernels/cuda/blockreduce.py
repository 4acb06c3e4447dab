"""Tree reductions in shared memory: the threads of a block combine their partial results.

Each thread first folds its own stride of the row into one value; then, in log2(block)
rounds, the lower half of the active threads combine the upper half's values into
theirs. Every thread gets the block's result back.
"""
from .runtime import cuda


def _tree(combine):
    """A block reduction by `combine(mine, theirs)`, a device function."""

    @cuda.jit(device=True)
    def reduce(buf, value):
        tid = cuda.threadIdx.x
        buf[tid] = value
        cuda.syncthreads()
        step = cuda.blockDim.x // 2
        while step > 0:
            if tid < step:
                buf[tid] = combine(buf[tid], buf[tid + step])
            cuda.syncthreads()
            step //= 2
        result = buf[0]
        cuda.syncthreads()  # before anyone writes buf again
        return result

    return reduce


@cuda.jit(device=True)
def _add(mine, theirs):
    return mine + theirs


@cuda.jit(device=True)
def _larger(mine, theirs):
    """The larger value, NaN if either is NaN."""
    return theirs if theirs > mine or theirs != theirs else mine


block_sum = _tree(_add)
block_max = _tree(_larger)  # the largest value, NaN if any is NaN
