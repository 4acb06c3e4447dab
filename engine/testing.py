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
