"""The normal distribution."""
import math
import numbers

from ..creation import randn
from ..ops.operands import broadcast_shapes
from ..tensor import Size
from .distribution import LOG_SQRT_2PI, Distribution, as_tensor


class Normal(Distribution):
    """N(loc, scale^2), elementwise over the broadcast shape of loc and scale."""

    arg_names = ("loc", "scale")
    has_rsample = True

    def __init__(self, loc, scale, validate_args=None):
        self.loc, self.scale = as_tensor(loc, scale), as_tensor(scale, loc)
        shape = broadcast_shapes(self.loc.shape, self.scale.shape, op="Normal")
        self.loc, self.scale = self.loc.expand(shape), self.scale.expand(shape)
        scalar = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        super().__init__(Size() if scalar else shape, validate_args=validate_args)
        self._check("loc", self.loc, lambda v: v == v, "Real()")
        self._check("scale", self.scale, lambda v: v > 0, "GreaterThan(lower_bound=0.0)")

    @property
    def mean(self):
        return self.loc

    @property
    def mode(self):
        return self.loc

    @property
    def stddev(self):
        return self.scale

    @property
    def variance(self):
        return self.scale ** 2

    def rsample(self, sample_shape=Size()):
        """loc + scale * eps, eps ~ N(0, 1): a draw that gradients flow through."""
        eps = randn(self._extended_shape(sample_shape), dtype=self.loc.dtype,
                    device=self.loc.device)
        return self.loc + eps * self.scale

    def log_prob(self, value):
        self._check_sample(value, lambda v: v == v, "Real()")
        return -((value - self.loc) ** 2) / (2 * self.variance) - self.scale.log() \
            - LOG_SQRT_2PI

    def cdf(self, value):
        return 0.5 * (1 + ((value - self.loc) / (self.scale * math.sqrt(2))).erf())

    def entropy(self):
        return 0.5 + LOG_SQRT_2PI + self.scale.log()
