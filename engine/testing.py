"""Property-based gradient testing for your own ops and models.

    from hypothesis import given
    from engine import testing

    @given(testing.tensors(shape=testing.shapes(max_dims=2)))
    def test_my_op(x):
        assert testing.check_gradients(my_op, x)

Strategies draw shapes (0-d, size-1 and empty dimensions included), sets of
mutually broadcastable shapes, and float64 tensors that require grad;
`check_gradients` runs gradcheck (and, by default, gradgradcheck).
"""
import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from . import dtypes
from .autograd.gradcheck import gradcheck, gradgradcheck
from .creation import tensor
from .tensor import Tensor


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=4):
    """Tensor shapes; min_side=0 includes empty dimensions."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=0, max_side=4):
    """A tuple of `num_shapes` shapes that broadcast together (PyTorch's rules)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda result: result.input_shapes)


def values(low=-3.0, high=3.0):
    """Finite float values in [low, high]."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False, width=64)


def tensors(shape, dtype=dtypes.float64, elements=None, requires_grad=True):
    """Tensors of `shape` (a tuple or a strategy of tuples) with values from `elements`."""
    shape_strategy = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))
    elements = elements if elements is not None else values()
    arrays = shape_strategy.flatmap(lambda s: hnp.arrays(np.float64, s, elements=elements))
    return arrays.map(lambda a: tensor(a, dtype=dtype, requires_grad=requires_grad))


def check_gradients(fn, *inputs, second_order=True, **tolerances):
    """gradcheck (and gradgradcheck) of fn at inputs: raises with the Jacobians on failure."""
    ok = gradcheck(fn, inputs, **tolerances)
    if second_order:
        ok = ok and gradgradcheck(fn, inputs, **tolerances)
    return ok


# PyTorch's default tolerances by dtype (rtol, atol); integers and bools must be equal.
_TOLERANCES = {"float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1.3e-6, 1e-5),
               "float64": (1e-7, 1e-7)}


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False,
                 check_device=True, check_dtype=True, check_layout=True, check_stride=False,
                 msg=None):
    """torch.testing.assert_close: tensors (or numbers, or sequences and mappings of them)
    equal in shape, dtype and device and close within rtol/atol (by default PyTorch's
    for the dtype); an AssertionError says where they differ most, in PyTorch's words."""
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"no {'rtol' if rtol is None else 'atol'}.")
    options = dict(rtol=rtol, atol=atol, equal_nan=equal_nan, check_device=check_device,
                   check_dtype=check_dtype, msg=msg)
    for path, a, e in _pairs(actual, expected, ()):
        try:
            _compare(a, e, **options)
        except AssertionError as error:
            where = "".join(f"[{p!r}]" for p in path)
            raise AssertionError(f"{error}\n\nThe failure occurred for item {where}"
                                 if path and msg is None else str(error)) from None


def _pairs(actual, expected, path):
    """(path, actual, expected) for each leaf of matching sequences and mappings."""
    if isinstance(actual, (list, tuple)) and isinstance(expected, (list, tuple)):
        if len(actual) != len(expected):
            raise AssertionError(f"The length of the sequences mismatch: {len(actual)} != "
                                 f"{len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            yield from _pairs(a, e, path + (i,))
    elif isinstance(actual, dict) and isinstance(expected, dict):
        if set(actual) != set(expected):
            raise AssertionError(f"The keys of the mappings do not match: {sorted(actual)} != "
                                 f"{sorted(expected)}")
        for key in actual:
            yield from _pairs(actual[key], expected[key], path + (key,))
    else:
        yield path, actual, expected


def _compare(actual, expected, *, rtol, atol, equal_nan, check_device, check_dtype, msg):
    a, e = (x if isinstance(x, Tensor) else tensor(x) for x in (actual, expected))
    for name, mine, theirs in (("shape", a.shape, e.shape), ("dtype", a.dtype, e.dtype),
                               ("device", a.device, e.device)):
        if (name != "dtype" or check_dtype) and (name != "device" or check_device) and \
                mine != theirs:
            raise AssertionError(msg or f"The values for attribute '{name}' do not match: "
                                        f"{mine} != {theirs}.")
    if rtol is None:
        rtol, atol = _TOLERANCES.get(a.dtype.name, (0.0, 0.0))
    x = a.detach().cpu().numpy().astype(np.float64)
    y = e.detach().cpu().to(a.dtype).numpy().astype(np.float64)
    close = np.isclose(x, y, rtol=rtol, atol=atol, equal_nan=equal_nan)
    if close.all():
        return
    if msg is not None:
        raise AssertionError(msg)
    exact = rtol == 0 and atol == 0
    verdict = "equal" if exact else "close"
    limits = ("", "") if exact else (f" (up to {atol} allowed)", f" (up to {rtol} allowed)")
    if x.ndim == 0:  # numbers and 0-d tensors: PyTorch words them as scalars
        got, want = (t.item() for t in (a, e))
        difference = abs(got - want)
        raise AssertionError(
            f"Scalars are not {verdict}!\n\nExpected {want} but got {got}.\n"
            f"Absolute difference: {difference}{limits[0]}\n"
            f"Relative difference: {difference / abs(want) if want else float('inf')}"
            f"{limits[1]}")
    # differences in the dtype's own float (float32 below float64), as PyTorch reports
    work = np.float64 if a.dtype.name == "float64" else np.float32
    with np.errstate(all="ignore"):
        absolute = np.where(close, 0, np.abs(x.astype(work) - y.astype(work)))
        relative = np.where(close, 0, absolute / np.abs(y.astype(work)))
    mismatched = int((~close).sum())
    lines = [f"Tensor-likes are not {verdict}!", "",
             f"Mismatched elements: {mismatched} / {close.size} "
             f"({100.0 * mismatched / close.size:.1f}%)"]
    for name, values, limit in (("absolute", absolute, limits[0]),
                                ("relative", relative, limits[1])):
        at = np.unravel_index(np.argmax(values), values.shape)  # NaN counts as greatest
        value = values[at].item()
        if name == "absolute" and a.dtype.category != 2:
            value = int(value)
        lines.append(f"Greatest {name} difference: {value} at index "
                     f"{tuple(int(i) for i in at)}{limit}")
    raise AssertionError("\n".join(lines))
