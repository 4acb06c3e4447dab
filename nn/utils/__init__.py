"""`nn.utils`: helpers for training loops."""
from .clip_grad import clip_grad_norm_, clip_grad_value_  # noqa: F401
from . import parametrizations, parametrize, rnn  # noqa: F401
from .reparametrize import (  # noqa: F401
    remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm,
)
