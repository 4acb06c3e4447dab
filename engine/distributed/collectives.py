"""The collectives, with PyTorch's signatures, as MPI's non-blocking operations.

CPU tensors go to MPI as their numpy buffers, with no copy. CUDA tensors are staged
through pinned host memory: copied out, sent, and copied back when the work finishes.
Every collective is started non-blocking and, unless `async_op=True` asked for the
handle, waited for at once; the wait is bounded by the group's timeout.
"""
import numpy as np

from ..autograd import no_grad
from ..device import device as engine_device
from ..tensor import Tensor, version_counter
from ..tracing import TRACER, graph_break
from .group import _resolve, _state
from .work import Work


class _Op:
    def __init__(self, name, value):
        self.name, self.value = name, value

    def __repr__(self):
        return f"<RedOpType.{self.name}: {self.value}>"


class ReduceOp:
    """How `all_reduce` and `reduce_scatter_tensor` combine the ranks' values."""

    SUM, AVG, PRODUCT, MIN, MAX = (_Op(n, v) for n, v in (
        ("SUM", 0), ("AVG", 1), ("PRODUCT", 2), ("MIN", 3), ("MAX", 4)))
    BAND, BOR, BXOR = (_Op(n, v) for n, v in (("BAND", 5), ("BOR", 6), ("BXOR", 7)))


_SUM = ReduceOp.SUM
_MPI_NAME = {"SUM": "SUM", "AVG": "SUM", "PRODUCT": "PROD", "MIN": "MIN", "MAX": "MAX",
             "BAND": "BAND", "BOR": "BOR", "BXOR": "BXOR"}


def _mpi_op(pg, op, tensor, name):
    if op is ReduceOp.SUM:  # the common case, before the checks the others need
        return pg.MPI.SUM
    if not isinstance(op, _Op):
        raise TypeError(f"{name}: op must be a ReduceOp (such as ReduceOp.SUM), got {op!r}")
    if op is ReduceOp.AVG and not tensor.dtype.is_floating_point:
        raise ValueError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got "
                         f"{tensor.dtype}")
    if op.name in ("BAND", "BOR", "BXOR") and tensor.dtype.is_floating_point:
        raise ValueError(f"{name}: ReduceOp.{op.name} needs an integer or bool tensor, got "
                         f"{tensor.dtype}")
    return getattr(pg.MPI, _MPI_NAME[op.name])


def _start(group, name):
    """The group a collective runs on. A trace under way stops here: MPI writes the
    tensors behind the trace's back, and a replay would skip the collective on this
    rank while the others wait for it (engine.compile records DDP's collectives whole,
    as effects, by running them untraced)."""
    graph_break(f"torch.distributed.{name}(), a collective")
    return _resolve(group)


def _checked(tensor, name, what="tensor"):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: {what} must be a Tensor, got {type(tensor).__name__}")
    if not tensor.is_contiguous():
        raise ValueError(f"{name}: {what} must be contiguous (call .contiguous() first); "
                         f"got strides {tensor.stride()} for shape {tuple(tensor.shape)}")
    return tensor


class _Buffer:
    """The host memory MPI reads or writes for one tensor, and how to finish with it."""

    def __init__(self, tensor):
        self.tensor = tensor
        self.staged = tensor.device.type != "cpu"
        self.array = tensor._backend.to_pinned(tensor._data) if self.staged else tensor._data

    def store(self):
        """Called once MPI has written `array`: make the tensor hold it."""
        if self.staged:
            self.tensor._backend.from_pinned(self.tensor._data, self.array)
        version_counter(self.tensor).value += 1


def _store_into(tensors, rows):
    """Write each row of a gathered host array into its tensor of the caller's list."""
    with no_grad():
        for t, row in zip(tensors, rows):
            t.copy_(Tensor._make(row))


def _debug_check(pg, name, *signature):
    """In debug mode every rank compares what it is about to do (as with
    TORCH_DISTRIBUTED_DEBUG): a mismatch is a clear error on all ranks rather than a hang
    or a truncated message inside MPI."""
    mine = (name,) + signature
    every = pg.comm.allgather(mine)
    if any(s != mine for s in every):
        lines = "; ".join(f"rank {r}: {_describe(s)}" for r, s in enumerate(every))
        raise RuntimeError(f"{name}: the ranks disagree on the collective they are running "
                           f"(NUMBAGRAD_DISTRIBUTED_DEBUG): {lines}")


def _describe(signature):
    name, *rest = signature
    return f"{name}(" + ", ".join(str(x) for x in rest) + ")"


def _meta(tensor):
    return (tuple(tensor.shape), str(tensor.dtype).replace("torch.", ""), tensor.device.type)


def _run(pg, name, async_op, requests, finish, status=None):
    work = Work(name, requests, finish, pg.timeout, status)
    if async_op:
        return work
    work.wait()
    return None


def _check_root(pg, name, root, what):
    if not isinstance(root, int) or not 0 <= root < pg.size():
        raise ValueError(f"{name}: {what}={root!r} is not a rank of a group of size "
                         f"{pg.size()}")


def _check_list(pg, name, tensors, like, what):
    if tensors is None or len(tensors) != pg.size():
        got = "None" if tensors is None else f"{len(tensors)} tensors"
        raise ValueError(f"{name}: {what} must hold one tensor per rank ({pg.size()}), "
                         f"got {got}")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor) or _meta(t) != _meta(like):
            got = _meta(t) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name}: {what}[{i}] must match the tensor's shape, dtype and "
                             f"device {_meta(like)}, got {got}")


def _divide_for_avg(op, buffer, size):
    if op is ReduceOp.AVG:
        np.divide(buffer.array, size, out=buffer.array)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `tensor` over all ranks, in place on every rank."""
    fast = _state["fast"]
    if (fast is not None and op is _SUM and group is None and not async_op
            and type(tensor) is Tensor and TRACER[0] is None):
        data = tensor._data
        if type(data) is np.ndarray and data.flags.c_contiguous:  # a contiguous CPU tensor
            # The common case (gradients, metrics) needs no other check, no Work and MPI's
            # blocking call, which the group's watchdog bounds in time: at 4 KiB each
            # Python step more showed beside MPI's own 5-6 µs (the call, its objects and
            # the watchdog were bound once, when the group was made).
            allreduce, in_place, watchdog = fast
            watchdog.started += 1
            watchdog.running = "all_reduce"
            try:
                allreduce(in_place, data)
            finally:
                watchdog.running = None
            version = tensor._version
            if version is not None:  # else no one holds a version to compare
                version.value += 1
            return None
    pg = _start(group, "all_reduce")
    _checked(tensor, "all_reduce")
    mpi_op = _mpi_op(pg, op, tensor, "all_reduce")
    if pg.debug:
        _debug_check(pg, "all_reduce", *_meta(tensor), op.name)
    buffer = _Buffer(tensor)
    request = pg.comm.Iallreduce(pg.MPI.IN_PLACE, buffer.array, op=mpi_op)

    def finish():
        _divide_for_avg(op, buffer, pg.size())
        buffer.store()

    return _run(pg, "all_reduce", async_op, [request], finish)


def summed(K, x, group):
    """A new array: `x` summed over the ranks of `group` (blocking, bounded by the group's
    timeout). The forward of the differentiable all-reduce (engine.distributed.nn), which
    is a primitive: engine.compile records it as an op and its replays run it, so it
    passes no graph break (`_start`)."""
    pg = _resolve(group)
    if pg.debug:
        _debug_check(pg, "all_reduce", tuple(x.shape), str(x.dtype), "SUM")
    out = K.copy(x)  # contiguous
    to_pinned = getattr(K, "to_pinned", None)  # a device array goes through host memory
    host = out if to_pinned is None else to_pinned(out)
    request = pg.comm.Iallreduce(pg.MPI.IN_PLACE, host, op=pg.MPI.SUM)
    _run(pg, "all_reduce", False, [request], lambda: None)
    if to_pinned is not None:
        K.from_pinned(out, host)
    return out


def broadcast(tensor, src=0, group=None, async_op=False):
    """Copy rank `src`'s tensor into every other rank's, in place."""
    pg = _start(group, "broadcast")
    _checked(tensor, "broadcast")
    _check_root(pg, "broadcast", src, "src")
    if pg.debug:
        _debug_check(pg, "broadcast", *_meta(tensor), src)
    buffer = _Buffer(tensor)
    request = pg.comm.Ibcast(buffer.array, root=src)
    return _run(pg, "broadcast", async_op, [request], buffer.store)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Every rank's `tensor`, into `tensor_list[rank]` on every rank."""
    pg = _start(group, "all_gather")
    _checked(tensor, "all_gather")
    _check_list(pg, "all_gather", tensor_list, tensor, "tensor_list")
    if pg.debug:
        _debug_check(pg, "all_gather", *_meta(tensor))
    send = _Buffer(tensor).array
    received = np.empty((pg.size(),) + send.shape, send.dtype)
    request = pg.comm.Iallgather(send, received)
    return _run(pg, "all_gather", async_op, [request],
                lambda: _store_into(tensor_list, received))


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """Every rank's input, concatenated (or stacked) into output_tensor, in rank order."""
    pg = _start(group, "all_gather_into_tensor")
    name = "all_gather_into_tensor"
    _checked(input_tensor, name, "input_tensor")
    _checked(output_tensor, name, "output_tensor")
    _check_sizes(name, output_tensor, input_tensor, pg.size(), "output_tensor", "input_tensor")
    if pg.debug:
        _debug_check(pg, name, *_meta(input_tensor))
    send = _Buffer(input_tensor).array
    out = _Buffer(output_tensor)
    request = pg.comm.Iallgather(send, out.array)
    return _run(pg, name, async_op, [request], out.store)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine `input` over the ranks; rank r keeps the r-th of world_size equal parts."""
    pg = _start(group, "reduce_scatter_tensor")
    name = "reduce_scatter_tensor"
    _checked(input, name, "input")
    _checked(output, name, "output")
    _check_sizes(name, input, output, pg.size(), "input", "output")
    mpi_op = _mpi_op(pg, op, input, name)
    if pg.debug:
        _debug_check(pg, name, *_meta(input), op.name)
    send = _Buffer(input).array
    out = _Buffer(output)
    request = pg.comm.Ireduce_scatter_block(send, out.array, op=mpi_op)

    def finish():
        _divide_for_avg(op, out, pg.size())
        out.store()

    return _run(pg, name, async_op, [request], finish)


def _check_sizes(name, whole, part, size, whole_name, part_name):
    """`whole` holds world_size parts, each of `part`'s size and dtype."""
    if whole.dtype != part.dtype or whole.device != part.device:
        raise ValueError(f"{name}: {whole_name} and {part_name} must have the same dtype and "
                         f"device, got {whole.dtype} on {whole.device} and {part.dtype} on "
                         f"{part.device}")
    if whole.numel() != size * part.numel():
        raise ValueError(f"{name}: {whole_name} of shape {tuple(whole.shape)} must have "
                         f"world_size ({size}) times the elements of {part_name} of shape "
                         f"{tuple(part.shape)}")


def _rooted(pg, name, tensor, root, root_name, tensors, list_name):
    """The checks of gather and scatter: a list of one tensor per rank on the root rank
    only. Returns whether this rank is the root."""
    _checked(tensor, name)
    _check_root(pg, name, root, root_name)
    here = pg.rank() == root
    if here:
        _check_list(pg, name, tensors, tensor, list_name)
    elif tensors:
        raise ValueError(f"{name}: {list_name} must be empty or None on ranks other than "
                         f"{root_name}")
    if pg.debug:
        _debug_check(pg, name, *_meta(tensor), root)
    return here


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False):
    """Every rank's `tensor`, into `gather_list` on rank `dst` only."""
    pg = _start(group, "gather")
    here = _rooted(pg, "gather", tensor, dst, "dst", gather_list, "gather_list")
    send = _Buffer(tensor).array
    received = np.empty((pg.size(),) + send.shape, send.dtype) if here else None
    request = pg.comm.Igather(send, received, root=dst)
    finish = (lambda: _store_into(gather_list, received)) if here else None
    return _run(pg, "gather", async_op, [request], finish)


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False):
    """Rank `src`'s `scatter_list[r]` into rank r's `tensor`."""
    pg = _start(group, "scatter")
    here = _rooted(pg, "scatter", tensor, src, "src", scatter_list, "scatter_list")
    send = (np.stack([t.detach().cpu().numpy() for t in scatter_list]) if here else None)
    out = _Buffer(tensor)
    request = pg.comm.Iscatter(send, out.array, root=src)
    return _run(pg, "scatter", async_op, [request], out.store)


def isend(tensor, dst, group=None, tag=0):
    """Start sending `tensor` to rank `dst`; returns the Work to wait on."""
    pg = _start(group, "isend")
    _checked(tensor, "isend")
    _check_root(pg, "isend", dst, "dst")
    buffer = _Buffer(tensor)
    request = pg.comm.Isend(buffer.array, dest=dst, tag=tag)
    return Work("isend", [request], None, pg.timeout)


def irecv(tensor, src=None, group=None, tag=0):
    """Start receiving into `tensor` from rank `src` (any rank when None)."""
    return _receive(tensor, src, group, tag, "irecv")[0]


def send(tensor, dst, group=None, tag=0):
    isend(tensor, dst, group, tag).wait()


def recv(tensor, src=None, group=None, tag=0):
    """Receive into `tensor`; returns the rank it came from."""
    work, status = _receive(tensor, src, group, tag, "recv")
    work.wait()
    return status.Get_source()


def _receive(tensor, src, group, tag, name):
    pg = _start(group, name)
    _checked(tensor, name)
    MPI = pg.MPI
    if src is not None:
        _check_root(pg, name, src, "src")
    buffer = _Buffer(tensor)
    status = MPI.Status()
    request = pg.comm.Irecv(buffer.array, source=MPI.ANY_SOURCE if src is None else src,
                            tag=tag)
    return Work(name, [request], buffer.store, pg.timeout, status), status


def barrier(group=None, async_op=False, device_ids=None):
    """Wait until every rank has reached this call."""
    pg = _start(group, "barrier")
    if device_ids is not None:
        raise ValueError("barrier: device_ids is an option of NCCL's backend, not MPI's")
    return _run(pg, "barrier", async_op, [pg.comm.Ibarrier()], None)


def all_gather_object(object_list, obj, group=None):
    """Every rank's picklable `obj`, into `object_list` (which has one slot per rank).

    Objects travel as pickles, as in PyTorch: only use it between ranks you trust."""
    pg = _start(group, "all_gather_object")
    if len(object_list) != pg.size():
        raise ValueError(f"all_gather_object: object_list must have one slot per rank "
                         f"({pg.size()}), got {len(object_list)}")
    object_list[:] = pg.comm.allgather(obj)


def broadcast_object_list(object_list, src=0, group=None, device=None):
    """Rank `src`'s list of picklable objects, into `object_list` on every rank."""
    pg = _start(group, "broadcast_object_list")
    _check_root(pg, "broadcast_object_list", src, "src")
    if device is not None and engine_device(device).type != "cpu":
        raise ValueError("broadcast_object_list: objects travel through host memory; "
                         "device must be None or 'cpu'")
    received = pg.comm.bcast(list(object_list), root=src)
    if len(received) != len(object_list):
        raise ValueError(f"broadcast_object_list: rank {src} sent {len(received)} objects "
                         f"into a list of {len(object_list)} here")
    object_list[:] = received
