"""The base class: batch and event shapes, sample shapes, and argument validation."""
import math

from ..autograd import no_grad
from ..tensor import Size, Tensor


class Distribution:
    """batch_shape: independent distributions side by side; event_shape: the shape of
    one draw. sample(sample_shape) has shape sample_shape + batch_shape + event_shape.
    As in PyTorch, arguments are validated unless validate_args=False (or
    Distribution.set_default_validate_args(False))."""

    _validate_default = True
    has_rsample = False

    def __init__(self, batch_shape=Size(), event_shape=Size(), validate_args=None):
        self._batch_shape, self._event_shape = Size(batch_shape), Size(event_shape)
        self._validate_args = self._validate_default if validate_args is None \
            else validate_args

    @staticmethod
    def set_default_validate_args(value):
        Distribution._validate_default = bool(value)

    @property
    def batch_shape(self):
        return self._batch_shape

    @property
    def event_shape(self):
        return self._event_shape

    def _extended_shape(self, sample_shape=Size()):
        return Size(tuple(sample_shape) + tuple(self._batch_shape) + tuple(self._event_shape))

    def sample(self, sample_shape=Size()):
        """A draw that gradients do not flow through."""
        with no_grad():
            return self.rsample(sample_shape) if self.has_rsample else \
                self._draw(sample_shape)

    def rsample(self, sample_shape=Size()):
        raise NotImplementedError(f"{type(self).__name__} has no reparameterised sample "
                                  f"(rsample); use sample()")

    def sample_n(self, n):
        return self.sample(Size((n,)))

    @property
    def stddev(self):
        return self.variance.sqrt()

    def perplexity(self):
        return self.entropy().exp()

    def _check(self, name, value, ok, requirement):
        if self._validate_args and not bool(ok(value).all()):
            raise ValueError(f"Expected parameter {name} ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) of distribution {self!r} to satisfy the "
                             f"constraint {requirement}, but found invalid values:\n{value}")

    def _check_sample(self, value, ok, support):
        if not isinstance(value, Tensor):
            raise ValueError(f"The value argument to log_prob must be a Tensor, got "
                             f"{type(value).__name__}")
        if self._validate_args and not bool(ok(value).all()):
            raise ValueError(f"Expected value argument ({type(value).__name__} of shape "
                             f"{tuple(value.shape)}) to be within the support ({support}) of "
                             f"the distribution {self!r}, but found invalid values:\n{value}")

    def __repr__(self):
        params = ", ".join(f"{name}: {self._summary(getattr(self, name))}"
                           for name in self.arg_names)
        return f"{type(self).__name__}({params})"

    @staticmethod
    def _summary(value):
        return value if value.numel() == 1 else Size(value.shape)


LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def as_tensor(value, like=None):
    """A parameter as a tensor: a number becomes a 0-d tensor of like's dtype."""
    from ..creation import tensor

    if isinstance(value, Tensor):
        return value
    return tensor(float(value), dtype=like.dtype if isinstance(like, Tensor) else None)
