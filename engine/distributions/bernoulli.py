"""The Bernoulli distribution: 1 with probability probs, else 0."""
from ..creation import rand
from ..ops.activation import sigmoid
from ..tensor import Size
from .categorical import clamp_probs
from .distribution import Distribution, as_tensor


class Bernoulli(Distribution):
    arg_names = ("probs",)

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            self.probs = probs = as_tensor(probs)
            clamped = clamp_probs(probs)
            self.logits = clamped.log() - (-clamped).log1p()
        else:
            logits = as_tensor(logits)
            self.logits, self.probs = logits, sigmoid(logits)
        given = probs if probs is not None else logits
        super().__init__(Size(given.shape), validate_args=validate_args)
        if probs is not None:
            self._check("probs", probs, lambda p: (p >= 0) & (p <= 1), "Interval(lower_bound=0.0, "
                        "upper_bound=1.0)")

    @property
    def mean(self):
        return self.probs

    @property
    def mode(self):
        return (self.probs >= 0.5).to(self.probs.dtype)

    @property
    def variance(self):
        return self.probs * (1 - self.probs)

    def _draw(self, sample_shape):
        shape = self._extended_shape(sample_shape)
        return (rand(shape, dtype=self.probs.dtype, device=self.probs.device)
                < self.probs.expand(shape)).to(self.probs.dtype)

    def log_prob(self, value):
        self._check_sample(value, lambda v: (v == 0) | (v == 1), "Boolean()")
        # -BCE with logits: exact for any logit, as PyTorch computes it
        from ..ops.loss import binary_cross_entropy_with_logits

        logits, value = _broadcast(self.logits, value)
        return -binary_cross_entropy_with_logits(logits, value, reduction="none")

    def entropy(self):
        from ..ops.loss import binary_cross_entropy_with_logits

        return binary_cross_entropy_with_logits(self.logits, self.probs, reduction="none")


def _broadcast(a, b):
    from ..ops.operands import broadcast_shapes

    shape = broadcast_shapes(a.shape, b.shape, op="Bernoulli.log_prob")
    return a.expand(shape), b.to(a.dtype).expand(shape)
