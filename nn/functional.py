"""`nn.functional`: PyTorch's functional API over engine ops (no kernels called here)."""
import engine
from engine.ops.linalg import linear  # noqa: F401
from engine.ops.activation import (  # noqa: F401
    dropout, elu, gelu, hardtanh, leaky_relu, log_softmax, relu, relu6, sigmoid, silu,
    softmax, softplus, tanh,
)
from engine.ops.loss import (  # noqa: F401
    binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, huber_loss,
    kl_div, l1_loss, mse_loss, nll_loss, smooth_l1_loss,
)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the trailing `normalized_shape` dims, then scale and shift."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    n = len(normalized_shape)
    if tuple(input.shape[input.dim() - n:]) != tuple(normalized_shape):
        raise RuntimeError(f"layer_norm: input of shape {tuple(input.shape)} does not end "
                           f"with normalized_shape {tuple(normalized_shape)}")
    dims = tuple(range(input.dim() - n, input.dim()))
    centred = input - input.mean(dims, keepdim=True)
    variance = (centred * centred).mean(dims, keepdim=True)
    out = centred * (variance + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out + bias if bias is not None else out


def logsigmoid(input):
    return -softplus(-input)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    norm = (input.abs() ** p).sum(dim, keepdim=True) ** (1 / p)
    return input / norm.clamp(min=eps)


def one_hot(tensor, num_classes=-1):
    classes = int(tensor.max()) + 1 if num_classes == -1 else num_classes
    return (tensor.unsqueeze(-1) == engine.arange(classes, device=tensor.device)).long()
