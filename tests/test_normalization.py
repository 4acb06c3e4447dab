"""GroupNorm, InstanceNorm1d/2d and Dropout1d/2d against PyTorch with the same weights:
reprs, state dict names, outputs, gradients and running statistics across train and eval
steps; hypothesis over shapes and groups; the refusals."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import engine
import nn
from engine import testing
from conftest import assert_close, needs_torch, torch
from test_properties import SETTINGS

LAYERS = [
    ("GroupNorm", (2, 4), {}, (3, 4, 5, 2)),
    ("GroupNorm", (4, 4), dict(affine=False), (2, 4, 3)),
    ("GroupNorm", (1, 3), dict(bias=False), (2, 3)),
    ("InstanceNorm2d", (3,), {}, (2, 3, 4, 5)),
    ("InstanceNorm2d", (3,), dict(track_running_stats=True), (3, 4, 5)),  # unbatched
    ("InstanceNorm1d", (4,), dict(affine=True, track_running_stats=True), (2, 4, 5)),
    ("InstanceNorm1d", (4,), dict(affine=True, momentum=None, track_running_stats=True),
     (4, 6)),
]


@needs_torch
@pytest.mark.parametrize("name, args, kwargs, shape", LAYERS)
def test_layers_match_torch_through_train_and_eval_steps(name, args, kwargs, shape):
    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(0)
    if ours.weight is not None:  # not the initial ones and zeros, so the affine part shows
        ours.load_state_dict({k: engine.tensor(v.numpy() + rng.random(v.shape))
                              if k in ("weight", "bias") else engine.tensor(v.numpy())
                              for k, v in theirs.state_dict().items()})
        theirs.load_state_dict({k: torch.tensor(v.numpy())
                                for k, v in ours.state_dict().items()})
    for mode in ("train", "eval", "train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        x = rng.standard_normal(shape) * 3 + 1
        a, b = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out_e, out_t = ours(a), theirs(b)
        assert_close(out_e, out_t, 1e-10, 1e-12, what=f"{mode} output")
        w = rng.standard_normal(tuple(out_t.shape))
        (out_e * engine.tensor(w)).sum().backward()
        (out_t * torch.tensor(w)).sum().backward()
        assert_close(a.grad, b.grad, 1e-10, 1e-12, what=f"{mode} input grad")
        for key, value in ours.state_dict().items():
            assert_close(value, theirs.state_dict()[key], 1e-12, 1e-12, what=key)
    for (key, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, 1e-10, 1e-12, what=f"{key}.grad")


@needs_torch
@SETTINGS
@given(shape=testing.shapes(min_dims=2, max_dims=4, min_side=1), groups=st.integers(1, 4),
       seed=st.integers(0, 2**16))
def test_group_norm_any_shape(shape, groups, seed):
    assume(shape[1] % groups == 0 and np.prod(shape) // groups > 1)  # torch refuses 1
    rng = np.random.default_rng(seed)
    x, weight, bias = (rng.standard_normal(shape), rng.standard_normal(shape[1]),
                       rng.standard_normal(shape[1]))
    ins_e = [engine.tensor(v, requires_grad=True) for v in (x, weight, bias)]
    ins_t = [torch.tensor(v, requires_grad=True) for v in (x, weight, bias)]
    out_e = nn.functional.group_norm(ins_e[0], groups, ins_e[1], ins_e[2])
    out_t = torch.nn.functional.group_norm(ins_t[0], groups, ins_t[1], ins_t[2])
    assert_close(out_e, out_t, 1e-8, 1e-10, what="forward")
    w = rng.standard_normal(shape)
    (out_e * engine.tensor(w)).sum().backward()
    (out_t * torch.tensor(w)).sum().backward()
    for i, (a, b) in enumerate(zip(ins_e, ins_t)):
        assert_close(a.grad, b.grad, 1e-7, 1e-9, what=f"grad {i}")


@pytest.mark.parametrize("name, shape, lead", [
    ("Dropout1d", (40, 30, 5), 2), ("Dropout1d", (300, 5), 1),
    ("Dropout2d", (40, 30, 3, 2), 2), ("Dropout2d", (40, 30, 6), 2),  # 3-d: (N, C, L)
])
def test_channel_dropout_zeroes_whole_channels(name, shape, lead):
    engine.manual_seed(0)
    layer = getattr(nn, name)(0.25)
    assert repr(layer) == f"{name}(p=0.25, inplace=False)"
    x = engine.ones(shape)
    channels = layer(x).numpy().reshape(int(np.prod(shape[:lead])), -1)
    assert set(np.unique(channels).tolist()) <= {0.0, float(np.float32(1 / 0.75))}
    assert (channels.min(1) == channels.max(1)).all()  # a channel is dropped whole
    assert abs((channels[:, 0] == 0).mean() - 0.25) < 0.06
    layer.eval()
    assert layer(x).tolist() == x.tolist()


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.GroupNorm(3, 4), ValueError, r"num_channels \(4\) must be divisible by "
                                             r"num_groups \(3\)"),
    (lambda: nn.functional.group_norm(engine.ones(2, 4, 3), 3), RuntimeError,
     r"divisible by num_groups=3, got shape \(2, 4, 3\)"),
    (lambda: nn.functional.group_norm(engine.ones(1, 2), 2), ValueError,
     "Expected more than 1 value per channel when training"),
    (lambda: nn.InstanceNorm2d(3)(engine.ones(2, 3)), ValueError,
     r"expected 3D or 4D input \(got 2D input\)"),
    (lambda: nn.InstanceNorm1d(3, affine=True)(engine.ones(2, 4, 5)), ValueError,
     r"match num_features \(3\), but got: 4"),
    (lambda: nn.Dropout2d(0.5)(engine.ones(2)), RuntimeError,
     r"Dropout2d: expected a 3-d or 4-d input, got shape \(2,\)"),
])
def test_refusals(call, error, message):
    with pytest.raises(error, match=message):
        call()
