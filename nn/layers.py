"""Layers with parameters or shapes: Identity, Linear, Bilinear, Flatten, Unflatten,
Dropout, LayerNorm, BatchNorm1d, BatchNorm2d."""
import math

import engine

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter


def register_weight_and_bias(module, weight_shape, bias, dtype, device, outputs=None):
    """`module.weight` of weight_shape and, if `bias`, `module.bias` with one entry per
    output (`outputs`, else the weight's first dim), initialised as PyTorch initialises
    Linear and Conv."""
    module.weight = Parameter(engine.empty(*weight_shape, dtype=dtype, device=device))
    if bias:
        module.bias = Parameter(engine.empty(outputs or weight_shape[0], dtype=dtype,
                                             device=device))
    else:
        module.register_parameter("bias", None)
    reset_weight_and_bias(module.weight, module.bias)


def reset_weight_and_bias(weight, bias):
    """Kaiming-uniform with a = sqrt(5), which is uniform in +-1/sqrt(fan_in), for the
    weight; the same bound for the bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in = weight[0].numel()
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(bias, -bound, bound)


def _uniform_parameter(shape, bound, dtype, device):
    p = Parameter(engine.empty(*shape, dtype=dtype, device=device))
    init.uniform_(p, -bound, bound)
    return p


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x W^T + b, initialised as PyTorch does (uniform in +-1/sqrt(in_features))."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        register_weight_and_bias(self, (out_features, in_features), bias, dtype, device)

    def reset_parameters(self):
        reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    """y = x1^T A x2 + b."""

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None,
                 dtype=None):
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        bound = 1 / math.sqrt(in1_features)
        self.weight = _uniform_parameter((out_features, in1_features, in2_features), bound,
                                         dtype, device)
        if bias:
            self.bias = _uniform_parameter((out_features,), bound, dtype, device)
        else:
            self.register_parameter("bias", None)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")


class Flatten(Module):
    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """Zeroes elements with probability p while training; the identity in eval mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(Dropout):
    """Zeroes whole channels of (N, C, L) or (C, L) inputs while training."""

    def forward(self, input):
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(Dropout):
    """Zeroes whole channels of (N, C, H, W) inputs while training (3-d: (N, C, L))."""

    def forward(self, input):
        return F.dropout2d(input, self.p, self.training, self.inplace)


class LayerNorm(Module):
    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(engine.ones(self.normalized_shape, dtype=dtype,
                                                device=device))
            if bias:
                self.bias = Parameter(engine.zeros(self.normalized_shape, dtype=dtype,
                                                   device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class _BatchNorm(Module):
    """Normalises each channel over the batch; keeps running statistics for eval mode."""

    dims = ()  # the input dims a subclass accepts

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(engine.ones(num_features, dtype=dtype, device=device))
            if bias:
                self.bias = Parameter(engine.zeros(num_features, dtype=dtype, device=device))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", engine.zeros(num_features, dtype=dtype,
                                                              device=device))
            self.register_buffer("running_var", engine.ones(num_features, dtype=dtype,
                                                            device=device))
            self.register_buffer("num_batches_tracked", engine.tensor(0, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def forward(self, input):
        self._check_input_dim(input)
        momentum = 0.0 if self.momentum is None else self.momentum
        use_batch_stats = self.training or self.running_mean is None
        if self.training and self.track_running_stats:
            with engine.no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative moving average
                # a float64 tensor, not a Python number from .item(): the same values, and
                # a compiled step keeps the division (.item() would end its trace)
                momentum = 1.0 / self.num_batches_tracked.double()
        return self._batch_norm(input, use_batch_stats, momentum)

    def _check_input_dim(self, input):
        if input.dim() not in self.dims:
            expected = " or ".join(f"{d}D" for d in self.dims)
            raise ValueError(f"expected {expected} input (got {input.dim()}D input)")

    def _batch_norm(self, input, use_batch_stats, momentum):
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight,
                            self.bias, use_batch_stats, momentum, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Over (N, C) features or (N, C, L) sequences."""

    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Over (N, C, H, W) images: one mean and variance per channel."""

    dims = (4,)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm whose training statistics are those of the whole batch, over the ranks of
    a process group: each channel's sum, then its sum of squared deviations, is summed
    over the ranks by an allreduce that backward repeats for the gradients
    (engine.distributed.nn), so that N ranks with B/N examples each train as one
    process with B. In eval mode, or without a group of more than one rank, it is
    BatchNorm."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    def _batch_norm(self, input, use_batch_stats, momentum):
        from engine import distributed as dist
        from engine.distributed.nn.functional import all_reduce

        group = self.process_group
        if not (use_batch_stats and self.training and dist.is_initialized()
                and dist.get_world_size(group) > 1):
            return super()._batch_norm(input, use_batch_stats, momentum)
        dims = (0,) + tuple(range(2, input.dim()))
        count = engine.full((1,), input.numel() // input.shape[1], dtype=input.dtype,
                            device=input.device)
        sums = all_reduce(engine.cat([input.sum(dims), count]), group=group)
        total = sums[-1:].detach()
        mean = sums[:-1] / total
        deviations = F.centred(input, mean)
        var = all_reduce((deviations * deviations).sum(dims), group=group) / total
        if self.running_mean is not None:
            F.update_running_stats(self.running_mean, self.running_var, mean, var,
                                   total / (total - 1).clamp(min=1), momentum)
        return F.normalize_channels(deviations, var, self.weight, self.bias, self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """`module` with every BatchNorm in it (itself included) replaced by a
        SyncBatchNorm that keeps its parameters, buffers and training flag."""
        converted = module
        if isinstance(module, _BatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            if module.affine:
                converted.weight, converted.bias = module.weight, module.bias
            converted.running_mean = module.running_mean
            converted.running_var = module.running_var
            converted.num_batches_tracked = module.num_batches_tracked
            converted.training = module.training
        for name, child in module.named_children():
            converted.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return converted
