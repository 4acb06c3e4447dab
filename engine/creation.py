"""Creating tensors: from data, filled, ranges, and random."""
import numbers

import numpy as np

from . import dtypes
from .device import CPU, backend, canonical, kernels_for
from .random import generator_for
from .tensor import Size, Tensor
from .tracing import constant, graph_break


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    for n in size:
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
            raise TypeError(f"size must be a tuple of ints, but got {size!r}")
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: "
                               f"{list(size)}")
    return tuple(int(n) for n in size)


def _finish(array, device, requires_grad):
    d = canonical(device)
    data = kernels_for(d, dtypes.from_numpy(array.dtype)).from_numpy(array) \
        if d.type != "cpu" else array
    t = constant(Tensor._make(data, d))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _shape_of(data, path=()):
    """The shape of nested sequences, or a ValueError naming where they are ragged."""
    if isinstance(data, (list, tuple)):
        if not data:
            return (0,)
        shapes = [_shape_of(item, path + (i,)) for i, item in enumerate(data)]
        first = shapes[0]
        for i, s in enumerate(shapes):
            if s != first:
                depth = len(path) + 1
                raise ValueError(f"expected sequence of length {first[0] if first else 0} at "
                                 f"dim {depth} (got {s[0] if s else 'a scalar'}) at index "
                                 f"{list(path) + [i]}: nested lists must be rectangular")
        return (len(data),) + first
    if isinstance(data, Tensor):
        return tuple(data.shape)
    if isinstance(data, (numbers.Number, np.bool_, np.number)):
        return ()
    if isinstance(data, np.ndarray):
        return data.shape
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _infer_dtype(array, data):
    """numpy data keeps its dtype (arrays and scalars such as np.float64(1) alike);
    Python numbers get int64 or the default float, as in PyTorch; lists promote the
    dtypes of their leaves (see `_leaf_dtypes`)."""
    if isinstance(data, (list, tuple)):
        found = set()
        _leaf_dtypes(data, found)
        if found:
            result = found.pop()
            for d in found:
                result = dtypes.promote_types(result, d)
            return result
    if array.dtype.kind == "b":
        return dtypes.bool_
    from_numpy = isinstance(data, (np.ndarray, np.generic))
    if array.dtype.kind in "iu":
        return dtypes.from_numpy(array.dtype) if from_numpy else dtypes.int64
    if array.dtype.kind == "f":
        return dtypes.from_numpy(array.dtype) if from_numpy else dtypes.get_default_dtype()
    raise TypeError(f"can't convert data of type {array.dtype} to a tensor: the supported "
                    f"types are bool, integers and floats")


_PYTHON_NUMBERS = {bool, int, float}


def _leaf_dtypes(seq, found):
    """Add to `found` the dtype of each leaf of nested lists, as PyTorch counts them: a
    Python float is the default float, an int int64, a bool bool, and numpy scalars,
    arrays and tensors keep their own ([np.float64(1.5), 2.0] is float64). Leaves are
    grouped by type first, so a long list of numbers costs one pass in C."""
    kinds = set(map(type, seq))
    for kind in kinds:
        if kind in _PYTHON_NUMBERS:
            found.add(dtypes.scalar_dtype(kind()))  # the dtype this kind of number gets
        elif issubclass(kind, np.generic):
            found.add(dtypes.from_numpy(np.dtype(kind)))
    if kinds <= _PYTHON_NUMBERS or all(issubclass(k, np.generic) for k in kinds):
        return
    for x in seq:
        if isinstance(x, (list, tuple)):
            _leaf_dtypes(x, found)
        elif isinstance(x, (np.ndarray, Tensor)):
            found.add(x.dtype if isinstance(x, Tensor) else dtypes.from_numpy(x.dtype))


def _to_array(data):
    if isinstance(data, Tensor):
        return data._backend.to_numpy(data._data)
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        return np.array([_to_array(x) for x in data])
    return data


def tensor(data, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor holding a copy of `data` (nested lists, numbers, arrays or tensors).

    A tensor's copy is made by ops, on its device unless told (so engine.compile traces
    it as the call's values); one made from numbers alone is a constant a trace keeps;
    arrays and lists of tensors, whose values may change between calls, end a trace."""
    if isinstance(data, Tensor):
        copy = data.detach().to(device=data.device if device is None else device,
                                dtype=dtype or data.dtype).clone()
        return copy.requires_grad_(True) if requires_grad else copy
    if _holds_arrays(data):
        graph_break("engine.tensor() of a numpy array or of tensors in a list (their values "
                    "may change between calls)")
    raw = _to_array(data)
    try:
        array = np.array(raw)
    except ValueError:
        _shape_of(raw)  # an error naming where the lists are ragged
        raise
    if not isinstance(raw, (np.ndarray, np.generic)) and _only_ints(raw):
        _check_int_range(array, dtype or dtypes.int64)
    if array.dtype == object or array.dtype.kind in "USc":
        _shape_of(raw)
        raise TypeError(f"can't convert data of type {array.dtype} to a tensor")
    target = dtype or _infer_dtype(array, data)
    # np.array above copied, so the tensor never shares memory with the caller's data.
    return _finish(array.astype(target.numpy, order="C", copy=False), device, requires_grad)


def from_values(array, dtype=None, device=None):
    """A tensor of an array that engine code computed from Python values alone (sizes,
    scales, index patterns): a constant, which a trace keeps, where engine.tensor of an
    array ends it."""
    array = np.asarray(array)
    target = dtype or _infer_dtype(array, array)
    return _finish(np.ascontiguousarray(array, dtype=target.numpy), device, False)


def _holds_arrays(data):
    if isinstance(data, (Tensor, np.ndarray)):
        return True
    return isinstance(data, (list, tuple)) and any(map(_holds_arrays, data))


def _only_ints(data):
    """Whether `data` is a Python int or nested lists of them (bools allowed)."""
    if isinstance(data, (list, tuple)):
        found = set()
        _leaf_dtypes(data, found)
        return dtypes.int64 in found and found <= {dtypes.int64, dtypes.bool_}
    return isinstance(data, int) and not isinstance(data, bool)


def _check_int_range(array, target):
    """Python ints that the target type cannot hold are refused, as PyTorch refuses
    them, instead of wrapping around (2**63 would become -2**63). numpy holds ints past
    int64 as uint64, float64 or objects: that alone is PyTorch's overflow. As there,
    negative values given to an unsigned type wrap."""
    if array.dtype.kind not in "ib":
        raise ValueError("Overflow when unpacking long long: an integer does not fit in "
                         "64 bits")
    if target.is_floating_point or target is dtypes.bool_ or not array.size:
        return
    info = np.iinfo(target.numpy)
    low = array.min() if target.is_signed else 0
    if array.max() > info.max or low < info.min:
        raise RuntimeError(f"value cannot be converted to type {target.name} without "
                           f"overflow")


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        out = data if dtype is None else data.to(dtype)
        return out if device is None else out.to(device)
    if isinstance(data, np.ndarray) and (dtype is None or dtype.numpy == data.dtype) \
            and canonical(device).type == "cpu":
        return from_numpy(data)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array):
    """A tensor sharing memory with a numpy array (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy(array.dtype)
    return Tensor._make(array, CPU)


def scalar_tensor(value, dtype=None, device=None, requires_grad=False):
    return full((), value, dtype=dtype or dtypes.get_default_dtype(), device=device,
                requires_grad=requires_grad)


def _filled(shape, value, dtype, device, requires_grad):
    """A new tensor of `shape` (already checked by `_size`) holding `value`."""
    d = canonical(device)
    t = constant(Tensor._make((d.kernels or backend(d)).full(shape, value, dtype.numpy), d))
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _written("zeros", out, _filled(_size(size), 0, dtype or dtypes.get_default_dtype(),
                                          device, requires_grad))


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _written("ones", out, _filled(_size(size), 1, dtype or dtypes.get_default_dtype(),
                                         device, requires_grad))


def empty(*size, dtype=None, device=None, requires_grad=False, out=None):
    return _written("empty", out, _filled(_size(size), 0, dtype or dtypes.get_default_dtype(),
                                          device, requires_grad))


def _written(name, out, result):
    """`out=`, as the ops take it (ops/out.py: resized, converted, or refused)."""
    if out is None:
        return result
    from .ops.out import with_out

    def made():
        return result

    made.__name__ = name
    return with_out(made)(out=out)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value)
    return _filled(_size((size,) if isinstance(size, int) else tuple(size)), fill_value, dtype,
                   device, requires_grad)


def _like(name, value):
    """`name(input)`: `value` in input's shape, dtype and device unless given. The shape
    is an existing tensor's, so it skips `_size`'s checks: backward makes its root
    gradient with ones_like, once per call."""
    def like(input, *, dtype=None, device=None, requires_grad=False, **kwargs):
        return _filled(input._data.shape, value, dtype or input._dtype,
                       device or input._device, requires_grad)

    like.__name__ = name
    return like


zeros_like = _like("zeros_like", 0)
ones_like = _like("ones_like", 1)
empty_like = _like("empty_like", 0)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, **kwargs):
    return _filled(input._data.shape, fill_value, dtype or input._dtype,
                   device or input._device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = dtypes.int64 if integral else dtypes.get_default_dtype()
    d = canonical(device)
    t = constant(Tensor._make(kernels_for(d, dtype).arange(start, end, step, dtype.numpy), d))
    return t.requires_grad_(True) if requires_grad else t


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    dtype = dtype or dtypes.get_default_dtype()
    d = canonical(device)
    t = constant(Tensor._make(kernels_for(d, dtype).linspace(start, end, steps, dtype.numpy), d))
    return t.requires_grad_(True) if requires_grad else t


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """base ** linspace(start, end, steps)."""
    exponents = linspace(start, end, steps, dtype=dtypes.float64, device=device)
    t = (base ** exponents).to(dtype or dtypes.get_default_dtype())
    return t.requires_grad_(True) if requires_grad else t


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    dtype = dtype or dtypes.get_default_dtype()
    d = canonical(device)
    t = constant(Tensor._make(backend(d).eye(n, n if m is None else m, dtype.numpy), d))
    return t.requires_grad_(True) if requires_grad else t


# ---- random --------------------------------------------------------------------------

def _random(draw, size, dtype, device, requires_grad, generator):
    graph_break("random numbers drawn outside an op (a trace would replay them unchanged)")
    dtype = dtype or dtypes.get_default_dtype()
    if not dtype.is_floating_point:
        raise TypeError(f"expected a floating-point dtype for random values, got {dtype}")
    d = canonical(device)
    data = draw(backend(d), generator_for(d, generator), _size(size), dtype.numpy)
    t = Tensor._make(data, d)
    return t.requires_grad_(True) if requires_grad else t


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1)."""
    return _random(lambda K, g, s, dt: K.uniform(g, s, 0.0, 1.0, dt), size, dtype, device,
                   requires_grad, generator)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    """Standard normal."""
    return _random(lambda K, g, s, dt: K.normal(g, s, 0.0, 1.0, dt), size, dtype, device,
                   requires_grad, generator)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad=False):
    """Integers uniform on [low, high)."""
    graph_break("random numbers drawn outside an op (a trace would replay them unchanged)")
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size'")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                           f">= to={high}")
    d = canonical(device)
    dtype = dtype or dtypes.int64
    data = backend(d).randint(generator_for(d, generator), low, high, _size((size,)),
                              dtype.numpy)
    return Tensor._make(data, d)


def randperm(n, *, generator=None, dtype=None, device=None):
    """A random permutation of range(n): the order that sorts n uniform keys.

    The keys come from the device's generator; the sort runs on the host (there is no
    GPU sort kernel), so on CUDA this copies n keys down and the permutation back up.
    """
    d = canonical(device)
    K = backend(d)
    keys = K.to_numpy(K.uniform(generator_for(d, generator), (n,), 0.0, 1.0, np.float64))
    order = np.argsort(keys, kind="stable").astype((dtype or dtypes.int64).numpy)
    return Tensor._make(K.from_numpy(order), d)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Indices drawn with probability proportional to the non-negative `input`: one
    draw of `num_samples` from a 1-d input, or one per row of a 2-d input."""
    graph_break("random numbers drawn outside an op (a trace would replay them unchanged)")
    if input.dim() not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape "
                           f"{tuple(input.shape)}")
    if (input < 0).any().item():
        raise RuntimeError("multinomial: weights must be non-negative")
    rows = input.unsqueeze(0) if input.dim() == 1 else input
    positive = (rows > 0).sum(-1)
    if (rows.sum(-1) <= 0).any().item():
        raise RuntimeError("multinomial: weights must have a positive sum in every row")
    if not replacement and num_samples > positive.min().item():
        raise RuntimeError(f"multinomial: cannot draw {num_samples} samples without "
                           f"replacement from {int(positive.min().item())} non-zero "
                           f"weights")
    d = input.device
    K = input._backend
    gen = generator_for(d, generator)
    draws = [K.multinomial(gen, K.getitem(rows._data, i), num_samples, replacement)
             for i in range(rows.shape[0])]
    return Tensor._make(draws[0] if input.dim() == 1 else K.stack(draws, 0), d)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


def bernoulli(input, p=None, *, generator=None):
    probs = input if p is None else full_like(input, p)
    return (rand(input.shape, generator=generator, dtype=input.dtype, device=input.device)
            < probs).to(input.dtype)
