"""dtype and device conversion, differentiable (the gradient converts back)."""
from .primitive import Primitive as P

# The engine casts each input's gradient back to that input's dtype, so g passes as is.
_to_dtype = P("ToCopyBackward0", lambda K, x, *, dtype: K.astype(x, dtype), x=lambda g: g)


def to_dtype(input, dtype):
    return _to_dtype(input, dtype=dtype.numpy)


def to_device(input, device):
    """Copy to another device; the gradient is copied back by the engine's dtype/device rule."""
    from ..device import backend
    from ..tensor import Tensor

    if input.requires_grad:
        raise RuntimeError(f"moving a tensor that requires grad from {input.device} to {device} "
                           f"is not supported yet; move the leaf tensors instead")
    host = input._backend.to_numpy(input._data).copy()  # never share memory across devices
    return Tensor._make(backend(device).from_numpy(host), device)
