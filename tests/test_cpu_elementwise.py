"""The CPU's two compilations of each scalar body (kernels/cpu/elementwise.py) agree bit
for bit: the flat @njit loop on large contiguous or 0-d operands, the ufunc on strided
ones, on values that include zeros, infinities and NaN."""
import numpy as np
import pytest

from kernels import scalar
from kernels.cpu import elementwise as ew

SIZE = 2 * ew._FLAT_MIN_SIZE
INTEGER_OPS = {"neg", "abs", "sign", "add", "sub", "mul", "floor_divide", "remainder",
               "maximum", "minimum", "eq", "ne", "lt", "le", "gt", "ge"}
FLAT_OPS = [n for n in scalar.NAMES if "bool" not in getattr(scalar, n).arg_types]
CASES = [(n, np.float32) for n in FLAT_OPS] + [(n, np.float64) for n in FLAT_OPS] + \
    [(n, np.int64) for n in FLAT_OPS if n in INTEGER_OPS]


def _operand(rng, dtype, k):
    if np.dtype(dtype).kind == "i":
        values = rng.integers(-5, 6, SIZE)
    else:
        values = rng.standard_normal(SIZE) * 3
        values[:8] = [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5][k:] + \
            [0.0, -0.0, np.inf, -np.inf, np.nan, 1.0, -1.0, 0.5][:k]
    return values.astype(dtype)


def _strided(array):
    """The same values, as a non-contiguous view (so only the ufunc can take it)."""
    doubled = np.repeat(array, 2)
    return doubled[::2]


@pytest.mark.parametrize("name,dtype", CASES, ids=[f"{n}-{np.dtype(d).name}" for n, d in CASES])
def test_flat_loop_and_ufunc_agree(name, dtype):
    op = getattr(ew, name).__self__  # the Elementwise behind the exported kernel
    rng = np.random.default_rng(0)
    operands = [_operand(rng, dtype, k) for k in range(op.fn.__code__.co_argcount)]
    op._loop = None
    flat = op(*operands)
    assert op._loop is not None, "the flat loop did not serve contiguous operands"
    strided = op(*[_strided(x) for x in operands])
    assert flat.dtype == strided.dtype
    np.testing.assert_array_equal(flat, strided)
    number = op(*operands[:-1], 2) if len(operands) > 1 else None  # a Python number
    if number is not None:
        np.testing.assert_array_equal(number, op(*[_strided(x) for x in operands[:-1]], 2))


def test_zero_dimensional_operands_take_the_loop_and_stay_arrays():
    a, b = np.array(3.0, np.float32), np.array(2.0, np.float32)
    kernel = ew.floor_divide.__self__
    kernel._loop = None
    out = ew.floor_divide(a, b)
    assert type(out) is np.ndarray and out.shape == () and out.dtype == np.float32
    assert kernel._loop is not None and out == 1.0


def test_numbers_alone_still_take_the_ufunc():
    """No array operand to take a dtype from: numpy's default, float64, as before."""
    out = ew.where(np.array([True, False]), 1.0, 0.0)
    assert out.dtype == np.float64 and out.tolist() == [1.0, 0.0]
    assert ew.add(1.0, 2.0).dtype == np.float64


def test_small_arrays_take_the_ufunc_quietly_even_under_a_strict_errstate():
    """The small-array fast path sets numpy's error state itself: log(0) and 0/0 give
    -inf and nan without a warning, even where the caller asked numpy to raise."""
    x = np.array([0.0, 1.0, -1.0], np.float32)
    ew.log(x)  # builds the float32 ufunc, so the next calls take the fast path
    with np.errstate(all="raise"):
        out = ew.log(x)
        quotient = ew.div(np.zeros(3, np.float32), np.zeros(3, np.float32))
        with pytest.raises(FloatingPointError):  # the caller's own state is back
            np.log(x)
    assert out[0] == -np.inf and out[1] == 0 and np.isnan(out[2])
    assert np.isnan(quotient).all() and quotient.dtype == np.float32


def test_an_op_whose_operands_are_all_bool_takes_its_dtype_from_the_first():
    """logical_not declares no generic operand; it once failed before reaching numba."""
    np.testing.assert_array_equal(ew.logical_not(np.array([True, False])), [False, True])
    assert ew.logical_not(np.array(True)).shape == ()
