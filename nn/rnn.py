"""Recurrent layers: RNN, LSTM, GRU and their single-step cells, over engine ops.

Each time step is a few engine ops (two products, the gate nonlinearities), so the
graph records the unrolled sequence and backward runs through time with no formula
of its own. The input's product with the input weights is one matrix product over
all time steps at once; only the hidden state's product runs step by step. Parameter
names, shapes, order and initialisation are PyTorch's, so state dicts load either way.
"""
import math
import warnings

import engine

from . import functional as F
from . import init
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _rnn_step(nonlinearity):
    def step(x_part, h, w_hh, b_hh):
        pre = x_part + F.linear(h, w_hh, b_hh)
        return engine.tanh(pre) if nonlinearity == "tanh" else F.relu(pre)

    return step


def _lstm_step(x_part, state, w_hh, b_hh):
    """Gates in PyTorch's order: input, forget, cell, output."""
    h, c = state
    i, f, g, o = (x_part + F.linear(h, w_hh, b_hh)).chunk(4, 1)
    c = engine.sigmoid(f) * c + engine.sigmoid(i) * engine.tanh(g)
    return engine.sigmoid(o) * engine.tanh(c), c


def _gru_step(x_part, h, w_hh, b_hh):
    """Gates in PyTorch's order: reset, update, new; the reset gate scales the hidden
    state's product, bias included, before it joins the input's."""
    x_r, x_z, x_n = x_part.chunk(3, 1)
    h_r, h_z, h_n = F.linear(h, w_hh, b_hh).chunk(3, 1)
    r = engine.sigmoid(x_r + h_r)
    z = engine.sigmoid(x_z + h_z)
    n = engine.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


def _step_for(mode):
    if mode == "LSTM":
        return _lstm_step
    if mode == "GRU":
        return _gru_step
    return _rnn_step("tanh" if mode == "RNN_TANH" else "relu")


def _uniform_init(module, hidden_size):
    bound = 1 / math.sqrt(hidden_size) if hidden_size > 0 else 0
    for p in module.parameters():
        init.uniform_(p, -bound, bound)


class RNNBase(Module):
    """The stacked, optionally bidirectional recurrence shared by RNN, LSTM and GRU."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 device=None, dtype=None):
        super().__init__()
        name = type(self).__name__
        if proj_size:
            raise ValueError(f"{name}: proj_size is not supported")
        if not 0 <= dropout <= 1:
            raise ValueError(f"dropout should be a number in range [0, 1] representing the "
                             f"probability of an element being zeroed, got {dropout}")
        if dropout and num_layers == 1:
            warnings.warn(f"{name}: dropout acts between stacked layers, so dropout={dropout} "
                          f"with num_layers=1 does nothing", UserWarning, stacklevel=3)
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, 0
        gates = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        for layer in range(num_layers):
            width = input_size if layer == 0 else hidden_size * directions
            for suffix in [f"_l{layer}", f"_l{layer}_reverse"][:directions]:
                shapes = [("weight_ih", (gates, width)), ("weight_hh", (gates, hidden_size))]
                if bias:
                    shapes += [("bias_ih", (gates,)), ("bias_hh", (gates,))]
                for param, shape in shapes:
                    setattr(self, param + suffix,
                            Parameter(engine.empty(*shape, dtype=dtype, device=device)))
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_init(self, self.hidden_size)

    def _weights(self, layer, reverse):
        suffix = f"_l{layer}" + ("_reverse" if reverse else "")
        get = lambda name: getattr(self, name + suffix, None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def flatten_parameters(self):
        """PyTorch packs the weights into one block for cuDNN here; numbagrad has no
        cuDNN, and its weights need no packing, so there is nothing to do."""

    def forward(self, input, hx=None):
        name = type(self).__name__
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if not isinstance(input, engine.Tensor):
            raise TypeError(f"{name}: expected a Tensor or a PackedSequence input, got "
                            f"{type(input).__name__}")
        if input.dim() not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.dim()}D "
                             f"instead")
        batched = input.dim() == 3
        x = input if batched else input.unsqueeze(1)
        if batched and self.batch_first:
            x = x.transpose(0, 1)
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {x.shape[-1]}")
        if x.shape[0] == 0:
            raise RuntimeError(f"{name}: expected a sequence of length at least 1, got input "
                               f"of shape {tuple(input.shape)}")
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, x.shape[1], self.hidden_size)
        states = self._initial_states(hx, x, batched, expected)
        step = _step_for(self.mode)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for reverse in range(directions):
                index = layer * directions + reverse
                state = tuple(s[index] for s in states)
                out, last = self._run(x, step, state, self._weights(layer, reverse), reverse)
                outputs.append(out)
                finals.append(last)
            x = engine.cat(outputs, 2) if directions == 2 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        output = x.transpose(0, 1) if batched and self.batch_first else x
        hidden = [engine.stack([f[k] for f in finals]) for k in range(len(states))]
        if not batched:
            output, hidden = output.squeeze(1), [h.squeeze(1) for h in hidden]
        return output, (tuple(hidden) if self.mode == "LSTM" else hidden[0])

    def _forward_packed(self, packed, hx):
        """The same layers over a PackedSequence: at step t only the first batch_sizes[t]
        sequences (the longest ones) advance; the others keep their final state."""
        data, sizes = packed.data, [int(n) for n in packed.batch_sizes.tolist()]
        if data.dim() != 2 or data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {data.shape[-1]}")
        directions = 2 if self.bidirectional else 1
        expected = (self.num_layers * directions, sizes[0], self.hidden_size)
        order = packed.sorted_indices
        if hx is not None and order is not None:  # given in the batch's order: sort it too
            hx = tuple(h.index_select(1, order) for h in hx) if self.mode == "LSTM" else \
                hx.index_select(1, order)
        states = self._initial_states(hx, data.unsqueeze(1), True, expected)
        step = _step_for(self.mode)
        finals = []
        for layer in range(self.num_layers):
            outputs = []
            for reverse in range(directions):
                state = tuple(st[layer * directions + reverse] for st in states)
                out, last = _run_packed(data, sizes, step, state,
                                        self._weights(layer, reverse), reverse)
                outputs.append(out)
                finals.append(last)
            data = engine.cat(outputs, 1) if directions == 2 else outputs[0]
            if self.dropout and self.training and layer < self.num_layers - 1:
                data = F.dropout(data, self.dropout, True)
        hidden = [engine.stack([f[k] for f in finals]) for k in range(len(states))]
        if packed.unsorted_indices is not None:
            hidden = [h.index_select(1, packed.unsorted_indices) for h in hidden]
        output = PackedSequence(data, packed.batch_sizes, packed.sorted_indices,
                                packed.unsorted_indices)
        return output, (tuple(hidden) if self.mode == "LSTM" else hidden[0])

    def _initial_states(self, hx, x, batched, expected):
        """(h0,) or (h0, c0), each (layers * directions, batch, hidden)."""
        count = 2 if self.mode == "LSTM" else 1
        if hx is None:
            zeros = engine.zeros(*expected, dtype=x.dtype, device=x.device)
            return (zeros,) * count
        given = tuple(hx) if self.mode == "LSTM" else (hx,)
        if len(given) != count:
            raise RuntimeError(f"{type(self).__name__}: expected hx as a tuple (h0, c0)")
        states = []
        for k, h in enumerate(given):
            if h.dim() != (3 if batched else 2):
                raise RuntimeError(f"For {'' if batched else 'un'}batched "
                                   f"{3 if batched else 2}-D input, hx should also be "
                                   f"{3 if batched else 2}-D but got {h.dim()}-D tensor")
            h = h if batched else h.unsqueeze(1)
            if tuple(h.shape) != expected:
                what = f"hidden[{k}]" if self.mode == "LSTM" else "hidden"
                raise RuntimeError(f"Expected {what} size {expected}, got {list(h.shape)}")
            states.append(h)
        return tuple(states)

    @staticmethod
    def _run(x, step, state, weights, reverse):
        """One direction of one layer over the whole sequence: (outputs, final state)."""
        w_ih, w_hh, b_ih, b_hh = weights
        length, batch = x.shape[:2]
        x_parts = F.linear(x.reshape(length * batch, -1), w_ih, b_ih).reshape(length, batch,
                                                                               -1)
        state = state if len(state) == 2 else state[0]
        outputs = [None] * length
        for t in (range(length - 1, -1, -1) if reverse else range(length)):
            state = step(x_parts[t], state, w_hh, b_hh)
            outputs[t] = state[0] if isinstance(state, tuple) else state
        final = state if isinstance(state, tuple) else (state,)
        return engine.stack(outputs), final

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


def _run_packed(data, sizes, step, state, weights, reverse):
    """One direction of one layer over packed data: (packed outputs, final state).

    Forwards, the running rows shrink to the first sizes[t]; the rows that stop keep the
    state they stopped with. Backwards, rows join as t reaches their last step, starting
    from their initial state."""
    w_ih, w_hh, b_ih, b_hh = weights
    parts = F.linear(data, w_ih, b_ih)
    starts = [0]
    for n in sizes:
        starts.append(starts[-1] + n)
    initial = state
    outputs = [None] * len(sizes)
    running = sizes[-1] if reverse else sizes[0]
    if reverse:
        state = tuple(s[:running] for s in initial)
    for t in (range(len(sizes) - 1, -1, -1) if reverse else range(len(sizes))):
        n = sizes[t]
        if reverse and n > running:  # longer sequences join at their last step
            state = tuple(engine.cat([s, s0[running:n]]) for s, s0 in zip(state, initial))
        active = tuple(s[:n] for s in state)
        new = step(parts[starts[t]:starts[t + 1]], active if len(active) == 2 else active[0],
                   w_hh, b_hh)
        new = new if isinstance(new, tuple) else (new,)
        outputs[t] = new[0]
        state = new if reverse else tuple(engine.cat([a, s[n:]]) if n < s.shape[0] else a
                                          for a, s in zip(new, state))
        running = n
    return engine.cat(outputs), state


class RNN(RNNBase):
    """h_t = tanh (or relu)(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory; returns output, (h_n, c_n)."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """Gated recurrent unit."""

    def __init__(self, *args, **kwargs):
        super().__init__("GRU", *args, **kwargs)


class _Cell(Module):
    """One time step of the recurrence, for loops written by hand."""

    def __init__(self, mode, input_size, hidden_size, bias, device, dtype):
        super().__init__()
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.bias = bias
        gates = _GATES[mode] * hidden_size
        shapes = [("weight_ih", (gates, input_size)), ("weight_hh", (gates, hidden_size))]
        for param, shape in shapes + ([("bias_ih", (gates,)), ("bias_hh", (gates,))]
                                      if bias else []):
            setattr(self, param, Parameter(engine.empty(*shape, dtype=dtype, device=device)))
        if not bias:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self):
        _uniform_init(self, self.hidden_size)

    def forward(self, input, hx=None):
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             f"instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.shape[-1]} "
                               f"expected {self.input_size}")
        batched = input.dim() == 2
        x = input if batched else input.unsqueeze(0)
        if hx is None:
            zeros = engine.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            hx = (zeros, zeros) if self.mode == "LSTM" else zeros
        elif not batched:
            hx = tuple(h.unsqueeze(0) for h in hx) if self.mode == "LSTM" else hx.unsqueeze(0)
        out = _step_for(self.mode)(F.linear(x, self.weight_ih, self.bias_ih), hx,
                                   self.weight_hh, self.bias_hh)
        if batched:
            return out
        return tuple(h.squeeze(0) for h in out) if self.mode == "LSTM" else out.squeeze(0)

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(_Cell):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None,
                 dtype=None):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity


class LSTMCell(_Cell):
    """Returns (h', c')."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("LSTM", input_size, hidden_size, bias, device, dtype)


class GRUCell(_Cell):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__("GRU", input_size, hidden_size, bias, device, dtype)
