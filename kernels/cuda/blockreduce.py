"""Tree reductions in shared memory: the threads of a block combine their partial results.

Each thread first folds its own stride of the row into one value; then, in log2(block)
rounds, the lower half of the active threads combine the upper half's values into
theirs. Every thread gets the block's result back.
"""
from .runtime import cuda


@cuda.jit(device=True)
def block_sum(buf, value):
    tid = cuda.threadIdx.x
    buf[tid] = value
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if tid < step:
            buf[tid] += buf[tid + step]
        cuda.syncthreads()
        step //= 2
    total = buf[0]
    cuda.syncthreads()
    return total


@cuda.jit(device=True)
def block_max(buf, value):
    """The largest value, NaN if any is NaN."""
    tid = cuda.threadIdx.x
    buf[tid] = value
    cuda.syncthreads()
    step = cuda.blockDim.x // 2
    while step > 0:
        if tid < step:
            other = buf[tid + step]
            if other > buf[tid] or other != other:
                buf[tid] = other
        cuda.syncthreads()
        step //= 2
    best = buf[0]
    cuda.syncthreads()
    return best
