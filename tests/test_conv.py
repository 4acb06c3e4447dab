"""Convolution and pooling against PyTorch: hypothesis over the window geometry (kernel,
stride, padding, dilation, groups, odd sizes), the layers' reprs and initialisation,
every refusal, and a small CNN's training step gradient for gradient."""
import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import engine
import nn
import optim
from conftest import assert_close, needs_torch, torch

F = nn.functional
# HYPOTHESIS_EXAMPLES=300 searches deeper than the suite's default.
# Geometries are drawn and then filtered (a window must fit); on a loaded machine that
# trips the generation health checks, which say nothing about the code under test.
SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 30)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])
pair = st.tuples(st.integers(1, 3), st.integers(1, 3))


def _places(size, k, d, p, s):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


@st.composite
def _geometry(draw, pooling=False):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 4))
    size = draw(st.tuples(st.integers(1, 7), st.integers(1, 7)))
    kernel, stride = draw(pair), draw(pair)
    dilation = (1, 1) if pooling else draw(st.tuples(st.integers(1, 2), st.integers(1, 2)))
    padding = draw(st.tuples(st.integers(0, 2), st.integers(0, 2)))
    if pooling:
        assume(all(2 * p <= k for p, k in zip(padding, kernel)))
    assume(all(_places(*side) >= 1 for side in zip(size, kernel, dilation, padding, stride)))
    return n, c, size, kernel, stride, padding, dilation


def _compare(fn, arrays):
    ours = [engine.tensor(a, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    out_e, out_t = fn(engine, F, *ours), fn(torch, torch.nn.functional, *theirs)
    assert_close(out_e, out_t, 1e-9, 1e-10, what="forward")
    weights = np.random.default_rng(1).standard_normal(tuple(out_t.shape))
    (out_e * engine.tensor(weights)).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    for i, (a, b) in enumerate(zip(ours, theirs)):
        assert_close(a.grad, b.grad, 1e-9, 1e-10, what=f"gradient of input {i}")


@needs_torch
@SETTINGS
@given(geometry=_geometry(), groups=st.sampled_from([1, 2]), out_per_group=st.integers(1, 3),
       bias=st.booleans(), data=st.data())
def test_conv2d_any_geometry(geometry, groups, out_per_group, bias, data):
    n, c, size, kernel, stride, padding, dilation = geometry
    assume(c % groups == 0)
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    arrays = [rng.standard_normal((n, c) + size),
              rng.standard_normal((groups * out_per_group, c // groups) + kernel)]
    if bias:
        arrays.append(rng.standard_normal(groups * out_per_group))
    _compare(lambda m, f, x, w, *b: f.conv2d(x, w, b[0] if b else None, stride, padding,
                                             dilation, groups), arrays)


@needs_torch
@SETTINGS
@given(geometry=_geometry(), groups=st.sampled_from([1, 2]), out_per_group=st.integers(1, 3),
       bias=st.booleans(), extra=pair, data=st.data())
def test_conv_transpose2d_any_geometry(geometry, groups, out_per_group, bias, extra, data):
    n, c, size, kernel, stride, padding, dilation = geometry
    assume(c % groups == 0)
    output_padding = tuple(e - 1 for e in extra)  # 0 to 2, kept where torch allows it
    assume(all(e < s or e < d for e, s, d in zip(output_padding, stride, dilation)))
    assume(all((n - 1) * s - 2 * p + d * (k - 1) + e + 1 > 0 for n, s, p, d, k, e in
               zip(size, stride, padding, dilation, kernel, output_padding)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 16)))
    arrays = [rng.standard_normal((n, c) + size),
              rng.standard_normal((c, out_per_group) + kernel)]
    if bias:
        arrays.append(rng.standard_normal(groups * out_per_group))
    _compare(lambda m, f, x, w, *b: f.conv_transpose2d(x, w, b[0] if b else None, stride,
                                                       padding, output_padding, groups,
                                                       dilation), arrays)


@needs_torch
@SETTINGS
@given(geometry=_geometry(pooling=True), seed=st.integers(0, 2 ** 16), ceil=st.booleans())
def test_pooling_any_geometry(geometry, seed, ceil):
    n, c, size, kernel, stride, padding, _ = geometry
    x = np.random.default_rng(seed).permutation(n * c * size[0] * size[1]).reshape(
        (n, c) + size).astype(np.float64)  # distinct values: one maximum per window
    _compare(lambda m, f, t: f.max_pool2d(t, kernel, stride, padding, ceil_mode=ceil), [x])
    for include in (True, False):
        _compare(lambda m, f, t: f.avg_pool2d(t, kernel, stride, padding, ceil_mode=ceil,
                                              count_include_pad=include), [x])
    _, ours = F.max_pool2d(engine.tensor(x), kernel, stride, padding, ceil_mode=ceil,
                           return_indices=True)
    pooled, theirs = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride, padding,
                                                    ceil_mode=ceil, return_indices=True)
    assert ours.tolist() == theirs.tolist()
    _compare(lambda m, f, t: f.max_unpool2d(t, ours if m is engine else theirs, kernel, stride,
                                            padding, output_size=size), [pooled.numpy()])


@needs_torch
@SETTINGS
@given(size=st.tuples(st.integers(1, 7), st.integers(1, 7)),
       out=st.tuples(st.integers(1, 8), st.integers(1, 8)), seed=st.integers(0, 2 ** 16))
def test_adaptive_pooling_any_sizes(size, out, seed):
    x = np.random.default_rng(seed).permutation(2 * 3 * size[0] * size[1]).reshape(
        (2, 3) + size).astype(np.float64)
    _compare(lambda m, f, t: f.adaptive_max_pool2d(t, out), [x])
    _compare(lambda m, f, t: f.adaptive_max_pool1d(t[:, :, 0], out[1]), [x])
    _compare(lambda m, f, t: f.adaptive_avg_pool1d(t[:, :, 0], out[1]), [x])
    ours = F.adaptive_max_pool2d(engine.tensor(x), out, return_indices=True)[1]
    theirs = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), out, True)[1]
    assert ours.tolist() == theirs.tolist()


@needs_torch
def test_unbatched_images_and_layers_match_torch():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 5))
    w = rng.standard_normal((2, 3, 3, 3))
    _compare(lambda m, f, t, k: f.conv2d(t, k, padding=1), [x, w])
    _compare(lambda m, f, t: f.max_pool2d(t, 2), [x])
    _compare(lambda m, f, t: f.avg_pool2d(t, 3, 1, 1, divisor_override=4), [x])
    _compare(lambda m, f, t: f.fold(f.unfold(t, 2, padding=1), (6, 5), 2, padding=1), [x])


LAYERS = [
    ("Conv2d", (1, 6, 5), {}),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=2, padding=(1, 0), dilation=2, groups=2,
                                     bias=False)),
    ("Conv2d", (3, 8, 3), dict(padding="same")),
    ("Conv2d", (2, 4, (2, 3)), dict(padding="same", padding_mode="circular")),
    ("Conv2d", (2, 4, 3), dict(padding=(2, 1), padding_mode="reflect")),
    ("Conv2d", (2, 4, 3), dict(padding=1, stride=2, padding_mode="replicate")),
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", ((3, 2), 1, 1), dict(dilation=2)),
    ("AvgPool2d", (2,), {}),
    ("AvgPool2d", (3, 2, 1), dict(count_include_pad=False)),
    ("AdaptiveAvgPool2d", ((4, None),), {}),
    ("AdaptiveAvgPool2d", (1,), {}),
    ("Conv1d", (4, 6, 3), dict(stride=2, padding=1, padding_mode="circular")),
    ("Conv1d", (2, 4, 2), dict(padding="same", dilation=3, bias=False)),
    ("MaxPool1d", (3, 2, 1), {}),
    ("AvgPool1d", (3,), dict(padding=1, count_include_pad=False)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ("ConvTranspose2d", (2, 3, (2, 3)), dict(dilation=2, bias=False)),
    ("ConvTranspose1d", (4, 2, 4), dict(stride=2, padding=1)),
    ("MaxPool2d", (3, 2, 1), dict(ceil_mode=True)),
    ("AvgPool2d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False)),
    ("AdaptiveMaxPool2d", ((2, 3),), {}),
    ("AdaptiveMaxPool1d", (4,), {}),
    ("AdaptiveAvgPool1d", (4,), {}),
]


@needs_torch
@pytest.mark.parametrize("name,args,kwargs", LAYERS)
def test_layers_match_torch_in_repr_parameters_and_output(name, args, kwargs):
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(p.shape)) for k, p in ours.named_parameters()] == \
        [(k, tuple(p.shape)) for k, p in theirs.named_parameters()]
    ours.load_state_dict({k: engine.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    channels = args[0] if name.startswith("Conv") else 3
    x = np.random.default_rng(0).standard_normal((2, channels) + ((9,) if name.endswith("1d")
                                                                  else (6, 7)))
    with warnings.catch_warnings():  # torch notes that uneven 'same' padding copies the input
        warnings.simplefilter("ignore")
        expected = theirs(torch.tensor(x, dtype=torch.float32))
    assert_close(ours(engine.tensor(x, dtype=engine.float32)), expected, 1e-5, 1e-5)


@needs_torch
def test_conv_transpose_output_size_picks_the_output_padding():
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=3), torch.nn.ConvTranspose2d(2, 3, 3,
                                                                                  stride=3)
    ours.load_state_dict({k: engine.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((1, 2, 4, 4)).astype(np.float32)
    for size in ([12, 14], (1, 3, 13, 12)):
        assert_close(ours(engine.tensor(x), output_size=size),
                     theirs(torch.tensor(x), output_size=size), 1e-5, 1e-6)
    with pytest.raises(ValueError, match=r"output size of \[15, 12\], but valid sizes range "
                                         r"from \[12, 12\] to \[14, 14\]"):
        ours(engine.tensor(x), output_size=(15, 12))


def test_conv2d_is_initialised_uniform_in_one_over_root_fan_in():
    engine.manual_seed(0)
    layer = nn.Conv2d(16, 64, 5)
    bound = 1 / math.sqrt(16 * 25)
    for p in (layer.weight, layer.bias):
        values = p.detach().numpy()
        assert np.abs(values).max() <= bound
    weights = layer.weight.detach().numpy()
    assert weights.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


REFUSALS = [
    (lambda: F.conv2d(engine.ones(1, 2, 4, 4, dtype=engine.int64), engine.ones(1, 2, 2, 2)),
     "conv2d: expected a floating point input, got torch.int64"),
    (lambda: F.conv2d(engine.ones(1, 2, 4, 4), engine.ones(1, 2, 2)),
     r"expected a 4-d weight .* got shape \(1, 2, 2\)"),
    (lambda: F.conv2d(engine.ones(1, 3, 4, 4), engine.ones(1, 2, 2, 2)),
     r"input of shape \(1, 3, 4, 4\) \(3 channels\) does not match weight of shape "
     r"\(1, 2, 2, 2\) with groups=1"),
    (lambda: F.conv2d(engine.ones(1, 2, 4, 4), engine.ones(1, 2, 5, 5)),
     r"a window of kernel_size \(5, 5\) and dilation \(1, 1\) does not fit an input of "
     r"size \(4, 4\) padded by \(0, 0\)"),
    (lambda: F.conv2d(engine.ones(2, 4), engine.ones(1, 2, 1, 1)),
     r"expected a 3-d \(C, H, W\) or 4-d \(N, C, H, W\) input, got shape \(2, 4\)"),
    (lambda: F.conv2d(engine.ones(1, 2, 4, 4), engine.ones(1, 2, 1, 1), stride=0),
     "must be positive"),
    (lambda: F.max_pool2d(engine.ones(1, 1, 4, 4), 2, padding=2),
     r"padding \(2, 2\) should be at most half of the effective kernel size"),
    (lambda: F.fold(engine.ones(1, 5, 4), (3, 3), 2),
     r"fold: expected input of shape \(N, C \* 4, 4\) for output_size \(3, 3\)"),
    (lambda: F.conv1d(engine.ones(1, 2, 3, 4), engine.ones(1, 2, 2)),
     r"conv1d: expected a 2-d \(C, L\) or 3-d \(N, C, L\) input, got shape \(1, 2, 3, 4\)"),
    (lambda: F.conv1d(engine.ones(1, 2, 4), engine.ones(1, 2, 2, 2)),
     r"conv1d: expected a 3-d weight"),
    (lambda: F.adaptive_avg_pool2d(engine.ones(1, 2, 3, 4), (0, 2)),
     r"cannot pool an input of shape \(1, 2, 3, 4\) to output_size \(0, 2\)"),
    (lambda: F.conv_transpose2d(engine.ones(1, 3, 4, 4), engine.ones(2, 1, 2, 2)),
     r"conv_transpose2d: input of shape \(1, 3, 4, 4\) \(3 channels\) does not match "
     r"weight of shape \(2, 1, 2, 2\) with groups=1"),
    (lambda: F.conv_transpose2d(engine.ones(1, 2, 4, 4), engine.ones(2, 1, 2, 2), stride=2,
                                output_padding=2),
     r"output padding \(2, 2\) must be smaller than either stride \(2, 2\) or dilation"),
    (lambda: F.conv_transpose2d(engine.ones(1, 2, 1, 1), engine.ones(2, 1, 1, 1), padding=1),
     r"the output size \(-1, -1\) for an input of shape \(1, 2, 1, 1\) is too small"),
    (lambda: F.conv_transpose1d(engine.ones(1, 2, 4), engine.ones(2, 1, 2, 2)),
     "conv_transpose1d: expected a 3-d weight"),
]


@pytest.mark.parametrize("call,message", REFUSALS)
def test_bad_input_is_refused_by_name(call, message):
    with pytest.raises(RuntimeError, match=message):
        call()


@pytest.mark.parametrize("make,message", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "must be divisible by groups"),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), "got 'mirror'"),
    (lambda: F.conv2d(engine.ones(1, 1, 4, 4), engine.ones(1, 1, 3, 3), padding="same",
                      stride=2), "not supported for strided"),
    (lambda: F.conv2d(engine.ones(1, 1, 4, 4), engine.ones(1, 1, 2, 2), padding="full"),
     "padding must be 'valid', 'same' or a number"),
    (lambda: F.conv2d(engine.ones(1, 1, 4, 4), engine.ones(1, 1, 2, 2), stride=(1, 2, 3)),
     "stride must be an int or a pair of ints"),
    (lambda: F.max_pool1d(engine.ones(1, 1, 4), (2, 2)),
     "kernel_size must be an int or a 1-tuple of ints"),
    (lambda: nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect"),
     'Only "zeros" padding mode is supported for ConvTranspose2d'),
])
def test_bad_arguments_are_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@needs_torch
def test_a_small_cnn_trains_gradient_for_gradient_like_torch():
    def cnn(m):  # the shape of PyTorch's CIFAR-10 tutorial network, smaller
        return m.Sequential(m.Conv2d(3, 4, 3), m.ReLU(), m.MaxPool2d(2, 2),
                            m.Conv2d(4, 6, 3, padding=1), m.ReLU(), m.AvgPool2d(2),
                            m.Flatten(), m.Linear(6 * 3 * 3, 10))

    theirs, ours = cnn(torch.nn), cnn(nn)
    ours.load_state_dict({k: engine.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 3, 14, 14)).astype(np.float32)
    y = rng.integers(0, 10, 5)
    opt_e = optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    for _ in range(3):
        opt_e.zero_grad()
        opt_t.zero_grad()
        loss_e = F.cross_entropy(ours(engine.tensor(x)), engine.tensor(y))
        loss_t = torch.nn.functional.cross_entropy(theirs(torch.tensor(x)), torch.tensor(y))
        loss_e.backward()
        loss_t.backward()
        assert loss_e.item() == pytest.approx(loss_t.item(), rel=1e-5)
        for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
            assert_close(p.grad, q.grad, 1e-4, 1e-5, what=f"{name} gradient")
        opt_e.step()
        opt_t.step()


PAD_MODES = ["constant", "reflect", "replicate", "circular"]


@needs_torch
@SETTINGS
@given(mode=st.sampled_from(PAD_MODES), shape=st.lists(st.integers(1, 4), min_size=2,
                                                         max_size=4),
       amounts=st.lists(st.integers(-2, 3), min_size=2, max_size=6), data=st.data())
def test_pad_matches_torch_in_every_mode(mode, shape, amounts, data):
    amounts = amounts[:2 * min(len(amounts) // 2, len(shape) - 1 if mode != "constant"
                               else len(shape))]
    assume(amounts)
    for i, n in enumerate(reversed(shape[-(len(amounts) // 2):])):  # PyTorch's answers for
        assume(n + amounts[2 * i] + amounts[2 * i + 1] >= 1)  # empty results vary by mode
    if mode == "circular":  # PyTorch wraps around what is left after cropping, but checks
        # the amounts against the uncropped size: beyond what is left it reads stale memory
        for i, n in enumerate(reversed(shape[-(len(amounts) // 2):])):
            left = n + min(amounts[2 * i], 0) + min(amounts[2 * i + 1], 0)
            assume(left >= 1 and max(amounts[2 * i], amounts[2 * i + 1]) <= left)
    x = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(shape)
    try:
        expected = torch.nn.functional.pad(torch.tensor(x), amounts, mode=mode)
    except (RuntimeError, ValueError, NotImplementedError) as e:
        assume("single memory location" not in str(e))  # torch's circular crop-and-pad bug
        with pytest.raises((RuntimeError, ValueError, NotImplementedError)):
            F.pad(engine.tensor(x), amounts, mode=mode)
        return
    _compare(lambda m, f, t: f.pad(t, amounts, mode=mode), [x])
    assert tuple(F.pad(engine.tensor(x), amounts, mode=mode).shape) == tuple(expected.shape)


@pytest.mark.parametrize("call,error,message", [
    (lambda: F.pad(engine.ones(2, 3), (1,)), ValueError, "padding length must be even"),
    (lambda: F.pad(engine.ones(3), (1, 1, 1, 1)), ValueError, r"pad 2 dims, but the input "
                                                               r"of shape \(3,\) has 1"),
    (lambda: F.pad(engine.ones(1, 3), (3, 0), mode="reflect"), ValueError,
     r"reflect padding of \(3, 0\) must be at most 2 for dim 1 of size 3"),
    (lambda: F.pad(engine.ones(1, 3), (1, 0), mode="mirror"), NotImplementedError,
     "mode 'mirror' is not one of"),
    (lambda: F.pad(engine.ones(1, 3), (1, 0), mode="reflect", value=2), ValueError,
     "only used by mode 'constant'"),
])
def test_pad_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()


@needs_torch
@pytest.mark.parametrize("make", [
    lambda m: m.nn.Sequential(m.nn.Conv2d(3, 4, 3, bias=False), m.nn.LeakyReLU(0.2, True)),
    lambda m: m.nn.Sequential(m.nn.Conv1d(3, 4, 3), m.nn.ReLU(True)),
    lambda m: m.nn.Sequential(m.nn.ConvTranspose2d(3, 2, 3, bias=False), m.nn.ReLU(True)),
    lambda m: m.nn.Sequential(m.nn.Linear(8, 5), m.nn.ReLU(inplace=True)),
], ids=["conv2d", "conv1d", "conv_transpose2d", "linear-3d"])
def test_in_place_activations_after_layers_match_torch(make):
    """A layer's result is a tensor of its own (DCGAN's LeakyReLU(inplace=True) after a
    bias-free convolution), not a view an in-place op must refuse."""
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    engine.manual_seed(0)
    ours = make(engine)
    theirs = make(torch)
    theirs.load_state_dict({k: torch.tensor(v.detach().numpy())
                            for k, v in ours.state_dict().items()})
    shape = (2, 3, 8) if isinstance(ours[0], engine.nn.Conv1d) else x.shape
    a = engine.tensor(x.reshape(-1)[:np.prod(shape)].reshape(shape), requires_grad=True)
    b = torch.tensor(a.detach().numpy(), requires_grad=True)
    out_a, out_b = ours(a), theirs(b)
    assert_close(out_a, out_b, 1e-5, 1e-5)
    (out_a * out_a).sum().backward()
    (out_b * out_b).sum().backward()
    assert_close(a.grad, b.grad, 1e-4, 1e-5)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, 1e-4, 1e-5)
