"""searchsorted and bucketize against PyTorch: its binary search step for step (NaN
values and entries, unsorted rows through a sorter), every dtype, batched rows, empty
rows and values, long rows, its error messages, and on the CUDA backend (the simulator
in CI)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from conftest import needs_torch, torch
from engine import testing

DEVICES = ["cpu"] + (["cuda"] if engine.cuda.is_available() else [])
# Few distinct values, so that ties between values and entries are common.
TIES = st.sampled_from([0.0, 1.0, -1.0, 2.5, np.inf, -np.inf, np.nan])

CASES = [
    (lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), m.tensor([[3, 6, 9], [0, 1, 7]]))),
    (lambda m: m.searchsorted(m.tensor([1, 3, 5, 7]), m.tensor([[3, 6, 9]]), right=True)),
    (lambda m: m.searchsorted(m.tensor([[1., 3, 5], [2, 4, 6]]), m.tensor([[3., 6], [1, 4]]),
                              side="right")),
    (lambda m: m.searchsorted(m.tensor([1, 3, 5]), 4)),
    (lambda m: m.searchsorted(m.tensor([1, 3, 5]), 2.5)),  # an int row, a float value
    (lambda m: m.searchsorted(m.tensor([5, 1, 3]), m.tensor([2, 4]),
                              sorter=m.tensor([1, 2, 0]))),
    (lambda m: m.searchsorted(m.tensor([1., 2]), m.tensor([[1.5, 3]]),
                              sorter=m.tensor([1, 0]))),  # a sorter that does not sort
    (lambda m: m.searchsorted(m.tensor([1, 3]), m.tensor([2]), out_int32=True)),
    (lambda m: m.searchsorted(m.tensor([1., 2, 3]), m.tensor([np.nan, 2, -np.inf]))),
    (lambda m: m.searchsorted(m.tensor([1., 2, np.nan]), m.tensor([np.nan, 2.5, 5]),
                              right=True)),
    (lambda m: m.searchsorted(m.tensor([1., 2]), m.tensor(1.5))),
    (lambda m: m.searchsorted(m.ones(2, 0), m.ones(2, 3))),
    (lambda m: m.searchsorted(m.tensor([1., 2]), m.ones(0))),
    (lambda m: m.searchsorted(m.ones(0, 4), m.ones(0, 2))),
    (lambda m: m.searchsorted(m.tensor([1., 2], dtype=m.float16), m.tensor([1.5]))),
    (lambda m: m.searchsorted(m.tensor([1., 2], dtype=m.bfloat16),
                              m.tensor([1.5], dtype=m.bfloat16))),
    (lambda m: m.bucketize(m.tensor([[1, 5], [4, 0]]), m.tensor([0, 2, 4]))),
    (lambda m: m.bucketize(m.tensor([1., 5, 4]), m.tensor([0., 2, 4]), right=True)),
    (lambda m: m.bucketize(m.tensor(3), m.tensor([1, 5]))),
]


@needs_torch
@pytest.mark.parametrize("case", CASES)
def test_searchsorted_and_bucketize_match_torch(case):
    ours, theirs = case(engine), case(torch)
    assert str(ours.dtype) == str(theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@st.composite
def _search(draw):
    """Sorted rows (R..., n) of tied values and NaN (sorted, so NaN last, or as drawn),
    values (R..., m) or beside a 1-d row any shape, a side, a dtype."""
    batch = draw(testing.shapes(max_dims=2, max_side=3))
    n = draw(st.integers(0, 6))
    one_row = draw(st.booleans())
    rows = draw(hnp.arrays(np.float64, (n,) if one_row else batch + (n,), elements=TIES))
    if draw(st.booleans()):
        rows = np.sort(rows, axis=-1)
    values_shape = batch if one_row else batch + (draw(st.integers(0, 4)),)
    values = draw(hnp.arrays(np.float64, values_shape, elements=TIES))
    dtype = draw(st.sampled_from(["float64", "float32", "int64", "int32"]))
    if dtype.startswith("int"):
        rows = np.sort(np.nan_to_num(rows, posinf=9, neginf=-9), axis=-1).astype(dtype)
        values = np.nan_to_num(values, posinf=9, neginf=-9).astype(dtype)
    return rows, values, draw(st.booleans())


@needs_torch
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_search())
def test_searchsorted_matches_torch_on_random_rows(case):
    rows, values, right = case
    ours = engine.searchsorted(engine.tensor(rows), engine.tensor(values), right=right)
    theirs = torch.searchsorted(torch.tensor(rows), torch.tensor(values), right=right)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("device", DEVICES)
def test_each_backend_searches_batched_rows_as_numpy_does(device):
    rng = np.random.default_rng(0)
    rows = np.sort(rng.integers(0, 6, (3, 2, 7)), axis=-1).astype(np.float32)
    values = rng.integers(-1, 8, (3, 2, 5)).astype(np.float32)
    values[0, 0, 0] = np.nan  # past every entry, as PyTorch places it
    for side in ("left", "right"):
        ours = engine.searchsorted(engine.tensor(rows, device=device),
                                   engine.tensor(values, device=device), side=side)
        expected = np.array([np.searchsorted(r, v, side) for r, v in
                             zip(rows.reshape(6, 7), values.reshape(6, 5))]).reshape(3, 2, 5)
        assert ours.device.type == device and ours.dtype is engine.int64
        np.testing.assert_array_equal(ours.cpu().numpy(), expected)


def test_long_rows_are_searched_not_compared_with_every_entry():
    """A million values in a million entries: a matrix of comparisons would need 10^12
    bytes; the search needs the answer's 8 MB."""
    rng = np.random.default_rng(1)
    rows = np.sort(rng.standard_normal(1_000_000))
    values = rng.standard_normal(1_000_000)
    ours = engine.searchsorted(engine.tensor(rows), engine.tensor(values))
    np.testing.assert_array_equal(ours.numpy(), np.searchsorted(rows, values))


def test_the_result_has_no_gradient_and_the_search_traces_into_a_compiled_function():
    rows = engine.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert not engine.searchsorted(rows, engine.tensor([2.5])).requires_grad

    @engine.compile(fullgraph=True)  # a break would raise
    def buckets(x, edges):
        return engine.bucketize(x * 2, edges)

    x, edges = engine.tensor([0.2, 0.6, 1.4]), engine.tensor([0.5, 1.0, 2.0])
    np.testing.assert_array_equal(buckets(x, edges).numpy(), [0, 2, 3])


@pytest.mark.parametrize("call, error, words", [
    (lambda: engine.searchsorted(engine.tensor(1.), engine.tensor([1.])), RuntimeError,
     r"boundaries tensor should have positive dimension, but got 0 dimension"),
    (lambda: engine.searchsorted(engine.ones(2, 2), engine.ones(3)), RuntimeError,
     r"first N-1 dimensions .* boundaries tensor \[2, 2\] and input value tensor \[3\]"),
    (lambda: engine.searchsorted(engine.ones(2, 2), engine.tensor(1.)), RuntimeError,
     r"scalar only when boundaries tensor dimension is 1, but we got boundaries tensor "
     r"dim\(2\)"),
    (lambda: engine.searchsorted(engine.ones(2), engine.ones(1), sorter=engine.zeros(1, 2,
                                                                             dtype=engine.int64)),
     RuntimeError, r"boundary and sorter must have the same size, but got boundary tensor "
                   r"\[2\] and sorter tensor \[1, 2\]"),
    (lambda: engine.searchsorted(engine.ones(2), engine.ones(1), sorter=engine.tensor([0, 5])),
     RuntimeError, r"sorter index out of range"),
    (lambda: engine.searchsorted(engine.ones(2), engine.ones(1), sorter=engine.tensor([0., 1])),
     RuntimeError, r"sorter must be a tensor of long dtype but got torch.float32"),
    (lambda: engine.searchsorted(engine.tensor([True]), engine.tensor([False])),
     NotImplementedError, r"not implemented for 'Bool'"),
    (lambda: engine.searchsorted(engine.ones(2), engine.ones(1), side="middle"), ValueError,
     r"side must be 'left' or 'right', got 'middle'"),
    (lambda: engine.searchsorted([1.0, 2.0], engine.ones(1)), TypeError,
     r"sorted_sequence must be a Tensor, got list"),
])
def test_bad_calls_are_refused_in_words(call, error, words):
    with pytest.raises(error, match=words):
        call()


@pytest.mark.parametrize("device", DEVICES)
def test_the_kernels_refuse_rows_and_values_that_do_not_pair(device):
    """The kernel reads row i // m for value i: a caller that passes fewer rows than the
    values need is refused before the kernel runs."""
    backend = engine.ones(1, device=device)._backend
    rows = engine.ones(2, 3, device=device)._data
    for values in (engine.ones(3, 2, device=device)._data, engine.ones(6, device=device)._data):
        with pytest.raises(ValueError, match=r"searchsorted: expected sorted rows \(R, n\) "
                                             r"and values \(R, m\), got shapes \(2, 3\)"):
            backend.searchsorted(rows, values, False)
