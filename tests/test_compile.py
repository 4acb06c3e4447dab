"""engine.compile against eager numbagrad: every op, random graphs, guards, graph breaks,
modules and training, and each pass on its own."""
import collections
import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine import nn, optim
from engine.autograd.graph import queue_callback
from engine.compiler import GraphBreak, passes
from op_specs import SPECS, make_array

SETTINGS = settings(max_examples=int(os.environ.get("HYPOTHESIS_EXAMPLES", 25)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Ops a trace cannot capture, and why: their results depend on values in ways the graph
# cannot express yet. They run eagerly (with a warning) and still give eager's answers.
EXPECTED_BREAKS = {
    "Tensor.item()": {"max_unpool2d"},
    "Tensor.tolist()": {"repeat_interleave"},
    "a tensor computed outside the op table": {"sort", "sort_descending_dim0", "topk",
                                               "topk_smallest_dim0", "median_dim"},
    "boolean mask": {"index_mask", "masked_select"},
    "an in-place write": {"setitem", "setitem_scalar", "index_fill"},
}
BREAKING = {name: why for why, names in EXPECTED_BREAKS.items() for name in names}


def _inputs(spec, seed, dtype):
    rng = np.random.default_rng(seed)
    xs = []
    for arg in spec.args:
        array = make_array(arg, rng, dtype)
        t = engine.tensor(array)
        if arg.grad and array.dtype.kind == "f":
            t.requires_grad_(True)
        xs.append(t)
    return xs


def _listed(value):
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _grads(outs, xs):
    outs = [o for o in outs if isinstance(o, engine.Tensor) and o.requires_grad]
    wanted = [x for x in xs if x.requires_grad]
    if not outs or not wanted:
        return []
    total = sum((o * (k + 1.5)).sum() for k, o in enumerate(outs))
    return engine.autograd.grad(total, wanted, allow_unused=True)


def _same(a, b, rtol):
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=rtol,
                               atol=rtol * 1e-3, equal_nan=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_op_compiled_equals_eager(spec, dtype):
    """Traced on one input, replayed on another: values and gradients as eager's."""
    compiled = engine.compile(lambda *xs: spec.fn(engine, *xs))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled(*_inputs(spec, 1, dtype))
        xs = _inputs(spec, 2, dtype)
        outs = _listed(compiled(*xs))
    if spec.name in BREAKING:
        assert compiled.eager_reason and BREAKING[spec.name] in compiled.eager_reason
        assert any("runs eagerly" in str(w.message) for w in caught)
    else:
        assert compiled.eager_reason is None, compiled.eager_reason
        assert compiled.n_entries == 1
        assert any(isinstance(o, engine.Tensor) and o.grad_fn is not None
                   and "Compiled" in o.grad_fn.name() for o in outs) or not any(
            x.requires_grad for x in xs)
    twins = _inputs(spec, 2, dtype)
    expected = _listed(spec.fn(engine, *twins))
    rtol = 1e-5 if dtype == np.float32 else 1e-10
    for o, e in zip(outs, expected):
        _same(o, e, rtol)
    for g, e in zip(_grads(outs, xs), _grads(expected, twins)):
        _same(g, e, rtol * 10)


# ---- random graphs --------------------------------------------------------------------

UNARY = [lambda m, x: m.tanh(x), lambda m, x: m.exp(x.clamp(-3, 3)), lambda m, x: x.relu(),
         lambda m, x: m.sigmoid(x), lambda m, x: x * 0.5 + 1, lambda m, x: (x.abs() + 1).log(),
         lambda m, x: x.sum(-1, keepdim=True), lambda m, x: x.mean(0, keepdim=True),
         lambda m, x: m.softmax(x, -1), lambda m, x: x.amax(-1, keepdim=True)]
BINARY = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
          lambda a, b: a / (b.abs() + 1), lambda a, b: engine.maximum(a, b)]


@st.composite
def graphs(draw):
    """A program of 1-40 ops over two inputs of broadcastable shapes (size-1 dims too)."""
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    shape_b = draw(st.sampled_from([(rows, cols), (1, cols), (cols,), (rows, 1), ()]))
    steps = draw(st.lists(st.tuples(st.booleans(), st.integers(0, 9), st.integers(0, 99),
                                    st.integers(0, 99)), min_size=1, max_size=40))
    return (rows, cols), shape_b, steps


def _program(steps):
    def run(a, b):
        values = [a, b]
        for binary, op, i, j in steps:
            x, y = values[i % len(values)], values[j % len(values)]
            values.append(BINARY[op % len(BINARY)](x, y) if binary else UNARY[op](engine, x))
        return values[-1].sum() + values[-1].mean()
    return run


@SETTINGS
@given(graphs(), st.integers(0, 2 ** 31))
def test_random_graphs_compiled_equal_eager(program, seed):
    shape_a, shape_b, steps = program
    run = _program(steps)
    compiled = engine.compile(run, fullgraph=True)
    rng = np.random.default_rng(seed)
    for _ in range(2):  # the first call traces, the second replays
        a = engine.tensor(rng.standard_normal(shape_a), requires_grad=True)
        b = engine.tensor(rng.standard_normal(shape_b), requires_grad=True)
        out = compiled(a, b)
        grads = engine.autograd.grad(out, [a, b], allow_unused=True)
        ea, eb = a.detach().requires_grad_(), b.detach().requires_grad_()
        expected = run(ea, eb)
        _same(out, expected, 1e-10)
        for g, e in zip(grads, engine.autograd.grad(expected, [ea, eb], allow_unused=True)):
            if g is None or e is None:  # an input the program never used
                assert g is None or not g.abs().sum().item()
                continue
            _same(g, e, 1e-9)
    assert compiled.n_entries == 1


# ---- guards -----------------------------------------------------------------------------

def test_each_guarded_change_traces_again_and_says_why():
    calls = {"traced": 0}  # a dict counts by identity (a short list by content)

    def f(x, scale):
        calls["traced"] += 1
        return (x * scale).sum()

    compiled = engine.compile(f)
    x = engine.ones(2, 3)
    compiled(x, 2.0)
    compiled(engine.zeros(2, 3), 2.0)  # same guards: replayed, f not called
    assert calls["traced"] == 1
    changes = [(engine.ones(4, 3), 2.0), (engine.ones(4, 3, dtype=engine.float64), 2.0),
               (engine.ones(4, 3, dtype=engine.float64, requires_grad=True), 2.0),
               (engine.ones(4, 3, dtype=engine.float64, requires_grad=True), 3.0)]
    for args in changes:
        compiled(*args)
    with engine.no_grad():
        compiled(engine.ones(4, 3, dtype=engine.float64, requires_grad=True), 3.0)
    assert calls["traced"] == 6 and compiled.n_entries == 6
    reasons = [e for e in compiled.events if e.startswith("retrace")]
    assert "(2, 3)" in reasons[0] and "(4, 3)" in reasons[0]
    assert "float32" in reasons[1] and "float64" in reasons[1]
    assert "float64 on cpu -> tensor of shape (4, 3), float64 on cpu, requiring grad" in \
        reasons[2]
    assert "2.0 -> 3.0" in reasons[3]
    assert "grad mode changed from True to False" in reasons[-1]
    assert compiled(x, 2.0).item() == 12.0 and calls["traced"] == 6  # the first entry still serves


def test_a_tensor_copied_with_engine_tensor_is_the_calls_and_an_array_ends_the_trace():
    """engine.tensor(x) of an argument was kept as a constant: every replay returned the
    first call's values. A numpy array's values may change between calls too."""
    compiled = engine.compile(lambda x: engine.tensor(x, dtype=engine.float64) * 2)
    for value in (1.0, 0.0, 3.0):
        out = compiled(engine.ones(2) * value)
        assert out.tolist() == [2 * value] * 2 and out.dtype == engine.float64
    assert compiled.n_entries == 1
    array = np.ones(3, np.float32)
    with pytest.warns(UserWarning, match=r"engine.tensor\(\) of a numpy array"):
        engine.compile(lambda x: x + engine.tensor(array))(engine.ones(3))
    literal = engine.compile(lambda x: x + engine.tensor([1.0, 2.0]), fullgraph=True)
    assert literal(engine.ones(2)).tolist() == [2.0, 3.0]  # numbers alone: a constant


def test_a_captured_tensors_hooks_are_guarded():
    """A gradient hook on a parameter is traced with the backward: removing it (or adding
    one) after the trace must trace again (the replay kept doubling)."""
    w = engine.ones(2, requires_grad=True)
    handle = w.register_hook(lambda g: g * 2)

    def f(x):
        (w * x).sum().backward()
        grad, w.grad = w.grad.clone(), None
        return grad

    compiled, x = engine.compile(f), engine.ones(2)
    assert compiled(x).tolist() == compiled(x).tolist() == [2.0, 2.0]
    handle.remove()
    assert compiled(x).tolist() == [1.0, 1.0]
    w.register_hook(lambda g: g * 3)
    assert compiled(x).tolist() == [3.0, 3.0]
    assert compiled.n_entries == 3 and "gradient hooks" in compiled.events[-2]


def test_a_parameter_given_other_data_is_traced_again():
    """`.data = ...` (by hand, or model.double()) keeps the Parameter: the replay took
    the new array with the old graph's shapes and dtypes."""
    layer = nn.Linear(3, 2)
    compiled, x = engine.compile(lambda x: layer(x)), engine.ones(2, 3)
    compiled(x)
    layer.weight.data, layer.bias.data = engine.ones(4, 3), engine.zeros(4)
    assert compiled(x).tolist() == [[3.0] * 4] * 2
    layer.double()
    assert compiled(x.double()).dtype == engine.float64
    with pytest.raises(RuntimeError, match="same dtype"):  # as eagerly
        compiled(x)
    assert compiled.n_entries == 3


def test_results_that_are_inputs_or_constants_behave_as_eagerly():
    """An argument or captured tensor returned as it is comes back itself (with its
    gradient reaching it as a leaf's); a constant the function makes is a new tensor at
    each call (replays handed out the constant's own memory: an in-place change to one
    result showed in every later call's)."""
    w = nn.Parameter(engine.ones(2))
    passes = engine.compile(lambda x: (x * 2, x, w))
    x = engine.ones(2, requires_grad=True)
    for _ in range(3):
        x.grad = w.grad = None
        doubled, same, weight = passes(x)
        assert same is x and weight is w and x.is_leaf
        (doubled.sum() + 3 * same.sum() + weight.sum()).backward()
        assert x.grad.tolist() == [5.0, 5.0] and w.grad.tolist() == [1.0, 1.0]
    makes = engine.compile(lambda x: (engine.ones(2), x + 1, engine.ones(3) * 2))
    for _ in range(3):
        ones, _, twos = makes(engine.ones(2))
        assert ones.tolist() == [1.0, 1.0] and twos.tolist() == [2.0] * 3
        ones.add_(5)
        twos.add_(1)


def test_the_default_dtype_is_guarded():
    """A tensor the function makes takes the default dtype of the call, not the trace's."""
    compiled = engine.compile(lambda: engine.zeros(3) + 1)
    assert compiled().dtype == engine.float32
    engine.set_default_dtype(engine.float64)
    try:
        assert compiled().dtype == engine.float64
    finally:
        engine.set_default_dtype(engine.float32)
    assert compiled().dtype == engine.float32 and compiled.n_entries == 2
    assert "the default dtype changed from torch.float32 to torch.float64" in " ".join(
        compiled.events)


def test_a_module_retraces_when_a_parameter_is_replaced_or_it_changes_mode():
    engine.manual_seed(0)
    model = engine.compile(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)))
    x = engine.ones(2, 3)
    model.eval()
    first = model(x)
    np.testing.assert_allclose(model(x).detach().numpy(), first.detach().numpy())
    model[0].weight = nn.Parameter(engine.zeros(3, 3))
    np.testing.assert_allclose(model(x).detach().numpy(),
                               np.broadcast_to(model[0].bias.detach().numpy(), (2, 3)))
    model.train()
    model(x)
    events = " ".join(model.forward.events)
    assert events.count("retrace") == 2, events
    assert "the module's parameter 0 (in .parameters() order) is another tensor" in events
    assert "a submodule's training flag changed (train() / eval())" in events


def test_parameters_updated_in_place_are_seen_by_the_replay():
    model = nn.Linear(3, 1)
    compiled = engine.compile(nn.Linear(3, 1))
    compiled.load_state_dict(model.state_dict())
    x = engine.ones(1, 3)
    compiled(x)
    with engine.no_grad():
        compiled.weight.add_(1.0)
        model.weight.add_(1.0)
    np.testing.assert_allclose(compiled(x).detach().numpy(), model(x).detach().numpy())


# what the guard tests below rebind, as a program's globals
scale, weights, model, values = 2.0, engine.ones(3), None, [1.0, 2.0, 3.0]


def test_rebound_globals_and_closure_variables_trace_again():
    """Python ran the traced function's Python once: a replay kept the global tensor, the
    number and the closure variable it saw then, whatever they named now."""
    global scale, weights
    offset = engine.ones(3)

    def f(x):
        return x * weights * scale + offset

    compiled, x = engine.compile(f), engine.ones(3)
    for scale, weights, offset in [(2.0, engine.ones(3), offset),
                                   (2.0, engine.ones(3) * 4, offset),  # another tensor
                                   (3.0, weights, offset),
                                   (3.0, weights, engine.zeros(3))]:
        assert compiled(x).tolist() == f(x).tolist()
        assert compiled(x).tolist() == f(x).tolist()  # replayed
    reasons = [e for e in compiled.events if e.startswith("retrace")]
    assert reasons == ["retrace 1: weights changed: it is another tensor",
                       "retrace 2: scale changed: 2.0 -> 3.0",
                       "retrace 3: offset changed: it is another tensor"], reasons
    from_values = engine.compile(lambda x: x + engine.tensor(values))
    assert from_values(x).tolist() == [2.0, 3.0, 4.0]
    values[0] = 10.0  # a short list counts by content
    assert from_values(x).tolist() == [11.0, 3.0, 4.0]
    unrelated = engine.compile(lambda x: x * 2)  # names no global: nothing to guard
    unrelated(x)
    scale = 4.0
    unrelated(x)
    assert unrelated.n_entries == 1


def test_a_step_that_calls_a_global_model_follows_its_mode_layers_and_attributes():
    """model.eval(), a replaced layer, a dropout's new p: a compiled function calling a
    model it does not receive sees each (it kept training mode and the old layer)."""
    global model
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))

    def f(x):
        return model(x)

    compiled, x = engine.compile(f), engine.ones(2, 4)

    def check():
        engine.manual_seed(1)
        eager = f(x).tolist()
        engine.manual_seed(1)
        assert compiled(x).tolist() == eager

    check()
    model.eval()
    check()
    model[0] = nn.Linear(4, 4)
    check()
    model.train()
    check()  # the first entry again
    model[1].p = 0.2
    check()
    model = nn.Linear(4, 4)  # another model
    check()
    reasons = [e for e in compiled.events if e.startswith("retrace")]
    assert reasons[:2] == [
        "retrace 1: model: a submodule's training flag changed (train() / eval())",
        "retrace 2: model: the module's parameter 0 (in .parameters() order) is another "
        "tensor; a module whose parameters change each call (functional_call) is traced "
        "again at every call"], reasons
    assert "the attribute p of submodule 2 (in .modules() order) changed: 0.5 -> 0.2" in \
        reasons[3], reasons
    assert reasons[4] == "retrace 5: model changed: it is another module", reasons


def test_a_model_changed_through_its_tables_or_hooks_is_traced_again():
    """Module state is read again only after an assignment into some module (each
    table counts its changes): a layer deleted from a Sequential (its table changed
    directly) and a forward hook added after the first call are both seen."""
    global model
    model = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))
    compiled, x = engine.compile(lambda x: model(x)), engine.ones(1, 3)

    def check():
        assert compiled(x).tolist() == model(x).tolist()

    check()
    del model[1]
    check()
    model[0].register_forward_hook(lambda module, args, out: out * 2)
    check()
    check()
    assert compiled.n_entries == 3, compiled.events
    assert "has other forward hooks" in compiled.events[-2], compiled.events


def test_a_copied_or_unpickled_model_still_counts_its_changes():
    """Pickles hold the tables as plain dicts (a saved module names no private class);
    loaded or deep-copied, they count their changes again."""
    import copy
    import pickle

    global model
    original = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 3))
    assert b"_Table" not in pickle.dumps(original)
    for model in (copy.deepcopy(original), pickle.loads(pickle.dumps(original))):
        compiled, x = engine.compile(lambda x: model(x)), engine.ones(1, 3)
        compiled(x)
        del model[1]  # the Sequential's table changes directly
        assert compiled(x).tolist() == model(x).tolist() and compiled.n_entries == 2


def test_a_compiled_methods_self_and_a_captured_objects_attributes_are_guarded():
    """A method compiled with its object (bound, or given it as an argument) and a
    config object the function reaches: the attributes the code names count by value
    (the replay kept `self.scale` as traced)."""
    class Trainer:
        def __init__(self):
            self.scale, self.unread = 1.0, 0

        def step(self, x):
            return x * self.scale

    trainer, x = Trainer(), engine.ones(2)
    bound, unbound = engine.compile(trainer.step), engine.compile(Trainer.step)
    for scale in (1.0, 5.0):
        trainer.scale = scale
        assert bound(x).tolist() == unbound(trainer, x).tolist() == [scale] * 2
    trainer.unread += 1  # named by no code: no retrace
    bound(x)
    unbound(trainer, x)
    assert bound.n_entries == unbound.n_entries == 2
    assert bound.events[-2] == "retrace 1: self.scale changed: 1.0 -> 5.0"
    assert unbound.events[-2].endswith("argument.scale changed: 1.0 -> 5.0")

    class Config:
        pass

    config = Config()
    config.k = 2.0
    uses_config = engine.compile(lambda x: x * config.k)
    assert uses_config(x).tolist() == [2.0, 2.0]
    config.k = 3.0
    assert uses_config(x).tolist() == [3.0, 3.0]


def test_a_compiled_modules_attributes_read_by_forward_are_guarded():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear, self.scale, self.calls = nn.Linear(3, 3), 1.0, 0

        def forward(self, x):
            return self.linear(x) * self.scale

    compiled, x = engine.compile(Scaled()), engine.ones(2, 3)
    compiled(x)
    compiled.calls += 1  # read by no method: no retrace
    compiled(x)
    assert compiled.forward.n_entries == 1
    compiled.scale = 5.0
    np.testing.assert_allclose(compiled(x).detach().numpy(),
                               compiled.linear(x).detach().numpy() * 5.0)
    assert compiled.forward.events[-2] == ("retrace 1: the attribute scale of submodule 0 "
                                           "(in .modules() order) changed: 1.0 -> 5.0")


def test_after_eight_retraces_it_warns_once_and_runs_eagerly():
    compiled = engine.compile(lambda x: x * 2)
    for n in range(1, 9):
        compiled(engine.ones(n))
    with pytest.warns(UserWarning, match=r"runs eagerly because it was traced 8 times \(the "
                                         r"last because the arguments changed"):
        assert compiled(engine.ones(9)).sum().item() == 18
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled(engine.ones(10))  # no second warning


# ---- graph breaks -------------------------------------------------------------------------

def test_a_graph_break_warns_with_its_reason_and_line_and_runs_eagerly():
    def f(x):
        if x.sum().item() > 0:  # data-dependent control flow
            return x * 2
        return x * 3

    compiled = engine.compile(f)
    with pytest.warns(UserWarning, match=r"Tensor.item\(\) makes a Python number .* at "
                                         r".*test_compile.py:\d+"):
        assert compiled(engine.ones(2)).tolist() == [2.0, 2.0]
    assert compiled(-engine.ones(2)).tolist() == [-3.0, -3.0]  # eager: both branches right


def test_requires_grad_on_the_callers_tensor_ends_the_trace():
    """The gradient of a function with respect to the tensor it is given, the flag set
    inside: replays returned wrong gradients and left the caller's flag unset."""
    def input_gradient(x):
        x.requires_grad_()
        (x * x).sum().backward()
        return x.grad

    compiled = engine.compile(input_gradient)
    with pytest.warns(UserWarning, match=r"requires_grad_\(\) on a tensor the function did "
                                         r"not make"):
        compiled(engine.ones(2))
    for value in (2.0, 3.0):
        x = engine.ones(2) * value
        assert compiled(x).tolist() == [2 * value] * 2 and x.requires_grad
    made = engine.compile(lambda x: (engine.zeros(2).requires_grad_() * x).sum(),
                          fullgraph=True)  # a tensor it makes may change its flag
    assert made(engine.ones(2)).item() == 0.0


def test_vmap_and_checkpoint_inside_a_compiled_function():
    """Both looked at the random state through tensors; they now count draws. A
    checkpointed function that draws needs the state put back for its recompute, which a
    replay would not do: that ends the trace, and the gradients are eager's."""
    from engine.utils.checkpoint import checkpoint

    mapped = engine.compile(lambda x: engine.func.vmap(lambda r: r.exp().sum())(x),
                            fullgraph=True)
    x = engine.randn(3, 4)
    np.testing.assert_allclose(mapped(x).numpy(), x.exp().sum(1).numpy(), rtol=1e-6)
    engine.manual_seed(0)
    layer = nn.Linear(4, 4)

    def step(x, p):
        layer.zero_grad()
        checkpoint(lambda y: nn.functional.dropout(layer(y), p).tanh(), x,
                   use_reentrant=False).sum().backward()
        return layer.weight.grad.clone()

    for p, breaks in ((0.0, False), (0.5, True)):
        compiled = engine.compile(step)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for seed in range(3):
                x = engine.randn(3, 4, requires_grad=True)
                engine.manual_seed(seed)
                eager = step(x, p)
                engine.manual_seed(seed)
                assert compiled(x, p).tolist() == eager.tolist(), (p, seed)
        assert (compiled.eager_reason is not None) is breaks, compiled.eager_reason
        assert any("restoring the random state" in str(w.message) for w in caught) is breaks
    with pytest.raises(RuntimeError, match="randomness error mode"):
        engine.func.vmap(lambda r: r + engine.rand(()))(engine.ones(3))
    same = engine.func.vmap(lambda r: r + engine.rand(()), randomness="same")(engine.zeros(3))
    assert len(set(same.tolist())) == 1


def test_a_batch_fetched_inside_the_function_ends_the_trace():
    """next() on a loader's iterator ran once, at the trace: every replay summed the
    first batch again."""
    from engine.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(engine.arange(8.0).reshape(8, 1)), batch_size=2)
    batches = iter(loader)

    def first_column_sum():
        (x,) = next(batches)
        return x.sum()

    compiled = engine.compile(first_column_sum)
    with pytest.warns(UserWarning, match=r"next\(\) on a DataLoader's iterator"):
        sums = [compiled().item() for _ in range(4)]
    assert sums == [1.0, 5.0, 9.0, 13.0]
    with pytest.raises(GraphBreak, match="DataLoader"):
        engine.compile(lambda: sum(x.sum() for (x,) in loader), fullgraph=True)()


def test_fullgraph_raises_naming_the_op_and_the_line():
    def f(x):
        y = x * 2
        y[0] = 5.0
        return y

    line = f.__code__.co_firstlineno + 2
    with pytest.raises(GraphBreak, match=rf"cannot capture an in-place write into a tensor, at "
                                         rf".*test_compile.py:{line}"):
        engine.compile(f, fullgraph=True)(engine.ones(3))
    with pytest.raises(GraphBreak, match="random numbers drawn outside an op"):
        engine.compile(lambda x: x + engine.randn(3), fullgraph=True)(engine.ones(3))
    with pytest.raises(GraphBreak, match="a callback queued during backward"):
        p = nn.Parameter(engine.ones(3))
        p.register_hook(lambda g: queue_callback(lambda: None))  # traced through: its
        engine.compile(lambda: (p * 2).sum().backward(), fullgraph=True)()  # Python is not
    assert engine.tracing.TRACER[0] is None  # the tracer is gone after an error
    (p * 2).sum().backward()  # and backward's callback list with it: eager still works


def test_post_accumulate_hooks_and_their_callbacks_run_at_every_replay():
    """DistributedDataParallel's machinery, without MPI: each parameter's hook sees its
    finished gradient and the first queues a callback, which runs once at the end of
    each backward, after every hook; replays do all of it as eager calls do."""
    def run(compiler):
        engine.manual_seed(0)
        model, events, queued = _mlp(), [], []
        for name, p in model.named_parameters():
            def hook(p, name=name):
                events.append((name, p.grad.sum().item()))
                if not queued:
                    queued.append(True)
                    queue_callback(lambda: (events.append("end"), queued.clear()))
            p.register_post_accumulate_grad_hook(hook)
        opt = engine.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            model(x).sum().backward()
            opt.step()
        step = compiler(step)
        for i in range(4):
            step(engine.ones(2, 6) * (i - 1))
        return step, events

    _, eager = run(lambda f: f)
    step, compiled = run(engine.compile(fullgraph=True))
    assert step.n_entries == 1 and compiled.count("end") == eager.count("end") == 4
    assert [e if e == "end" else e[0] for e in compiled] == [
        e if e == "end" else e[0] for e in eager]
    assert [e[1] for e in compiled if e != "end"] == pytest.approx(
        [e[1] for e in eager if e != "end"], rel=1e-6)


def test_dropout_draws_new_numbers_on_every_replay():
    engine.manual_seed(0)
    compiled = engine.compile(lambda x: nn.functional.dropout(x, 0.5))
    masks = {tuple(compiled(engine.ones(64)).tolist()) for _ in range(4)}
    assert len(masks) == 4 and compiled.eager_reason is None


def draws_as_eager(device):
    """After manual_seed, each replay draws what the eager function draws, a dropout
    whose result goes unused included: manual_seed reseeds the generator the graph
    holds (it replaced it, and replays kept the old stream), and dead code keeps ops
    that draw (dropping one shifted every later draw)."""
    def f(x):
        nn.functional.dropout(x, 0.5)  # drawn, unused
        return nn.functional.dropout(x, 0.5)

    compiled, x = engine.compile(f), engine.ones(32, device=device)
    for seed in range(4):
        engine.manual_seed(seed)
        eager = f(x).tolist()
        engine.manual_seed(seed)
        assert compiled(x).tolist() == eager, seed
    assert compiled.n_entries == 1


def test_replays_draw_as_eager_after_manual_seed():
    draws_as_eager("cpu")


def test_seeding_inside_the_function_ends_the_trace():
    """The seed was set once, at the trace: every replay drew on from there."""
    def f(x):
        engine.manual_seed(0)
        return nn.functional.dropout(x, 0.5)

    compiled, x = engine.compile(f), engine.ones(16)
    with pytest.warns(UserWarning, match="seeding a generator"):
        assert compiled(x).tolist() == f(x).tolist()
    assert compiled(x).tolist() == f(x).tolist() == compiled(x).tolist()


# ---- modules and training -------------------------------------------------------------------

def test_a_compiled_module_keeps_its_parameters_state_dict_and_repr():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    names, text = list(model.state_dict()), repr(model)
    params = list(model.parameters())
    assert engine.compile(model) is model
    assert list(model.state_dict()) == names and repr(model) == text
    assert list(model.parameters()) == params


def _mlp():
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(),
                         nn.Linear(16, 4))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 4 * 4, 4))


def _train_step(model, opt):
    """A whole training step, as a user writes it (and compiles it)."""
    def step(x, y):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


@pytest.mark.parametrize("whole_step", [False, True], ids=["model", "whole_step"])
@pytest.mark.parametrize("make, shape", [(_mlp, (8, 6)), (_cnn, (8, 1, 8, 8))],
                         ids=["mlp", "cnn"])
def test_training_compiled_matches_eager_step_for_step(make, shape, whole_step):
    """Either the model is compiled (its backward one compiled node of eager autograd), or
    the whole step: forward, backward, Adam's update and zero_grad replayed as one."""
    engine.manual_seed(0)
    eager = make()
    compiled = make()
    compiled.load_state_dict(eager.state_dict())
    opts = [engine.optim.Adam(m.parameters(), lr=0.01) for m in (eager, compiled)]
    steps = [_train_step(eager, opts[0]), _train_step(compiled, opts[1])]
    if whole_step:
        steps[1] = engine.compile(steps[1], fullgraph=True)
    else:
        engine.compile(compiled)
    rng = np.random.default_rng(0)
    for step in range(100):
        x = engine.tensor(rng.standard_normal(shape), dtype=engine.float32)
        y = engine.tensor(rng.integers(0, 4, shape[0]))
        losses = [step_fn(x, y).item() for step_fn in steps]
        np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
        for p, q in zip(eager.parameters(), compiled.parameters()):
            np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-5,
                                       atol=1e-6)
            np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-5, atol=1e-6)
    fn = steps[1] if whole_step else compiled.forward
    assert fn.eager_reason is None and fn.n_entries == 1
    for p, q in zip(opts[0].state.values(), opts[1].state.values()):
        np.testing.assert_allclose(q["exp_avg_sq"].numpy(), p["exp_avg_sq"].numpy(), rtol=1e-5,
                                   atol=1e-9)
        assert q["step"].item() == p["step"].item() == 100


@pytest.mark.slow
@pytest.mark.parametrize("whole_step", [False, True], ids=["model", "whole_step"])
def test_char_gpt_trains_compiled_as_it_does_eagerly(whole_step):
    from engine.examples import char_gpt

    engine.manual_seed(0)
    eager = char_gpt.make_model(dropout=0.0)
    compiled = char_gpt.make_model(dropout=0.0)
    compiled.load_state_dict(eager.state_dict())
    opts = [engine.optim.AdamW(m.parameters(), lr=1e-3) for m in (eager, compiled)]

    def train_step(model, opt):
        def step(x, y):
            _, loss = model(x, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        return step

    steps = [train_step(eager, opts[0]), train_step(compiled, opts[1])]
    if whole_step:
        steps[1] = engine.compile(steps[1], fullgraph=True)
    else:
        engine.compile(compiled)
    engine.manual_seed(1)
    batches = [char_gpt.get_batch("train", 4) for _ in range(100)]
    for x, y in batches:
        for step_fn in steps:
            step_fn(x, y)
    for p, q in zip(eager.parameters(), compiled.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-5,
                                   atol=1e-6)
    assert (steps[1] if whole_step else compiled.forward).eager_reason is None


def _twins(make):
    """An eager and a compiled copy of the same function of fresh state."""
    return make(), make()


def test_gradients_accumulate_in_place_when_a_step_does_not_zero_them():
    def make():
        w = nn.Parameter(engine.tensor([1.0, 2.0, 3.0]))

        def f(x):
            loss = (w * x).tanh().sum()
            loss.backward()
            return w.grad.detach() * 1.0  # .grad read back: the sum so far
        return w, f

    (w0, f0), (w1, f1) = _twins(make)
    f1 = engine.compile(f1, fullgraph=True)
    held = None
    for n in range(4):
        x = engine.tensor([0.5, -1.0, 2.0]) * (n + 1)
        np.testing.assert_allclose(f1(x).numpy(), f0(x).numpy(), rtol=1e-6)
        np.testing.assert_allclose(w1.grad.numpy(), w0.grad.numpy(), rtol=1e-6)
        if n == 0:
            held = w1.grad  # eager autograd adds into this tensor from now on
    assert w1.grad is held and f1.n_entries == 1


def test_zero_grad_keeping_memory_and_a_scheduler_changing_the_rate():
    def make():
        engine.manual_seed(0)
        model = nn.Linear(3, 2)
        opt = engine.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        sched = engine.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)

        def step(x):
            model.zero_grad(set_to_none=False)
            model(x).pow(2).mean().backward()
            opt.step()
        return model, sched, step

    (m0, s0, f0), (m1, s1, f1) = _twins(make)
    f1 = engine.compile(f1, fullgraph=True)
    _steps_side_by_side(6, (m0, f0), (m1, f1), after=lambda n: (s0.step(), s1.step()))
    assert f1.n_entries == 1  # no retrace for the rate, nor for .grad kept from the first


def _steps_side_by_side(steps, eager, compiled, after=None):
    """Each (model, step) pair steps on the same inputs; after(n) runs after step n; then
    the parameters must agree."""
    (m0, f0), (m1, f1) = eager, compiled
    for n in range(steps):
        x = engine.ones(4, 3) * (n - 2.5)
        f0(x)
        f1(x)
        if after is not None:
            after(n)
        for p, q in zip(m0.parameters(), m1.parameters()):
            np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("kind", ["StepLR", "SequentialLR", "ChainedScheduler",
                                  "CosineAnnealingWarmRestarts"])
def test_a_scheduler_stepped_inside_a_compiled_step_steps_at_every_replay(kind):
    """Its Python ran once, at the trace: the rate then stayed at the first step's."""
    S = engine.optim.lr_scheduler

    def make():
        engine.manual_seed(0)
        model = nn.Linear(3, 2)
        opt = engine.optim.SGD(model.parameters(), lr=0.5)
        sched = {"StepLR": lambda: S.StepLR(opt, 1, gamma=0.5),
                 "SequentialLR": lambda: S.SequentialLR(
                     opt, [S.ConstantLR(opt, 0.5, total_iters=2), S.ExponentialLR(opt, 0.8)],
                     milestones=[2]),
                 "ChainedScheduler": lambda: S.ChainedScheduler(
                     [S.StepLR(opt, 2, gamma=0.5), S.ExponentialLR(opt, 0.9)]),
                 "CosineAnnealingWarmRestarts": lambda: S.CosineAnnealingWarmRestarts(
                     opt, T_0=2)}[kind]()

        def step(x):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
            sched.step()
        return model, opt, step

    (m0, o0, f0), (m1, o1, f1) = _twins(make)
    f1 = engine.compile(f1, fullgraph=True)

    def same_rate(n):
        assert o1.param_groups[0]["lr"] == o0.param_groups[0]["lr"], n

    _steps_side_by_side(5, (m0, f0), (m1, f1), after=same_rate)
    assert f1.n_entries == 1


def test_ops_before_and_after_an_update_are_not_merged_or_moved_across_it():
    def make():
        w = nn.Parameter(engine.tensor([1.0, -2.0, 0.5]))
        opt = engine.optim.SGD([w], lr=0.25)

        def f(x):
            before = (w * 2.0 + x).tanh()
            before.sum().backward()
            opt.step()
            after = (w * 2.0 + x).tanh()  # same ops, new weights
            opt.zero_grad()
            return before.detach(), after.detach()
        return f

    f0, f1 = _twins(make)
    f1 = engine.compile(f1, fullgraph=True)
    for n in range(3):
        x = engine.tensor([0.1, 0.2, 0.3]) * n
        for a, b in zip(f0(x), f1(x)):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6)


def test_gradient_clipping_inside_a_compiled_step_is_replayed():
    def make():
        engine.manual_seed(0)
        model = _mlp()
        opt = engine.optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 0.05)
            nn.utils.clip_grad_value_(model.parameters(), 0.01)
            opt.step()
            return loss
        return model, step

    (m0, f0), (m1, f1) = _twins(make)
    f1 = engine.compile(f1, fullgraph=True)
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = engine.tensor(rng.standard_normal((8, 6)), dtype=engine.float32)
        y = engine.tensor(rng.integers(0, 4, 8))
        np.testing.assert_allclose(f1(x, y).item(), f0(x, y).item(), rtol=1e-6)
        for p, q in zip(m0.parameters(), m1.parameters()):
            np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), rtol=1e-6)
            np.testing.assert_allclose(q.grad.numpy(), p.grad.numpy(), rtol=1e-6)
    assert "# clip_grad_norm_()" in f1.explain()
    w = nn.Parameter(engine.ones(2))
    w.grad = engine.ones(2)
    with pytest.raises(GraphBreak, match=r"a tensor returned by clip_grad_norm_\(\)"):
        engine.compile(lambda: nn.utils.clip_grad_norm_([w], 1.0) * 2, fullgraph=True)()


def test_a_step_reads_and_sets_grads_as_the_function_does():
    w = nn.Parameter(engine.tensor([1.0, 2.0]))

    def f():
        doubled = w.grad * 2  # the gradient as it is at each call
        w.grad = doubled
        return doubled

    compiled = engine.compile(f, fullgraph=True)
    w.grad = engine.tensor([1.0, 1.0])
    assert compiled().tolist() == [2.0, 2.0] and w.grad.tolist() == [2.0, 2.0]
    assert compiled().tolist() == [4.0, 4.0] and w.grad.tolist() == [4.0, 4.0]
    w.grad = engine.tensor([3.0, 0.0])
    assert compiled().tolist() == [6.0, 0.0] and w.grad.tolist() == [6.0, 0.0]
    assert compiled.n_entries == 1
    w.grad = None  # a guard: whether .grad was there
    with pytest.raises(TypeError):  # as eagerly: None * 2
        compiled()
    assert "whether a .grad was set" in compiled.explain()


def test_a_compiled_training_step_shows_its_effects_and_refuses_a_second_backward():
    model = nn.Linear(2, 1)
    opt = engine.optim.Adam(model.parameters())
    compiled = engine.compile(_train_step(model, opt))
    x, y = engine.ones(3, 2), engine.tensor([0, 0, 0])
    for _ in range(2):
        loss = compiled(x, y)
        assert loss.requires_grad
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            loss.backward()
    text = compiled.explain()
    for shown in ("# optimizer.zero_grad()", "# accumulate .grad", "# optimizer.step()"):
        assert shown in text


def test_compiled_backward_refuses_double_backward_and_stale_inputs():
    compiled = engine.compile(lambda x, w: (x * w).tanh().sum())
    w = engine.ones(3, requires_grad=True)
    compiled(engine.ones(3), w)
    out = compiled(engine.ones(3), w)
    with pytest.raises(RuntimeError, match="create_graph=True"):
        engine.autograd.grad(out, [w], create_graph=True)
    out = compiled(engine.ones(3), w)
    with engine.no_grad():
        w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()


# ---- passes, each alone ---------------------------------------------------------------------

def test_each_pass_on_its_own():
    def f(x):
        unused = x.exp()  # noqa: F841 - dead code
        a, b = x * 2, x * 2  # a common subexpression
        constant = engine.ones(3) * 4  # folded at compile time
        return a + b + constant

    compiled = engine.compile(f)
    compiled(engine.ones(3))
    sizes = dict(compiled.entries[next(iter(compiled.entries))][0].sizes)
    assert sizes["traced"] == 6
    assert sizes["common subexpressions"] == 5
    assert sizes["constants folded"] == 4
    assert sizes["dead code"] == 3
    # x * 2 is read twice (a + b after CSE), so it stays a kernel of its own; the two
    # additions fuse into one
    assert sizes["fused"] == 2
    assert compiled(engine.zeros(3) + 1).tolist() == [8.0, 8.0, 8.0]
    graph = compiled.graphs[0]
    assert passes.size(passes.dead_code(graph, [])) == 0


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("dims, keepdim", [(None, False), ((1,), False), ((0,), True),
                                           ((0, 2), False), ((-1,), True)])
def test_a_sum_absorbs_the_elementwise_chain_that_feeds_it(dims, keepdim, reduce):
    """The chain's values are summed as computed (one kernel, no stored intermediate),
    on contiguous and transposed inputs; a mean then divides the sums. Values and
    gradients as eager's (differentiated, tanh's result is saved for backward, so there
    the chain keeps its values): to the bit where columns are summed (dims before the
    last: the sum kernel adds them in order), where rows are (the last dims) the two
    kernels' vectorised orders of additions may differ in the last bit."""
    def f(x, y):
        chain = (x * y + 0.5).tanh() * 2.0
        method = getattr(chain, reduce)
        return method(keepdim=keepdim) if dims is None else method(dims, keepdim)

    compiled = engine.compile(f)
    for seed, transposed in ((0, False), (1, False), (2, True)):
        rng = np.random.default_rng(seed)
        x, y = (engine.tensor(rng.standard_normal((3, 4, 5))) for _ in range(2))
        if transposed:
            x = engine.tensor(rng.standard_normal((5, 4, 3))).permute(2, 1, 0)
        got, expected = compiled(x, y).numpy(), f(x, y).numpy()
        if dims in ((1,), (0,)):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert compiled.n_entries == 1
    source = compiled.explain().split("forward:")[1]
    assert re.findall(r"# (.*)", source) == [f"fused[mul+add+tanh+mul+{reduce}]"], source
    x = engine.tensor(np.linspace(-1, 1, 60).reshape(3, 4, 5), requires_grad=True)
    y = engine.ones(3, 4, 5)
    twin = x.detach().requires_grad_()
    grads = [engine.autograd.grad(fn(v, y).sum(), v)[0] for fn, v in
             ((engine.compile(f), x), (f, twin))]
    np.testing.assert_allclose(grads[0].numpy(), grads[1].numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduce, dims", [("sum", (0,)), ("mean", (1, 2)), ("sum", None)])
def test_a_group_whose_values_are_read_too_computes_their_sum_on_the_way(reduce, dims):
    """A bias gradient's pattern: a chain's values go to a product (through a transpose,
    a view) and to a sum over adjacent dims, with a write (a .grad) in between. The group
    keeps its values and sums them as it computes them (one kernel, the sum its extra
    array), as eager's kernels compute them, bit for bit."""
    w = engine.tensor(np.linspace(-1, 1, 20).reshape(5, 4), requires_grad=True)

    def f(x, y):
        chain = (x * y + 0.5).tanh()
        product = chain.reshape(-1, 5) @ engine.ones(5, 2, dtype=engine.float64)
        (product.sum() * w).sum().backward()  # a write between the group and the sum
        method = getattr(chain, reduce)
        return product.transpose(0, 1) * 2, (method() if dims is None else method(dims)) * 3

    compiled = engine.compile(f)
    for seed in range(2):
        rng = np.random.default_rng(seed)
        x, y = (engine.tensor(rng.standard_normal((3, 4, 5))) for _ in range(2))
        w.grad = None
        got = compiled(x, y)
        got_grad = w.grad.clone()
        w.grad = None
        want = f(x, y)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
        np.testing.assert_array_equal(got_grad.numpy(), w.grad.numpy())
    source = compiled.explain().split("forward:")[1]
    assert "= U" in source and f"fused[mul+add+tanh+{reduce}]" in source, source
    assert re.search(r"v\d+, x\d+ = U\d+\(.*fused\[mul\+add\+tanh\+", source), source


def test_a_sum_that_is_a_result_or_over_dims_apart_leaves_the_values_group_alone():
    def f(x):
        chain = x.exp() * 2
        return chain @ engine.ones(5, 1, dtype=engine.float64), chain.sum((0, 2)), chain.sum(1)

    compiled = engine.compile(f)
    x = engine.tensor(np.random.default_rng(0).standard_normal((3, 4, 5)))
    for a, b in zip(compiled(x), f(x)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    source = compiled.explain().split("forward:")[1]
    assert "fused[exp+mul]" in source and "+sum]" not in source, source


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_group_may_change_dtype_on_the_way(dtype):
    """Comparisons, `where` and conversions fuse with arithmetic: the mean's divisor of
    a loss (a comparison, a conversion, an addition, a division) is one kernel, each step
    rounded in its own dtype; values and gradients as eager's, bit for bit."""
    def f(total, g, x):
        divided = g / (total + (total == 0).to(total.dtype))
        mask = x > 0.5
        return divided * x.where(mask, 0.0) + mask.to(x.dtype) + (x * 3).long().to(x.dtype)

    compiled = engine.compile(f)
    rng = np.random.default_rng(0)
    for total in (0.0, 3.0, 7.0):
        args = (engine.tensor(np.array(total, dtype)), engine.tensor(np.array(2.0, dtype)),
                engine.tensor(rng.random((3, 4)).astype(dtype), requires_grad=True))
        twin = args[:2] + (args[2].detach().requires_grad_(),)
        got, want = compiled(*args), f(*twin)
        np.testing.assert_array_equal(got.detach().numpy(), want.detach().numpy())
        got.sum().backward()
        want.sum().backward()
        np.testing.assert_array_equal(args[2].grad.numpy(), twin[2].grad.numpy())
    source = compiled.explain().split("forward:")[1]
    assert "fused[eq+to_copy+add+div" in source, source
    # a float -> int64 conversion is not fused (numba and numpy may disagree past the
    # integers' range), nor is what reads it across the dtype change
    assert "# to_copy" in source, source


def test_a_program_of_one_dtype_keeps_its_text():
    """Programs of one dtype are written as before mixed ones existed, so the kernels
    numba cached for them on disk still match."""
    from kernels.cpu import fused

    text = fused.source([("mul", [("in", 0), 2.0]), ("tanh", [("step", 0)])], 1, np.float32)
    assert "@numba.vectorize(['float32(float32)'], cache=True)" in text
    assert "    t0 = np.float32(mul(x0, np.float32(2.0)))\n" in text
    assert "    t1 = np.float32(tanh(t0))\n" in text
    mixed = fused.source([("gt", [("in", 0), 0.5]), ("astype", [("step", 0)])], 1,
                         np.float32, (("float64",), ("bool", "float32"), ("float64", "bool")))
    assert "@numba.vectorize(['float32(float64)'], cache=True)" in mixed
    assert "    t0 = (gt(x0, np.float64(0.5)))\n    t1 = np.float32(t0)\n" in mixed


def test_the_memory_plan_reuses_dead_buffers_and_only_those():
    """y is read by two groups; it dies after the second (w's), and only then may a later
    group (q's) write into its buffer. Results (z), and values a view of which is
    returned (v), keep theirs."""
    def f(x, s):
        y = (x * 2.0).tanh()
        z = (y * 3.0).exp()
        v = (z * 0.5).sin()
        w = (v * v).cos() + y
        q = (w * s).sigmoid()
        return z, v.t(), q * q.sin()

    compiled = engine.compile(f)
    for seed in range(3):
        rng = np.random.default_rng(seed)
        x, s = (engine.tensor(rng.standard_normal((3, 4))) for _ in range(2))
        for got, want in zip(compiled(x, s), f(x, s)):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12)
    source = compiled.explain()
    reused = re.findall(r"(v\d+) = U\d+\(.*out=(v\d+)\)", source)
    assert reused, source
    returned = re.search(r"return \((.*)\)", source).group(1)
    for _, buffer in reused:
        assert buffer not in returned


def test_a_group_that_keeps_its_sum_writes_into_its_own_memory():
    """Found by the hypothesis graphs: a group computing its sum too (its values are a
    result as well) was handed a dead buffer (u's) to write into, which its kernel does
    not take; only plain groups are."""
    def f(a, b):
        u = (a.abs() + 1).log()
        p, q = u - b, u + a  # results too, so groups of their own: u is dead after them
        v = (p * q).tanh()
        return v, v.sum(0) + 1, p, q

    compiled = engine.compile(f)
    x, y = engine.ones(3, 4), engine.full((3, 4), 0.5)
    for _ in range(2):
        for got, want in zip(compiled(x, y), f(x, y)):
            np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert "+sum]" in compiled.explain()


def test_explain_shows_passes_guards_retraces_and_source():
    compiled = engine.compile(lambda x: (x * 2).sum())
    compiled(engine.ones(2))
    compiled(engine.ones(3))
    text = compiled.explain()
    assert "2 entries" in text and "retrace 1: the arguments changed" in text
    assert "passes: traced 2 -> common subexpressions 2" in text
    assert re.search(r"v\d+ = asarray\(U\d+\(a0, c0\)\)  # fused\[mul\+sum\]", text), text
    assert "guards: arguments" in text
    assert "what it reaches" not in text  # a lambda naming no global
    reaching = engine.compile(lambda x: x * scale)
    reaching(engine.ones(2))
    assert "what it reaches: scale" in reaching.explain()


def test_arguments_pytorch_takes_are_honoured_or_refused():
    with pytest.raises(ValueError, match="dynamic=True"):
        engine.compile(lambda x: x, dynamic=True)
    with pytest.raises(ValueError, match="backend='eager' is not available"):
        engine.compile(lambda x: x, backend="eager")
    with pytest.raises(ValueError, match="mode='max-autotune'"):
        engine.compile(lambda x: x, mode="max-autotune")
    assert engine.compile(abs, disable=True) is abs
    with pytest.raises(TypeError, match="expected a function or an nn.Module, got int"):
        engine.compile(3)

    @engine.compile(fullgraph=True)
    def double(x):
        return x * 2

    assert double(engine.ones(1)).item() == 2.0 and double.__name__ == "double"


def test_compiled_functions_on_cuda():
    if not engine.cuda.is_available():
        pytest.skip("CUDA (or its simulator) is not available")
    compiled = engine.compile(lambda x, w: (x @ w).relu().sum())
    w = engine.ones(3, 2, device="cuda", requires_grad=True)
    for k in range(2):
        x = engine.full((2, 3), k - 0.5, device="cuda")
        out = compiled(x, w)
        out.backward()
    assert out.device.type == "cuda" and compiled.eager_reason is None
    assert out.item() == 6.0 and w.grad.cpu().tolist() == [[1.0, 1.0]] * 3


def test_a_compiled_step_on_cuda_fuses_its_launches_and_matches_eager():
    """The tiny graph's training step: each fused group is one launch, and the step (with
    .grad accumulated and cleared) gives eager's gradients."""
    from numba import config

    if not engine.cuda.is_available() or not config.ENABLE_CUDASIM:
        pytest.skip("launches are counted on numba's CUDA simulator")
    from bench.compile import tiny
    from bench.launches import per_step

    def grads_of(compiler):
        a = engine.tensor(np.linspace(0.1, 1.0, 16), dtype=engine.float32,
                          requires_grad=True, device="cuda")
        b = engine.tensor(np.linspace(1.0, 2.0, 16), dtype=engine.float32,
                          requires_grad=True, device="cuda")

        def step():
            c = a * b
            for _ in range(3):
                c = (c + a).tanh() * b
            c.sum().backward()
            return a.grad.detach().clone(), b.grad.detach().clone()

        step = compiler(step) if compiler else step
        return [[g.cpu().numpy() for g in step()] for _ in range(2)]

    for eager, compiled in zip(grads_of(None), grads_of(engine.compile)):
        for e, c in zip(eager, compiled):
            np.testing.assert_allclose(c, e, rtol=1e-6)
    step = tiny(engine, engine.compile, device="cuda")
    compiled = per_step(step)
    fused = [n for n in step.graphs[0] if "members" in step.graphs[0].nodes[n]]
    assert compiled == len(fused) <= per_step(tiny(engine, None, device="cuda")) / 3


@pytest.mark.parametrize("device, blocks, variants", [
    ("cpu", 1, [(False, False), (True, False), (False, True)])] + ([
        ("cuda", 1, [(True, False)]), ("cuda", 3, [(False, False)])]  # the simulator is slow
        if engine.cuda.is_available() else []))
def test_a_classifiers_bias_gradient_is_summed_by_the_loss_gradients_kernel(
        monkeypatch, device, blocks, variants):
    """The last layer's bias gradient sums the cross-entropy backward's rows: that kernel
    sums them (on CUDA its last block, here with 1 and 3 blocks taking turns), bit for
    bit as the sum kernel; the values still go to the weight's product. Not when the sum
    is a result itself, nor past the size where one block would be slower than a launch."""
    from engine.compiler import epilogues
    from kernels.cuda import loss as cuda_loss

    monkeypatch.setattr(cuda_loss, "MAX_BLOCKS", blocks)
    rng = np.random.default_rng(2)
    x = engine.tensor(rng.standard_normal((6, 3)).astype(np.float32), device=device)
    target = engine.tensor([0, 3, 1, -100, 3, 2], device=device)

    def step(weight, bias, keepdim=False, returned=False):
        logits = engine.nn.functional.linear(x, weight, bias)
        g, = engine.autograd.grad(engine.nn.functional.cross_entropy(logits, target),
                                  logits, create_graph=False)
        total = g.sum(0, keepdim=keepdim)
        return (g.t() @ x, total * 2) + ((total,) if returned else ())

    weight, bias = (engine.tensor(rng.standard_normal(s).astype(np.float32), device=device,
                                  requires_grad=True) for s in ((4, 3), (4,)))

    def fused_names(compiled):
        return [compiled.graphs[0].nodes[n]["op"].op_name for n in compiled.graphs[0]
                if "members" in compiled.graphs[0].nodes[n]]

    for keepdim, returned in variants:
        compiled = engine.compile(lambda w, b: step(w, b, keepdim, returned))
        expected = [e.cpu().numpy() for e in step(weight, bias, keepdim, returned)]
        for _ in range(2):  # the second call replays
            for got, e in zip(compiled(weight, bias), expected):
                np.testing.assert_array_equal(got.cpu().numpy(), e)
        absorbed = any("cross_entropy_backward+sum]" in n for n in fused_names(compiled))
        assert absorbed is not returned, (keepdim, returned)
    if device == "cuda":
        return
    monkeypatch.setattr(epilogues, "COLUMN_SUM_LIMIT", 6 * 4 - 1)
    compiled = engine.compile(lambda w, b: step(w, b))
    compiled(weight, bias)
    assert not any("+sum]" in n for n in fused_names(compiled))


@pytest.mark.parametrize("device, blocks", [("cpu", 1)] + (
    [("cuda", 1), ("cuda", 3)] if engine.cuda.is_available() else []))
def test_a_training_steps_loss_computes_its_own_backward(monkeypatch, device, blocks):
    """In a step, the cross-entropy's backward (with the bias gradient's column sums, or
    without) is taken in by the loss: one launch on CUDA (its last block, here of 1 and
    3 taking turns, computes every gradient value), bit for bit eager's loss and
    gradients, for a mean and a sum, with class weights and ignored targets, and where
    every target is ignored. Not where the loss's gradient is made after the loss, nor
    for reduction='none'."""
    from bench.launches import Launches
    from kernels.cuda import loss as cuda_loss

    monkeypatch.setattr(cuda_loss, "MAX_BLOCKS", blocks)
    F = engine.nn.functional
    rng = np.random.default_rng(4)
    x = engine.tensor(rng.standard_normal((6, 3)).astype(np.float32), device=device)
    class_weight = engine.tensor(rng.uniform(0.5, 2, 4).astype(np.float32), device=device)
    layer = nn.Linear(3, 4).to(device)

    def step(target, reduction, biased=True, squared=False):
        loss = F.cross_entropy(F.linear(x, layer.weight, layer.bias if biased else None),
                               target, class_weight, reduction=reduction)
        (loss * loss if squared else loss.sum()).backward()
        return loss

    def names(compiled):
        graph = compiled.graphs[0]
        return [graph.nodes[n]["op"].op_name for n in graph if graph.nodes[n]["kind"] == "op"]

    targets = ([0, 3, -100, 1, 3, 2], [-100] * 6)
    cases = [(t, r, b, False) for t in targets for r in ("mean", "sum") for b in (True, False)]
    cases += [(targets[0], "mean", True, True), (targets[0], "none", True, False)]
    if device == "cuda":  # the simulator is slow: each path once
        cases = [cases[3]] if blocks == 1 else [cases[0]]
    for target, reduction, biased, squared in cases:
        target = engine.tensor(target, device=device)
        results = []
        for compiler in (None, engine.compile(fullgraph=True)):
            run = compiler(step) if compiler else step
            for _ in range(2):  # the second call replays
                layer.zero_grad()
                with Launches() as launches:
                    loss = run(target, reduction, biased, squared)
                results.append([t.detach().cpu().numpy().copy() for t in
                                (loss, layer.weight.grad) + ((layer.bias.grad,) if biased else ())])
        for got in results[1:]:
            for g, e in zip(got, results[0]):
                np.testing.assert_array_equal(g, e)
        taken = [n for n in names(run) if n.startswith("fused[nll_loss+cross_entropy_backward")]
        merged = reduction != "none" and not squared
        assert len(taken) == merged, (reduction, squared, names(run))
        if merged:
            assert taken[0].endswith("+sum]") == biased
        if merged and device == "cuda":  # the loss, 2 products (and their accumulations)
            assert launches.count == 3, launches.count


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if engine.cuda.is_available() else []))
def test_a_linear_layers_activation_is_the_products_epilogue(device):
    """relu (or any fused group of the product alone) after F.linear is applied by the
    product as it writes each value: one launch on CUDA, with or without a bias; the
    values are eager's, bit for bit. Not where something else reads the product."""
    from bench.launches import Launches

    F = engine.nn.functional
    rng = np.random.default_rng(3)
    x, w, b = (engine.tensor(rng.standard_normal(s).astype(np.float32), device=device)
               for s in ((5, 3), (4, 3), (4,)))
    cases = {"addmm+relu": lambda: F.relu(F.linear(x, w, b)),
             "mm+gelu": lambda: F.gelu(F.linear(x, w)),
             "addmm+sigmoid+tanh": lambda: F.linear(x, w, b).sigmoid().tanh(),
             None: lambda: (F.linear(x, w, b).relu(), F.linear(x, w, b) * 3)}
    for name, f in cases.items():
        compiled = engine.compile(f)
        expected = f()
        compiled()
        with Launches() as launches:
            got = compiled()
        for g, e in zip(*(t if isinstance(t, tuple) else (t,) for t in (got, expected))):
            np.testing.assert_array_equal(g.cpu().numpy(), e.cpu().numpy())
        ops = [compiled.graphs[0].nodes[n]["op"].op_name for n in compiled.graphs[0]
               if compiled.graphs[0].nodes[n]["kind"] == "op"]
        sizes = dict(compiled.entries[next(iter(compiled.entries))][0].sizes)
        if name is None:  # the product is read twice: computed once, then two groups
            assert not any("+" in op and "fused" not in op for op in ops), ops
            assert sizes["epilogues"] == sizes["fused"] == 3
        else:
            assert ops == [name], ops
            assert sizes["epilogues"] == sizes["fused"] - 1 == 1  # the pass on its own
            assert device == "cpu" or launches.count == 1, (name, launches.count)


def test_a_bce_step_is_captured_whole_and_its_replay_still_checks_the_range():
    """binary_cross_entropy checks that input and target lie in [0, 1] on the arrays, in
    its forward: tracing does not stop at a Python number (it did: `numbagrad run
    or_gate --compile` ran eagerly), and each replay checks its new values."""
    layer = nn.Linear(2, 1)
    compiled = engine.compile(lambda x, y: nn.functional.binary_cross_entropy(
        layer(x).sigmoid(), y), fullgraph=True)
    x = engine.tensor([[0.0, 1.0], [1.0, 1.0]])
    for target in ([[0.0], [1.0]], [[1.0], [0.5]]):
        y = engine.tensor(target)
        assert compiled(x, y).item() == nn.functional.binary_cross_entropy(
            layer(x).sigmoid(), y).item()
    assert compiled.n_entries == 1 and compiled.eager_reason is None
    with pytest.raises(RuntimeError, match=r"all elements of target should be between 0 and "
                                           r"1 \(got values from 0.0 to 2.0\)"):
        compiled(x, engine.tensor([[0.0], [2.0]]))


def test_a_step_with_batch_norm_is_captured_whole_with_its_running_statistics():
    """BatchNorm in training updates its running statistics and counter in place: each
    write is an effect the replay repeats into the buffer's memory (it used to stop the
    trace); with momentum=None (a cumulative average) its factor is a tensor division,
    not .item() (which stopped the trace). Five SGD steps with momentum match eager,
    buffers included."""
    import copy

    engine.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 6 * 6, 4), nn.BatchNorm1d(4, momentum=None))
    twin = copy.deepcopy(model)
    step, eager = (_train_step(m, engine.optim.SGD(m.parameters(), lr=0.1, momentum=0.9))
                   for m in (model, twin))
    x, y = engine.randn(6, 1, 8, 8), engine.randint(0, 4, (6,))
    compiled = engine.compile(step, fullgraph=True)
    for _ in range(5):  # (a fused row sum may round its last bit apart from eager's)
        assert compiled(x, y).item() == pytest.approx(eager(x, y).item(), rel=1e-6)
    assert compiled.n_entries == 1
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
    assert model[1].num_batches_tracked.item() == 5
    assert compiled.explain().count("write into a (3,) tensor") == 4  # mean, var: mul_, add_


def test_in_place_writes_a_replay_can_repeat_and_those_it_cannot():
    """A buffer written and then read: the replay writes the same memory and the read
    sees the new values. A write into an argument, into a value the function made, or
    into a view, would not be the same memory at the next call: it stops the trace."""
    buffer = engine.ones(3)

    def scaled(x):
        with engine.no_grad():
            buffer.mul_(2)
        return x + buffer

    compiled = engine.compile(scaled, fullgraph=True)
    for k in range(1, 4):
        assert compiled(engine.zeros(3)).tolist() == [2.0 ** k] * 3
    assert buffer.tolist() == [8.0] * 3 and compiled.n_entries == 1
    for write in (lambda x: x.add_(1), lambda x: (x * 2).add_(1),
                  lambda x: buffer[:2].add_(1) + x.sum()):
        with pytest.raises(GraphBreak, match="an in-place write into a tensor"):
            engine.compile(write, fullgraph=True)(engine.zeros(3))


def test_draw_shows_the_captured_graph_with_fused_kernels_as_clusters():
    compiled = engine.compile(lambda a: (a * 2 + 1).tanh().sum())
    with pytest.raises(ValueError, match="has not been called yet"):
        engine.viz.draw(compiled)
    compiled(engine.ones(3, requires_grad=True))
    source = engine.viz.draw(compiled).source
    assert source.count("subgraph cluster_") == 2  # forward's and backward's kernels
    assert 'label="fused kernel (3 ops)"' in source
    for op in ("mul", "add", "tanh", "tanh_backward", "sum"):
        assert f"label={op} " in source or f'label="{op}\n' in source, op
    model = engine.compile(nn.Linear(2, 2))
    model(engine.ones(1, 2))
    assert "argument 0" in engine.viz.draw(model).source
    layer = nn.Linear(2, 2)
    opt = engine.optim.SGD(layer.parameters(), lr=0.1)

    @engine.compile
    def step(x):  # a whole training step: its writes (effects) are drawn too
        opt.zero_grad()
        engine.nn.functional.relu(layer(x)).sum().backward()
        opt.step()

    step(engine.ones(3, 2))
    source = engine.viz.draw(step).source
    for action in ("optimizer.zero_grad()", "accumulate .grad", "optimizer.step()"):
        assert f'label="{action}"' in source, action
    assert 'label="fused kernel (3 ops)"' in source  # relu+threshold_backward+sum


def test_cli_compile_runs_an_example_compiled_with_eager_results():
    pytest.importorskip("sklearn")
    import subprocess
    import sys

    lines = []
    for extra in ([], ["--compile"]):
        done = subprocess.run([sys.executable, "-m", "engine", "run", "digits", "--quiet",
                               "--epochs", "2", *extra], capture_output=True, text=True,
                              timeout=300)
        assert done.returncode in (0, 3), done.stderr
        assert "runs eagerly" not in done.stderr, done.stderr
        lines.append(re.sub(r"time [\d.]+s", "", done.stdout))
    assert lines[0] == lines[1]


def test_top_level_modules_compile_themselves_under_the_cli_flag():
    from engine.compiler import COMPILE_TOP_LEVEL

    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    COMPILE_TOP_LEVEL[0] = True
    try:
        model(engine.ones(1, 2))
    finally:
        COMPILE_TOP_LEVEL[0] = False
    assert model.forward.n_entries == 1
    assert "forward" not in model[0].__dict__  # only the outermost module compiles


def test_a_replay_cannot_hand_a_kernel_an_out_of_range_index():
    """The replay skips the public functions' checks, so the backends check indices and
    class targets themselves before any numba kernel reads with them."""
    loss = engine.compile(lambda x, t: nn.functional.cross_entropy(x, t))
    x = engine.randn(4, 3)
    loss(x, engine.tensor([0, 1, 2, 0]))
    with pytest.raises(IndexError, match="index 7 is out of bounds for size 3"):
        loss(x, engine.tensor([0, 1, 7, 0]))
    from kernels import cpu

    with pytest.raises(RuntimeError, match="index -1 is out of bounds for dimension 1 with "
                                           "size 3"):
        cpu.gather(np.zeros((2, 3)), 1, np.array([[0], [-1]]))
    with pytest.raises(RuntimeError, match="index 3 is out of bounds for dimension 1 with "
                                           "size 3"):
        cpu.scatter_add(np.zeros((2, 3)), 1, np.array([[3], [0]]), np.ones((2, 1)))
    with pytest.raises(IndexError, match="cross_entropy: index 5"):
        cpu.cross_entropy_backward_rows(np.ones(2), np.zeros((2, 3)), np.array([5, 0]),
                                        np.ones(3), -100)
    losses, _ = cpu.cross_entropy_rows(np.zeros((2, 3)), np.array([-100, 2]), np.ones(3), -100)
    assert losses[0] == 0.0  # ignore_index is not out of range


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if engine.cuda.is_available() else []))
def test_the_cross_entropy_kernels_refuse_arrays_that_do_not_fit_the_logits(device):
    """Each row reads its target, gradient and class weight unchecked: too few of any is
    refused before a kernel runs, in every entry point."""
    K = engine.ones(1, device=device)._backend

    def arrays(*shapes):
        return [engine.zeros(s, dtype=engine.int64 if k == 1 else engine.float32,
                             device=device)._data for k, s in enumerate(shapes)]

    calls = [lambda x, t, w, g: K.cross_entropy_rows(x, t, w, -100),
             lambda x, t, w, g: K.cross_entropy_reduced(x, t, w, -100, True),
             lambda x, t, w, g: K.cross_entropy_backward_rows(g, x, t, w, -100),
             lambda x, t, w, g: K.cross_entropy_and_grad(g, x, t, w, -100, True, True)]
    for shapes in [((4, 3), (3,), (3,), (4,)), ((4, 3), (4,), (2,), (4,))]:
        for call in calls:
            with pytest.raises(ValueError, match=r"cross_entropy: expected 4 targets, 3 class "
                                                 r"weights \(and 4 gradients or one, and one total "
                                                 r"weight\) for logits of "
                                                 r"shape \(4, 3\)"):
                call(*arrays(*shapes))
    with pytest.raises(ValueError, match=r"got shapes \(4,\), \(3,\) and \(1,\)"):
        calls[2](*arrays((4, 3), (4,), (3,), (1,)))
    x, t, w, g, total = arrays((4, 3), (4,), (3,), (), (2,))
    with pytest.raises(ValueError, match=r"got shapes \(4,\), \(3,\) and \(\), \(2,\)"):
        K.cross_entropy_backward_rows(g, x, t, w, -100, total)  # the mean's total weight
    total = arrays((4, 3), (4,), (3,), (), ())[-1]
    assert K.cross_entropy_backward_rows(g, x, t, w, -100, total).shape == (4, 3)
    beyond = engine.tensor([0, 1, 3, 2], device=device)._data  # class 3 of 3
    with pytest.raises(IndexError, match="cross_entropy: index 3 is out of bounds for size 3"):
        K.cross_entropy_and_grad(g, x, beyond, w, -100, True, True)
    assert K.cross_entropy_and_grad(g, x, t, w, -100, True, True)[2].shape == (4, 3)


def test_a_compiled_function_inside_another_trace_is_inlined():
    """Its ops join the outer graph (it ended the outer trace: a compiled model inside a
    compiled training step ran eagerly), and called alone it still compiles."""
    inner = engine.compile(lambda x: x * 2)
    outer = engine.compile(lambda x: inner(x) + 1, fullgraph=True)
    for _ in range(3):
        assert outer(engine.ones(2)).tolist() == [3.0, 3.0]
    assert outer.n_entries == 1 and not inner.entries
    ops = [outer.graphs[0].nodes[n]["op"].op_name for n in outer.graphs[0]
           if outer.graphs[0].nodes[n]["kind"] == "op"]
    assert "mul" in " ".join(ops), ops
    assert inner(engine.ones(2)).tolist() == [2.0, 2.0] and inner.n_entries == 1
    model = engine.compile(nn.Linear(3, 2))
    opt = optim.SGD(model.parameters(), lr=0.1)

    @engine.compile(fullgraph=True)
    def step(x):
        opt.zero_grad()
        model(x).sum().backward()
        opt.step()

    reference = nn.Linear(3, 2)
    reference.load_state_dict(model.state_dict())
    ref_opt = optim.SGD(reference.parameters(), lr=0.1)
    for i in range(3):
        step(engine.ones(4, 3) * i)
        ref_opt.zero_grad()
        reference(engine.ones(4, 3) * i).sum().backward()
        ref_opt.step()
    np.testing.assert_allclose(model.weight.detach().numpy(), reference.weight.detach().numpy(),
                               rtol=1e-6)
    assert step.n_entries == 1
    fresh = engine.compile(lambda x: x.exp())
    mapped = engine.func.vmap(lambda v: fresh(v) * 2)(engine.zeros(3, 2))  # vmap loops
    assert mapped.tolist() == [[2.0, 2.0]] * 3


def test_torch_compilers_helpers_reset_disable_and_is_compiling():
    seen = collections.deque()  # counted by identity (a short list by content)

    def f(x):
        seen.append(engine.compiler.is_compiling())
        return x * 2

    compiled = engine.compile(f)
    compiled(engine.ones(2))
    compiled(engine.ones(2))
    assert list(seen) == [True] and not engine.compiler.is_compiling()
    engine.compiler.reset()
    assert compiled.n_entries == 0 and compiled.events == []
    assert compiled(engine.ones(2)).tolist() == [2.0, 2.0] and list(seen) == [True, True]

    @engine.compiler.disable(reason="it logs")
    def log(x):
        seen.append("logged")
        return x

    uses_log = engine.compile(lambda x: log(x) + 1)
    with pytest.warns(UserWarning, match=r"cannot be captured: .*log, marked "
                                         r"engine.compiler.disable \(it logs\)"):
        assert uses_log(engine.ones(1)).tolist() == [2.0]
    assert uses_log(engine.ones(1)).tolist() == [2.0] and list(seen)[-2:] == ["logged"] * 2
    with pytest.raises(engine.compiler.GraphBreak, match="marked engine.compiler.disable"):
        engine.compile(lambda x: log(x), fullgraph=True)(engine.ones(1))
    assert log.__name__ == "log" and engine.compiler.disable(log) is not log
    with pytest.raises(ValueError, match="recursive=False"):
        engine.compiler.disable(log, recursive=False)


def test_a_fused_sum_refuses_inputs_of_another_shape_before_its_kernel_reads_them():
    """A parameter whose memory was replaced behind the guards' back (`.data = ...`) must
    not send the generated sum kernel past an array's end."""
    from kernels.cpu import fused

    run = fused.sum_kernel([("mul", [("in", 0), ("in", 1)])], 2, np.float64, (0, 1), False,
                           frozenset())
    assert run(np.ones((2, 3)), np.full((2, 3), 2.0)) == 12.0
    with pytest.raises(ValueError, match=r"input 1 is float64 of shape \(1, 3\), the program "
                                         r"needs float64 of shape \(2, 3\)"):
        run(np.ones((2, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="input 0 is float32"):
        run(np.ones((2, 3), np.float32), np.ones((2, 3)))
