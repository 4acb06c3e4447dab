"""Collectives that autograd differentiates, as torch.distributed.nn.functional: each
returns a new tensor, and its backward is the collective that carries the gradients
back to every rank's input."""
from ...autograd.function import Function
from .. import collectives
from ..collectives import ReduceOp


class _AllReduceSum(Function):
    @staticmethod
    def forward(ctx, group, tensor):
        ctx.group = group
        out = tensor.clone()
        collectives.all_reduce(out, ReduceOp.SUM, group)
        return out

    @staticmethod
    def backward(ctx, grad):
        # every rank's result is every rank's input summed: the gradient of one rank's
        # input is the sum of the gradients every rank's result received
        grad = grad.clone()
        collectives.all_reduce(grad, ReduceOp.SUM, ctx.group)
        return None, grad


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """The sum of `tensor` over the ranks, as a new tensor whose backward sums the
    gradients over the ranks too (SyncBatchNorm's statistics)."""
    if op is not ReduceOp.SUM:
        raise ValueError(f"engine.distributed.nn.functional.all_reduce: only ReduceOp.SUM is "
                         f"differentiable here, got {op.name}")
    return _AllReduceSum.apply(group, tensor)
