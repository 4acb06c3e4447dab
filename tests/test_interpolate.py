"""F.interpolate and the Upsample layers against PyTorch: hypothesis over input sizes,
output sizes or scale factors, modes and align_corners, values and gradients; the
layers' reprs; the refusals."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import engine
import nn
from conftest import assert_close, needs_torch, torch
from test_properties import SETTINGS

SPATIAL = {"nearest": (1, 2, 3), "nearest-exact": (1, 2), "linear": (1,), "bilinear": (2,),
           "area": (1, 2)}


@st.composite
def cases(draw):
    mode = draw(st.sampled_from(sorted(SPATIAL)))
    dims = draw(st.sampled_from(SPATIAL[mode]))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + tuple(
        draw(st.integers(1, 6)) for _ in range(dims))
    kwargs = {}
    if draw(st.booleans()):
        kwargs["size"] = tuple(draw(st.integers(1, 9)) for _ in range(dims))
    else:
        scale = st.sampled_from([0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0])
        kwargs["scale_factor"] = tuple(draw(scale) for _ in range(dims))
        assume(all(int(n * s) >= 1 for n, s in zip(shape[2:], kwargs["scale_factor"])))
        if mode != "area":
            kwargs["recompute_scale_factor"] = draw(st.sampled_from([None, True]))
    if mode in ("linear", "bilinear"):
        kwargs["align_corners"] = draw(st.sampled_from([None, False, True]))
    return shape, mode, kwargs


@needs_torch
@SETTINGS
@given(case=cases(), seed=st.integers(0, 2**16))
def test_interpolate_matches_torch(case, seed):
    shape, mode, kwargs = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    ours, theirs = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e = nn.functional.interpolate(ours, mode=mode, **kwargs)
    out_t = torch.nn.functional.interpolate(theirs, mode=mode, **kwargs)
    assert_close(out_e, out_t, 1e-10, 1e-12, what=f"{mode} forward")
    w = rng.standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    assert_close(ours.grad, theirs.grad, 1e-10, 1e-12, what=f"{mode} grad")


@needs_torch
@pytest.mark.parametrize("name, kwargs", [
    ("Upsample", dict(scale_factor=2)),
    ("Upsample", dict(size=(3, 5), mode="bilinear")),
    ("Upsample", dict(scale_factor=(2, 1.5), mode="bilinear", align_corners=True)),
    ("UpsamplingNearest2d", dict(scale_factor=2)),
    ("UpsamplingBilinear2d", dict(size=5)),
])
def test_layers_match_torch(name, kwargs):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal((1, 2, 3, 4)).astype(np.float32)
    assert_close(ours(engine.tensor(x)), theirs(torch.tensor(x)), 1e-6, 1e-6)


@pytest.mark.parametrize("call, error, message", [
    (lambda x: nn.functional.interpolate(x), ValueError, "exactly one of size and"),
    (lambda x: nn.functional.interpolate(x, size=3, scale_factor=2), ValueError,
     "exactly one of size and"),
    (lambda x: nn.functional.interpolate(x, size=(2, 2, 2)), ValueError,
     r"input of shape \(1, 2, 3, 4\) has 2 spatial dims, but size \(2, 2, 2\) gives 3"),
    (lambda x: nn.functional.interpolate(x, size=3, mode="linear"), NotImplementedError,
     r"mode 'linear' cannot resize an input of shape \(1, 2, 3, 4\)"),
    (lambda x: nn.functional.interpolate(x, size=3, mode="bicubic"), NotImplementedError,
     "mode 'bicubic' is not supported"),
    (lambda x: nn.functional.interpolate(x, size=3, align_corners=True), ValueError,
     "align_corners option can only be set with the interpolating modes"),
    (lambda x: nn.functional.interpolate(x, scale_factor=0.1), ValueError,
     r"output size \(0, 0\) for an input of shape \(1, 2, 3, 4\) must be positive"),
    (lambda x: nn.functional.interpolate(x.long(), size=2), RuntimeError,
     "expected a floating point input, got torch.int64"),
])
def test_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call(engine.ones(1, 2, 3, 4))


@needs_torch
@pytest.mark.parametrize("shape, factor", [((2, 18, 4, 5), 3), ((9, 2, 3), 3), ((2, 3, 4, 4, 6), 2),
                                           ((1, 4, 1, 1), 2)])
def test_pixel_shuffle_and_unshuffle_match_torch(shape, factor):
    x = np.random.default_rng(0).standard_normal(shape)
    ours, theirs = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    for up, down in ((engine.nn.PixelShuffle(factor), engine.nn.PixelUnshuffle(factor)),
                     (torch.nn.PixelShuffle(factor), torch.nn.PixelUnshuffle(factor))):
        assert repr(up) == f"PixelShuffle(upscale_factor={factor})"
        assert repr(down) == f"PixelUnshuffle(downscale_factor={factor})"
    a = engine.nn.PixelShuffle(factor)(ours)
    b = torch.nn.PixelShuffle(factor)(theirs)
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    back = engine.nn.functional.pixel_unshuffle(a, factor)
    np.testing.assert_array_equal(back.detach().numpy(), x)
    weights = np.random.default_rng(1).standard_normal(tuple(b.shape))
    (a * engine.tensor(weights)).sum().backward()
    (b * torch.tensor(weights)).sum().backward()
    np.testing.assert_array_equal(ours.grad.numpy(), theirs.grad.numpy())


def test_pixel_shuffle_errors_name_the_sizes():
    with pytest.raises(RuntimeError, match="input.size\\(-3\\)=5 is not divisible by 4"):
        engine.nn.functional.pixel_shuffle(engine.ones(1, 5, 2, 2), 2)
    with pytest.raises(RuntimeError, match="input.size\\(-2\\)=3 is not divisible by 2"):
        engine.nn.functional.pixel_unshuffle(engine.ones(1, 1, 3, 4), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions.*2 dimension"):
        engine.nn.functional.pixel_shuffle(engine.ones(5, 2), 2)
