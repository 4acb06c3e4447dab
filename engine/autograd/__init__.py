"""Autograd: recording modes, backward, grad, custom Functions and gradient checks."""
from .anomaly import detect_anomaly, is_anomaly_enabled  # noqa: F401
from .function import Function, FunctionCtx  # noqa: F401
from .gradients import backward, grad  # noqa: F401
from . import forward_ad, functional  # noqa: F401 - torch.autograd's modules
from .gradcheck import GradcheckError, gradcheck, gradgradcheck  # noqa: F401
from .grad_mode import (  # noqa: F401
    enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled,
)
from .node import AccumulateGrad, Node  # noqa: F401
from .variable import Variable  # noqa: F401
