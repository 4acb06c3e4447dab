"""RNN, LSTM, GRU and their cells against PyTorch with the same weights: outputs, final
states and every gradient, across layers, directions, batch_first, bias, unbatched
input and given initial states; their refusals; a few training steps."""
import warnings

import numpy as np
import pytest

import engine
import nn
import optim
from conftest import assert_close, needs_torch, torch, twin_modules

CONFIGS = [
    ("LSTM", dict(num_layers=2, bidirectional=True), (5, 2, 3)),
    ("LSTM", dict(batch_first=True, bias=False), (2, 4, 3)),
    ("GRU", dict(num_layers=2), (4, 3, 3)),
    ("GRU", dict(bidirectional=True, batch_first=True), (3, 4, 3)),
    ("RNN", dict(nonlinearity="relu", num_layers=3), (4, 2, 3)),
    ("RNN", dict(bidirectional=True), (6, 3)),  # unbatched
    ("LSTM", dict(num_layers=2), (5, 3)),  # unbatched
]


def _states(out):
    return list(out) if isinstance(out, tuple) else [out]


@needs_torch
@pytest.mark.parametrize("given_state", [False, True])
@pytest.mark.parametrize("name,kwargs,shape", CONFIGS)
def test_recurrent_layers_match_torch(name, kwargs, shape, given_state):
    ours, theirs = twin_modules(name, 3, 4, **kwargs)
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    inputs_e, inputs_t = [engine.tensor(x, requires_grad=True)], [torch.tensor(x,
                                                                               requires_grad=True)]
    if given_state:
        layers = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
        batch = () if len(shape) == 2 else (shape[0 if kwargs.get("batch_first") else 1],)
        states = [rng.standard_normal((layers,) + batch + (4,))
                  for _ in range(2 if name == "LSTM" else 1)]
        inputs_e += [engine.tensor(s, requires_grad=True) for s in states]
        inputs_t += [torch.tensor(s, requires_grad=True) for s in states]
    hx_e = None if not given_state else (tuple(inputs_e[1:]) if name == "LSTM" else inputs_e[1])
    hx_t = None if not given_state else (tuple(inputs_t[1:]) if name == "LSTM" else inputs_t[1])
    out_e, final_e = ours(inputs_e[0], hx_e)
    out_t, final_t = theirs(inputs_t[0], hx_t)
    assert_close(out_e, out_t, 1e-10, 1e-12, what="output")
    loss_e, loss_t = (out_e * out_e).sum(), (out_t * out_t).sum()
    for k, (a, b) in enumerate(zip(_states(final_e), _states(final_t))):
        assert_close(a, b, 1e-10, 1e-12, what=f"final state {k}")
        loss_e, loss_t = loss_e + a.sum() * (k + 2), loss_t + b.sum() * (k + 2)
    loss_e.backward()
    loss_t.backward()
    for i, (a, b) in enumerate(zip(inputs_e, inputs_t)):
        assert_close(a.grad, b.grad, 1e-9, 1e-11, what=f"gradient of input {i}")
    for (key, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, 1e-9, 1e-11, what=f"gradient of {key}")


@needs_torch
@pytest.mark.parametrize("name,kwargs", [("LSTMCell", {}), ("GRUCell", {}),
                                         ("RNNCell", dict(nonlinearity="relu")),
                                         ("GRUCell", dict(bias=False))])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(name, kwargs, batched):
    ours, theirs = twin_modules(name, 3, 4, **kwargs)
    rng = np.random.default_rng(1)
    shape = (2,) if batched else ()
    x = rng.standard_normal(shape + (3,))
    states = [rng.standard_normal(shape + (4,)) for _ in range(2 if name == "LSTMCell" else 1)]
    xs_e = [engine.tensor(a, requires_grad=True) for a in [x] + states]
    xs_t = [torch.tensor(a, requires_grad=True) for a in [x] + states]
    hx_e = tuple(xs_e[1:]) if name == "LSTMCell" else xs_e[1]
    hx_t = tuple(xs_t[1:]) if name == "LSTMCell" else xs_t[1]
    for hx in (None, "given"):
        out_e = _states(ours(xs_e[0], hx_e if hx else None))
        out_t = _states(theirs(xs_t[0], hx_t if hx else None))
        for a, b in zip(out_e, out_t):
            assert_close(a, b, 1e-10, 1e-12)
    sum(o.sum() * (k + 1) for k, o in enumerate(out_e)).backward()
    sum(o.sum() * (k + 1) for k, o in enumerate(out_t)).backward()
    for a, b in zip(xs_e + list(ours.parameters()), xs_t + list(theirs.parameters())):
        assert_close(a.grad, b.grad, 1e-9, 1e-11)


def test_parameters_start_uniform_in_one_over_root_hidden():
    engine.manual_seed(0)
    layer = nn.GRU(8, 25, num_layers=2)
    values = np.concatenate([p.detach().numpy().ravel() for p in layer.parameters()])
    assert np.abs(values).max() <= 0.2 and values.std() == pytest.approx(0.2 / 3 ** 0.5,
                                                                          rel=0.05)


def test_dropout_acts_between_layers_in_training_only():
    engine.manual_seed(0)
    layer = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    x = engine.randn(5, 2, 3)
    train_a, train_b = layer(x)[0], layer(x)[0]
    assert not np.allclose(train_a.detach().numpy(), train_b.detach().numpy())
    layer.eval()
    np.testing.assert_array_equal(layer(x)[0].detach().numpy(), layer(x)[0].detach().numpy())
    with pytest.warns(UserWarning, match="dropout acts between stacked layers"):
        nn.GRU(3, 4, dropout=0.2)


@pytest.mark.parametrize("call,error,message", [
    (lambda: nn.LSTM(3, 4)(engine.zeros(5, 2, 6)), RuntimeError,
     "input.size\\(-1\\) must be equal to input_size. Expected 3, got 6"),
    (lambda: nn.LSTM(3, 4)(engine.zeros(5, 2, 3), (engine.zeros(2, 2, 4),
                                                   engine.zeros(1, 2, 4))),
     RuntimeError, r"Expected hidden\[0\] size \(1, 2, 4\), got \[2, 2, 4\]"),
    (lambda: nn.GRU(3, 4)(engine.zeros(5, 3), engine.zeros(1, 2, 4)), RuntimeError,
     "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor"),
    (lambda: nn.GRU(3, 4)(engine.zeros(2, 3, 4, 5)), ValueError,
     "GRU: Expected input to be 2D or 3D, got 4D instead"),
    (lambda: nn.RNN(3, 4)(engine.zeros(0, 2, 3)), RuntimeError,
     r"sequence of length at least 1, got input of shape \(0, 2, 3\)"),
    (lambda: nn.RNN(3, 4)([engine.zeros(2, 3)]), TypeError,
     "expected a Tensor or a PackedSequence input, got list"),
    (lambda: nn.LSTM(3, 4, proj_size=2), ValueError, "proj_size is not supported"),
    (lambda: nn.RNN(3, 4, nonlinearity="gelu"), ValueError, "Unknown nonlinearity 'gelu'"),
    (lambda: nn.GRU(3, 4, num_layers=2, dropout=1.5), ValueError,
     "dropout should be a number in range"),
    (lambda: nn.LSTMCell(3, 4)(engine.zeros(2, 5)), RuntimeError,
     "input has inconsistent input_size: got 5 expected 3"),
])
def test_refusals_name_what_is_wrong(call, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error, match=message):
            call()


@needs_torch
def test_an_lstm_regressor_trains_step_for_step_like_torch():
    class Regressor:
        def __init__(self, m):
            self.lstm, self.head = m.LSTM(2, 6, batch_first=True), m.Linear(6, 1)

        def __call__(self, x):
            out, (h, _) = self.lstm(x)
            return self.head(h[-1]).squeeze(-1) + out.mean((1, 2))

        def parameters(self):
            return list(self.lstm.parameters()) + list(self.head.parameters())

    theirs, ours = Regressor(torch.nn), Regressor(nn)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        p.data = engine.tensor(q.detach().numpy())
    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 5, 2)).astype(np.float32)
    y = x.sum((1, 2)).astype(np.float32)
    opt_e = optim.Adam(ours.parameters(), lr=0.05)
    opt_t = torch.optim.Adam(theirs.parameters(), lr=0.05)
    losses = []
    for _ in range(5):
        opt_e.zero_grad()
        opt_t.zero_grad()
        loss_e = ((ours(engine.tensor(x)) - engine.tensor(y)) ** 2).mean()
        loss_t = ((theirs(torch.tensor(x)) - torch.tensor(y)) ** 2).mean()
        loss_e.backward()
        loss_t.backward()
        opt_e.step()
        opt_t.step()
        assert loss_e.item() == pytest.approx(loss_t.item(), rel=1e-4)
        losses.append(loss_e.item())
    assert losses[-1] < losses[0]


@pytest.mark.skipif(not engine.cuda.is_available(), reason="no CUDA device or simulator")
def test_a_gru_gives_the_same_on_both_devices():
    engine.manual_seed(0)
    layer = nn.GRU(2, 3, bidirectional=True)
    x = engine.randn(3, 2, 2)
    out, h = layer(x)
    (out.sum() + h.sum()).backward()
    grads = [p.grad.numpy().copy() for p in layer.parameters()]
    layer.zero_grad()
    layer.to("cuda")
    out_gpu, h_gpu = layer(x.to("cuda"))
    (out_gpu.sum() + h_gpu.sum()).backward()
    assert_close(out_gpu.cpu(), out, 1e-5, 1e-6)
    for p, g in zip(layer.parameters(), grads):
        assert p.grad.device == out_gpu.device
        assert_close(p.grad.cpu(), g, 1e-5, 1e-6)
