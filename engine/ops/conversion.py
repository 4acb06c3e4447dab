"""dtype and device conversion, differentiable (the gradient converts back)."""
from ..device import backend
from .primitive import Primitive as P

# The engine casts each input's gradient back to that input's dtype, so g passes as is.
_to_dtype = P("ToCopyBackward0", lambda K, x, *, dtype: K.astype(x, dtype), x=lambda g: g)

# The one place memory crosses devices: through the host, as a fresh copy on the target
# (so the two tensors never share memory). The gradient goes back the same way.
_to_device = P("ToCopyBackward0",
               lambda K, x, *, device, source: backend(device).from_numpy(K.to_numpy(x)),
               x=lambda g, source: g.to(source))


def to_dtype(input, dtype):
    return _to_dtype(input, dtype=dtype.numpy)


def to_device(input, device):
    return _to_device(input, device=device, source=input.device)
