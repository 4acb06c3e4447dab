"""Matrix products: a tiled GEMM in shared memory, batched and broadcasting like numpy's.

A block of TILE x TILE threads owns a square tile of C = A @ B of side TILE * WORK.
It walks K in steps of DEPTH: the threads load a DEPTH-deep slab of A's rows and B's
columns into shared memory together (each element read once from global memory per
block), then every thread multiplies WORK values of A by WORK values of B from
shared memory into a WORK x WORK accumulator in registers. Operands are read
through their strides, so transposed weights (`x @ w.T`) are never copied.
"""
import functools
import math

import numba
import numpy as np

from . import fused
from .array import empty
from .layout import broadcast_to, contiguous, reshape
from .elementwise import broadcast_shape
from .runtime import DEPTH, TILE, WORK, cuda

SIDE = TILE * WORK


@cuda.jit(device=True)
def _as_is(value):
    return value


@functools.cache
def _gemm(dtype, finish=_as_is):
    """The kernel for `dtype`, each result passed through the device function `finish`
    before it is written."""
    kind = numba.from_dtype(dtype)

    @cuda.jit
    def kernel(a, ao, a_batch, a_row, a_col, b, bo, b_batch, b_row, b_col, out, M, N, K,
               bias, bias_step):
        tile_a = cuda.shared.array((DEPTH, SIDE), kind)
        tile_b = cuda.shared.array((DEPTH, SIDE), kind)
        acc = cuda.local.array((WORK, WORK), kind)
        ra = cuda.local.array(WORK, kind)
        rb = cuda.local.array(WORK, kind)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        tid = ty * TILE + tx
        batch = cuda.blockIdx.z
        row0, col0 = cuda.blockIdx.y * SIDE, cuda.blockIdx.x * SIDE
        a_base, b_base = ao + batch * a_batch, bo + batch * b_batch
        for i in range(WORK):
            for j in range(WORK):
                acc[i, j] = 0
        for k0 in range(0, K, DEPTH):
            for slot in range(tid, DEPTH * SIDE, TILE * TILE):
                kk, mm = slot % DEPTH, slot // DEPTH          # A: consecutive threads walk K
                r, k = row0 + mm, k0 + kk
                tile_a[kk, mm] = a[a_base + r * a_row + k * a_col] if r < M and k < K else 0
                kk, nn = slot // SIDE, slot % SIDE            # B: consecutive threads walk N
                c, k = col0 + nn, k0 + kk
                tile_b[kk, nn] = b[b_base + k * b_row + c * b_col] if c < N and k < K else 0
            cuda.syncthreads()
            for kk in range(DEPTH):
                for i in range(WORK):
                    ra[i] = tile_a[kk, ty + i * TILE]
                    rb[i] = tile_b[kk, tx + i * TILE]
                for i in range(WORK):
                    for j in range(WORK):
                        acc[i, j] += ra[i] * rb[j]
            cuda.syncthreads()
        for i in range(WORK):
            r = row0 + ty + i * TILE
            for j in range(WORK):
                c = col0 + tx + j * TILE
                if r < M and c < N:
                    value = acc[i, j]
                    if bias_step >= 0:  # F.linear's bias: one per column, in this pass
                        value += bias[c * bias_step]
                    out[(batch * M + r) * N + c] = finish(value)

    return kernel


def _batched(x, batch, rows, cols):
    """x as (offset, batch stride, row stride, col stride) over a flat batch of matrices."""
    x = broadcast_to(x, batch + (rows, cols))
    step = _batch_step(x, len(batch))
    if step is None:
        x = contiguous(x)
        step = _batch_step(x, len(batch))
    return x, step, x.strides[-2], x.strides[-1]


def _batch_step(x, n):
    """The one stride that walks the leading n dims as a single flat dim, or None.

    Size-1 dims take no steps, so their strides (0 after broadcasting) say nothing and
    are skipped; a broadcast dim of stride 0 flattens too, so shared operands are not
    copied.
    """
    dims = [(size, stride) for size, stride in zip(x.shape[:n], x.strides[:n]) if size != 1]
    for (_, outer), (size, inner) in zip(dims, dims[1:]):
        if outer != inner * size:
            return None
    return dims[-1][1] if dims else 0


def matmul(a, b, out=None, bias=None, epilogue=None):
    """numpy's matmul: batched, broadcasting over leading dimensions. `bias`, a vector
    of one value per column (F.linear's), is added as each result is written: no
    launch of its own. Any other shape is added by a separate launch. `epilogue`, the
    steps of a fused program of one input (engine.compile's activation after a linear
    layer), is applied to each result after the bias, in the same pass where the bias
    is (else by its own launch)."""
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("matmul: both operands must have at least one dimension")
    a2 = reshape(a, (1,) + a.shape) if a.ndim == 1 else a
    b2 = reshape(b, b.shape + (1,)) if b.ndim == 1 else b
    M, K = a2.shape[-2:]
    K2, N = b2.shape[-2:]
    if K != K2:
        raise ValueError(f"matmul: inner dimensions differ: {a.shape} @ {b.shape}")
    batch = broadcast_shape([a2.shape[:-2], b2.shape[:-2]])
    count = math.prod(batch)
    av, a_batch, a_row, a_col = _batched(a2, batch, M, K)
    bv, b_batch, b_row, b_col = _batched(b2, batch, K, N)
    dtype = np.result_type(a.dtype, b.dtype)
    result = empty(batch + (M, N), dtype)
    if result.size:
        if K == 0:
            from .memory import copy_into

            copy_into(result, 0)
        else:
            rows = bias is not None and bias.ndim == 1 and bias.shape[0] == N \
                and bias.dtype == dtype and b.ndim > 1
            if rows:
                bias_buffer, bias_step = bias.buffer[bias.offset:], bias.strides[0]
            else:
                bias_buffer, bias_step = result.buffer, -1
            blocks = (-(-N // SIDE), -(-M // SIDE), count)
            applied = epilogue if rows or bias is None else None
            finish = _as_is if applied is None else fused.device_function(applied, 1, dtype)
            _gemm(dtype, finish)[blocks, (TILE, TILE)](
                av.buffer, av.offset, a_batch, a_row, a_col, bv.buffer, bv.offset, b_batch,
                b_row, b_col, result.buffer, M, N, K, bias_buffer, bias_step)
            bias = None if rows else bias
            epilogue = None if applied else epilogue
    shape = batch + ((M,) if a.ndim > 1 else ()) + ((N,) if b.ndim > 1 else ())
    result = reshape(result, shape)
    if bias is not None:
        from .elementwise import add

        result = add(result, bias, out=result)
    if epilogue is not None:
        result = fused.kernel(epilogue, 1, dtype)(result, out=result)
    if out is not None:
        from .memory import copy_into

        copy_into(out, result)
        return out
    return result


# ---- factorisations and solves: through the host --------------------------------------
# numba.cuda has no LAPACK (cuSOLVER is not reachable from it), so these copy to the
# host, call the CPU backend's LAPACK and copy back: correct, not fast.

def _on_host(cpu_fn):
    from .. import cpu
    from .memory import from_numpy, to_numpy

    def fn(*arrays):
        result = getattr(cpu, cpu_fn)(*map(to_numpy, arrays))
        return tuple(map(from_numpy, result)) if isinstance(result, tuple) \
            else from_numpy(np.asarray(result))

    fn.__name__ = cpu_fn
    return fn


inv, solve, det, slogdet, cholesky, eigh, svd, qr = map(
    _on_host, ("inv", "solve", "det", "slogdet", "cholesky", "eigh", "svd", "qr"))
