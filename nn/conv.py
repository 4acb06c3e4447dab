"""Convolution layers, 1-d and 2-d, and their transposes, over engine.ops.conv."""
from . import functional as F
from .layers import register_weight_and_bias, reset_weight_and_bias
from .module import Module


def _tuple(value, n):
    return (value,) * n if isinstance(value, int) else tuple(value)


class _ConvNd(Module):
    """Cross-correlation with out_channels learned filters over `n`-d signals,
    initialised as PyTorch does (uniform in +-1/sqrt(fan_in))."""

    n = 0  # spatial dims, set by the subclasses

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 dilation=1, groups=1, bias=True, padding_mode="zeros", device=None,
                 dtype=None):
        super().__init__()
        name = type(self).__name__
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"{name}: padding_mode must be 'zeros', 'reflect', 'replicate' "
                             f"or 'circular', got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _tuple(kernel_size, self.n), _tuple(stride, self.n)
        self.padding = padding if isinstance(padding, str) else _tuple(padding, self.n)
        self.dilation, self.groups = _tuple(dilation, self.n), groups
        self.padding_mode = padding_mode
        register_weight_and_bias(self, (out_channels, in_channels // groups) + self.kernel_size,
                                 bias, dtype, device)

    def reset_parameters(self):
        reset_weight_and_bias(self.weight, self.bias)

    def forward(self, input):
        conv = F.conv1d if self.n == 1 else F.conv2d
        if self.padding_mode == "zeros":
            return conv(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)
        padded = F.pad(input, self._padding_amounts(), mode=self.padding_mode)
        return conv(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def _padding_amounts(self):
        """F.pad's (before, after) pairs, last dim first, for this layer's padding."""
        if self.padding == "valid":
            return [0, 0] * self.n
        if self.padding == "same":
            totals = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
            return [a for t in reversed(totals) for a in (t // 2, t - t // 2)]
        return [a for p in reversed(self.padding) for a in (p, p)]

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self.n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.n:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """Over (N, C, L) sequences, with weight (out_channels, in_channels / groups, k)."""

    n = 1


class Conv2d(_ConvNd):
    """Over (N, C, H, W) images, with weight (out_channels, in_channels / groups, kh, kw)."""

    n = 2


class _ConvTransposeNd(_ConvNd):
    """The adjoint of a convolution, which upsamples: weight (in_channels,
    out_channels / groups, *kernel_size); output_padding, or forward's output_size,
    picks among the output sizes a stride leaves open."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}, got {padding_mode!r}')
        Module.__init__(self)
        name = type(self).__name__
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) and out_channels "
                             f"({out_channels}) must be divisible by groups ({groups})")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride = _tuple(kernel_size, self.n), _tuple(stride, self.n)
        self.padding, self.dilation = _tuple(padding, self.n), _tuple(dilation, self.n)
        self.output_padding, self.groups = _tuple(output_padding, self.n), groups
        self.padding_mode = padding_mode
        register_weight_and_bias(self, (in_channels, out_channels // groups) + self.kernel_size,
                                 bias, dtype, device, outputs=out_channels)

    def forward(self, input, output_size=None):
        conv = F.conv_transpose1d if self.n == 1 else F.conv_transpose2d
        return conv(input, self.weight, self.bias, self.stride, self.padding,
                    self._output_padding(input, output_size), self.groups, self.dilation)

    def _output_padding(self, input, output_size):
        """output_padding, or the one that gives output_size (its last n entries)."""
        if output_size is None:
            return self.output_padding
        wanted = tuple(output_size)[-self.n:]
        least = [(n - 1) * s - 2 * p + d * (k - 1) + 1 for n, s, p, d, k in zip(
            input.shape[-self.n:], self.stride, self.padding, self.dilation, self.kernel_size)]
        most = [m + s - 1 for m, s in zip(least, self.stride)]
        if len(wanted) != self.n or any(not lo <= w <= hi
                                        for w, lo, hi in zip(wanted, least, most)):
            raise ValueError(f"requested an output size of {list(wanted)}, but valid sizes "
                             f"range from {least} to {most} (for an input of "
                             f"{list(input.shape[-self.n:])})")
        return tuple(w - lo for w, lo in zip(wanted, least))

    def extra_repr(self):
        s = super().extra_repr()
        if self.output_padding != (0,) * self.n:
            at = s.find(", groups=") if ", groups=" in s else s.find(", bias=")
            at = len(s) if at < 0 else at
            s = s[:at] + f", output_padding={self.output_padding}" + s[at:]
        return s


class ConvTranspose1d(_ConvTransposeNd):
    """Over (N, C, L) sequences, with weight (in_channels, out_channels / groups, k)."""

    n = 1


class ConvTranspose2d(_ConvTransposeNd):
    """Over (N, C, H, W) images, with weight (in_channels, out_channels / groups, kh, kw)."""

    n = 2
