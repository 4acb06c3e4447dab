"""Collectives that autograd differentiates, as torch.distributed.nn.functional: each
returns a new tensor, and its backward is the collective that carries the gradients
back to every rank's input. Each is a primitive (impure: engine.compile runs it at
every replay), so a compiled step with SyncBatchNorm is captured whole."""
from ...ops.primitive import Primitive
from ...tensor import Tensor
from .. import collectives
from ..collectives import ReduceOp

# every rank's result is every rank's input summed: the gradient of one rank's input is
# the sum of the gradients every rank's result received
_all_reduce_sum = Primitive("AllReduceBackward",
                            lambda K, x, *, group: collectives.summed(K, x, group), pure=False,
                            x=lambda g, group: _all_reduce_sum(g, group=group))


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """The sum of `tensor` over the ranks, as a new tensor whose backward sums the
    gradients over the ranks too (SyncBatchNorm's statistics)."""
    if op is not ReduceOp.SUM:
        raise ValueError(f"engine.distributed.nn.functional.all_reduce: only ReduceOp.SUM is "
                         f"differentiable here, got {op.name}")
    if not isinstance(tensor, Tensor):
        raise TypeError(f"engine.distributed.nn.functional.all_reduce: expected a Tensor, got "
                        f"{type(tensor).__name__}")
    return _all_reduce_sum(tensor, group=group)
