"""The categorical distribution over K classes (the last dimension of probs/logits)."""
import math

import numpy as np

from ..creation import multinomial
from ..ops.arrange import broadcast_tensors
from ..ops.activation import log_softmax
from ..tensor import Size
from .distribution import Distribution


class Categorical(Distribution):
    """Given probs (normalised along the last dimension) or logits (normalised log
    probabilities), exactly one of them."""

    def __init__(self, probs=None, logits=None, validate_args=None):
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        given = probs if probs is not None else logits
        if given.dim() < 1:
            raise ValueError("`probs` or `logits` parameter must be at least one-dimensional.")
        super().__init__(Size(given.shape[:-1]), validate_args=validate_args)
        self.arg_names = ("probs",) if probs is not None else ("logits",)
        if probs is not None:
            self.probs = probs / probs.sum(-1, keepdim=True)
            self.logits = clamp_probs(self.probs).log()
            self._check("probs", self.probs, lambda p: (p >= 0) & (p <= 1), "Simplex()")
        else:
            self.logits = log_softmax(logits, -1)
            self.probs = self.logits.exp()
            self._check("logits", logits, lambda v: v == v, "IndependentConstraint(Real())")
        self._num_events = given.shape[-1]

    @property
    def param_shape(self):
        return self.probs.shape

    @property
    def mean(self):
        return self.probs.new_full(self._extended_shape(), math.nan)

    @property
    def variance(self):
        return self.probs.new_full(self._extended_shape(), math.nan)

    @property
    def mode(self):
        return self.probs.argmax(-1)

    def _draw(self, sample_shape):
        rows = self.probs.reshape(-1, self._num_events)
        n = math.prod(sample_shape)
        draws = multinomial(rows, n, replacement=True)  # (rows, n)
        return draws.t().reshape(tuple(sample_shape) + tuple(self._batch_shape))

    def log_prob(self, value):
        self._check_sample(value, lambda v: (v >= 0) & (v < self._num_events) & (v == v.long()),
                           f"IntegerInterval(lower_bound=0, upper_bound={self._num_events - 1})")
        value, logits = broadcast_tensors(value.long().unsqueeze(-1), self.logits)
        return logits.gather(-1, value[..., :1]).squeeze(-1)

    def entropy(self):
        lowest = float(np.finfo(self.logits.dtype.numpy).min)  # -inf logits give 0, not nan
        return -(self.logits.clamp(min=lowest) * self.probs).sum(-1)

    def enumerate_support(self, expand=True):
        from ..creation import arange

        values = arange(self._num_events, device=self.probs.device)
        values = values.reshape((-1,) + (1,) * len(self._batch_shape))
        return values.expand((-1,) + tuple(self._batch_shape)) if expand else values



def clamp_probs(probs):
    """probs kept a machine epsilon away from 0 and 1, as PyTorch keeps them before a
    log (so log-probabilities agree with its own, and stay finite)."""
    eps = float(np.finfo(probs.dtype.numpy).eps)
    return probs.clamp(eps, 1 - eps)
