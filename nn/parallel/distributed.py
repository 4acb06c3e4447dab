"""DistributedDataParallel: one model replica per MPI rank, gradients averaged in backward."""
import functools
from contextlib import contextmanager

import engine
from engine import distributed as dist
from engine import tracing

from ..module import Module
from .reducer import FIRST_BUCKET_BYTES, MIB, Reducer, reached_leaves

_NCCL_ONLY = ("delay_all_reduce_named_params", "param_to_hook_all_reduce", "mixed_precision",
              "device_mesh")


class DistributedDataParallel(Module):
    """Wraps `module` so that each backward leaves the gradients averaged over all ranks.

    At wrapping, rank 0's parameters and buffers are copied to every rank (so all
    replicas start equal); in each backward, gradients travel in buckets of about
    `bucket_cap_mb` MiB, each averaged by a non-blocking allreduce started from the
    gradient hooks as soon as its last gradient is ready.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None,
                 bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **nccl_options):
        super().__init__()
        for name, value in nccl_options.items():
            if name not in _NCCL_ONLY:
                raise TypeError(f"DistributedDataParallel got an unexpected keyword argument "
                                f"'{name}'")
            if value is not None:
                raise ValueError(f"DistributedDataParallel: {name} is not supported by the "
                                 f"MPI backend")
        if dim != 0:
            raise ValueError("DistributedDataParallel: dim only matters when one process "
                             "drives several devices, which the MPI backend does not do")
        self.module = module
        self.process_group = dist.group.WORLD if process_group is None else process_group
        dist.get_world_size(process_group)  # raises if no group is initialized
        self.device_ids = _check_devices(module, device_ids, output_device)
        self.output_device = output_device
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph  # a promise that each step uses the same graph
        self._sync = [True]  # require_backward_grad_sync
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * MIB)
        # a small first bucket (PyTorch's default) starts communicating early
        first_cap = FIRST_BUCKET_BYTES if bucket_cap_mb is None else self.bucket_bytes_cap
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        _check_same_parameters(named)
        if init_sync:
            self._broadcast(list(module.parameters()) + list(module.buffers()))
        self.reducer = Reducer(named, self.bucket_bytes_cap, first_cap, find_unused_parameters,
                               gradient_as_bucket_view)

    def forward(self, *inputs, **kwargs):
        # Both steps around the module are effects that a compiled step's replay repeats
        # (engine.tracing.opaque), each deciding then whether this step is synchronised
        # (no_sync()): what compiles is the step, not the setting at its first call.
        tracing.opaque("DistributedDataParallel: broadcast buffers", self._sync_buffers,
                       self.module.buffers, spends=False)
        outputs = self.module(*inputs, **kwargs)
        if engine.is_grad_enabled():
            # a trace finds them even inside no_sync(): its replays may be synchronised
            wanted = self.find_unused_parameters and (self.require_backward_grad_sync
                                                      or tracing.TRACER[0] is not None)
            used = reached_leaves(outputs) if wanted else None
            tracing.opaque("DistributedDataParallel: expect a backward",
                           functools.partial(self._expect_backward, used), tuple,
                           spends=False)
        return outputs

    @property
    def require_backward_grad_sync(self):
        """Whether the next backward averages (False inside no_sync()). Kept in a list, not
        as a plain attribute: engine.compile specialises a trace on the plain attributes
        a forward reads, and a compiled DDP step decides this at each replay instead."""
        return self._sync[0]

    @require_backward_grad_sync.setter
    def require_backward_grad_sync(self, value):
        self._sync[0] = value

    def _sync_buffers(self):
        if self.broadcast_buffers and self.require_backward_grad_sync:
            self._broadcast(list(self.module.buffers()))

    def _expect_backward(self, used):
        """`used`: with find_unused_parameters, ids of the parameters this step's outputs
        reach (a compiled step reaches the same ones at each replay)."""
        if self.require_backward_grad_sync:
            self.reducer.prepare(used)

    @contextmanager
    def no_sync(self):
        """Backward passes of forwards run inside accumulate gradients locally, unaveraged;
        the first backward after it averages the sum."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _broadcast(self, tensors):
        if dist.get_world_size(self.process_group) == 1:
            return
        with engine.no_grad():
            for t in tensors:
                dist.broadcast(t.data, src=0, group=self.process_group)


def _check_devices(module, device_ids, output_device):
    """device_ids may name the one device the module lives on, as in PyTorch; a CPU
    module takes none."""
    devices = {p.device for p in module.parameters()}
    if device_ids is None and output_device is None:
        return None
    if len(devices) != 1 or next(iter(devices)).type != "cuda":
        raise ValueError(f"DistributedDataParallel: device_ids and output_device are for a "
                         f"module on one CUDA device; this one is on {sorted(map(str, devices))}"
                         f" (pass device_ids=None)")
    device = next(iter(devices))
    for d in list(device_ids or []) + ([output_device] if output_device is not None else []):
        given = engine.device("cuda", d) if isinstance(d, int) else engine.device(d)
        if given.type != "cuda" or (given.index or 0) != (device.index or 0):
            raise ValueError(f"DistributedDataParallel: device {given} is not the module's "
                             f"device {device}")
    if device_ids is not None and len(device_ids) != 1:
        raise ValueError("DistributedDataParallel: device_ids must name exactly one device "
                         "(one process per device)")
    return list(device_ids) if device_ids is not None else None


def _check_same_parameters(named):
    """Every rank must wrap the same model: compare names, shapes and dtypes first, so that
    a mismatch is an error here rather than a wrong average later."""
    mine = [(n, tuple(p.shape), str(p.dtype)) for n, p in named]
    every = [None] * dist.get_world_size()
    dist.all_gather_object(every, mine)
    for rank, theirs in enumerate(every):
        if theirs != mine:
            diff = next((a, b) for a, b in zip(mine + [None] * len(theirs),
                                               theirs + [None] * len(mine)) if a != b)
            raise RuntimeError(f"DistributedDataParallel: rank {rank}'s model differs from "
                               f"rank {dist.get_rank()}'s: {diff[1]} there, {diff[0]} here")
