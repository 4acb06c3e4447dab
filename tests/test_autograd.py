"""Autograd behaviour beyond single ops: graph walks, accumulation, hooks, higher order,
custom Functions, anomaly detection, in-place checks, and the errors users meet."""
import numpy as np
import pytest

import engine
from engine.autograd import Function
from conftest import assert_close, needs_torch, torch


def leaf(*values, dtype=engine.float64):
    return engine.tensor(list(values), dtype=dtype, requires_grad=True)


def test_gradients_accumulate_across_backward_calls():
    x = leaf(1.0, 2.0)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    assert x.grad.tolist() == [3 + 2, 3 + 4]


def test_add_gives_each_leaf_its_own_gradient_memory():
    a, b = leaf(1.0), leaf(2.0)
    (a + b).sum().backward()
    a.grad.zero_()
    assert b.grad.tolist() == [1.0], "a.grad and b.grad must not share memory"


def test_user_gradient_is_not_aliased_into_grad():
    x = leaf(1.0, 2.0)
    g = engine.tensor([1.0, 1.0], dtype=engine.float64)
    (x * 1).backward(g)
    x.grad.add_(5)
    assert g.tolist() == [1.0, 1.0]


def test_fan_out_sums_gradients():
    x = leaf(2.0)
    y = x * x
    (y + y * 3 + y.exp()).backward()
    assert_close(x.grad, [(1 + 3 + np.exp(4.0)) * 2 * 2.0])


def test_ten_thousand_op_chain_has_no_recursion_limit():
    x = leaf(1.0)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert_close(x.grad, [1.0001 ** 10_000], rtol=1e-9)


def test_backward_twice_needs_retain_graph():
    x = leaf(1.0, 2.0)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    assert_close(x.grad, 2 * (np.exp([1.0, 2.0]) * (1 + np.array([1.0, 2.0]))))


def test_non_scalar_backward_needs_a_gradient():
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match=r"scalar outputs \(the output has shape \(2,\)\)"):
        (x * 2).backward()
    assert x.grad is None


def test_backward_of_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        engine.ones(3).sum().backward()


def test_gradient_shape_mismatch_names_both_shapes():
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match=r"shape of \(3,\).*shape of \(2,\)"):
        (x * 2).backward(engine.ones(3, dtype=engine.float64))


def test_saved_tensor_modified_in_place_is_detected():
    x = leaf(1.0, 2.0)
    y = x * 2
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def _alias_writes():
    """(loss, write) pairs: loss saved a tensor; write changes it through some alias."""
    def view_made_before_saving(y):
        early = y[0:1]
        return (y * y).sum(), lambda: early.mul_(2)

    def view_made_after_saving(y):
        loss = (y * y).sum()
        return loss, lambda: y[1:].mul_(2)

    def detached_alias(y):
        loss = (y * y).sum()
        return loss, lambda: y.detach().mul_(2)

    def saved_output(y):
        t = y.tanh()  # tanh saves its result
        return t.sum(), lambda: t.mul_(2)

    return [view_made_before_saving, view_made_after_saving, detached_alias, saved_output]


@pytest.mark.parametrize("case", _alias_writes(), ids=lambda f: f.__name__)
def test_write_through_any_alias_of_a_saved_tensor_is_detected(case):
    # Version counters are made on first need; every alias must still share one.
    x = leaf(1.0, 2.0)
    loss, write = case(x * 2)
    with engine.no_grad():  # a write autograd does not see; only the counter tells
        write()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_inplace_on_leaf_requiring_grad_is_refused_and_changes_nothing():
    x = leaf(1.0, 2.0)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    assert x.tolist() == [1.0, 2.0]
    with engine.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0, 3.0]


def test_inplace_ops_on_non_leaves_are_differentiable():
    x = leaf(1.0, 2.0)
    y = x * 2
    y.mul_(3)
    y.add_(x)
    y[0] = 0.0
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 7.0]
    assert y.grad_fn.name() == "torch::autograd::CopySlices"


def test_version_counter_is_shared_with_views():
    x = engine.zeros(4)
    v = x[1:3]
    before = x._version.value
    v.fill_(1)
    assert x.tolist() == [0, 1, 1, 0]
    assert x._version.value == before + 1


def test_create_graph_gives_second_derivatives():
    x = leaf(0.5, -1.0)
    y = (x ** 3).sum()
    (g,) = engine.autograd.grad(y, x, create_graph=True)
    assert_close(g, 3 * np.array([0.5, -1.0]) ** 2)
    (h,) = engine.autograd.grad(g.sum(), x)
    assert_close(h, 6 * np.array([0.5, -1.0]))


def test_backward_with_create_graph_then_grad_of_grad():
    x = leaf(2.0)
    y = x.sin() * x
    y.backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    x.grad = None
    first.backward()
    assert_close(x.grad, [2 * np.cos(2.0) - 2.0 * np.sin(2.0)])


def test_autograd_grad_leaves_grad_untouched_and_checks_usage():
    x, unused = leaf(1.0), leaf(2.0)
    (g,) = engine.autograd.grad((x * 4).sum(), [x])
    assert g.tolist() == [4.0] and x.grad is None
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        engine.autograd.grad((x * 4).sum(), [x, unused])
    g1, g2 = engine.autograd.grad((x * 4).sum(), [x, unused], allow_unused=True)
    assert g2 is None
    _, g2 = engine.autograd.grad((x * 4).sum(), [x, unused], materialize_grads=True)
    assert g2.tolist() == [0.0]


def test_autograd_grad_of_intermediate():
    x = leaf(3.0)
    h = x * x
    y = h * 5
    (gh,) = engine.autograd.grad(y, h)
    assert gh.tolist() == [5.0]


def test_no_grad_enable_grad_set_grad_enabled():
    x = leaf(1.0)
    with engine.no_grad():
        assert not (x * 2).requires_grad
        with engine.enable_grad():
            assert (x * 2).requires_grad
    with engine.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad
    engine.set_grad_enabled(False)
    assert not engine.is_grad_enabled()
    engine.set_grad_enabled(True)

    @engine.no_grad()
    def evaluate(t):
        return t * 2

    assert not evaluate(x).requires_grad


def test_detach_shares_memory_and_cuts_the_graph():
    x = leaf(1.0, 2.0)
    d = (x * 2).detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    y = x.detach()
    y[0] = 5.0
    assert x.tolist()[0] == 5.0


def test_requires_grad_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        engine.tensor([1, 2]).requires_grad_()
    y = leaf(1.0) * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad = False


def test_retain_grad_and_hooks():
    x = leaf(1.0, 2.0)
    y = x * 3
    y.retain_grad()
    seen = []
    y.register_hook(lambda g: seen.append(g.tolist()))
    handle = x.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    assert y.grad.tolist() == [6.0, 12.0]
    assert seen == [[6.0, 12.0]]
    assert x.grad.tolist() == [180.0, 360.0]
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]


def test_node_structure_matches_pytorch_names():
    x = leaf(1.0, 2.0)
    w = engine.randn(2, 3, dtype=engine.float64, requires_grad=True)
    b = engine.randn(3, dtype=engine.float64, requires_grad=True)
    out = engine.addmm(b, x.unsqueeze(0), w)
    assert out.grad_fn.name() == "AddmmBackward0"
    names = [e.name() if e else None for e, _ in out.grad_fn.next_functions]
    assert names == ["torch::autograd::AccumulateGrad", "UnsqueezeBackward0",
                     "torch::autograd::AccumulateGrad"]
    assert out.grad_fn.next_functions[0][0].variable is b


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


def test_custom_function():
    x = leaf(2.0, -1.0)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    y.sum().backward()
    assert x.grad.tolist() == [12.0, 3.0]
    assert engine.autograd.gradcheck(Cube.apply, (leaf(0.3, 0.7),))


def test_custom_function_wrong_gradient_count():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(leaf(1.0)).sum().backward()


def test_detect_anomaly_names_the_op_and_call_site():
    x = leaf(0.0, 1.0)
    with engine.autograd.detect_anomaly():
        y = (x.sqrt() * 0).sum()  # sqrt's backward at 0 is 0 / (2 * 0): nan
        with pytest.raises(RuntimeError, match="'SqrtBackward0' returned nan") as info:
            y.backward()
    assert "test_autograd.py" in str(info.value)


def test_gradcheck_catches_a_wrong_formula():
    class WrongExp(Function):
        @staticmethod
        def forward(ctx, x):
            return x.exp()

        @staticmethod
        def backward(ctx, g):
            return g  # should be g * exp(x)

    with pytest.raises(engine.autograd.GradcheckError, match="Jacobian mismatch"):
        engine.autograd.gradcheck(WrongExp.apply, (leaf(0.5),))
    assert not engine.autograd.gradcheck(WrongExp.apply, (leaf(0.5),), raise_exception=False)


def test_dropout_scales_kept_elements_and_routes_gradient_through_the_mask():
    engine.manual_seed(0)
    x = engine.ones(10_000, requires_grad=True)
    y = engine.nn.functional.dropout(x, p=0.25)
    kept = y.detach().numpy() != 0
    assert 0.72 < kept.mean() < 0.78
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.75, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.75, rtol=1e-6)
    assert y.grad_fn.name() == "NativeDropoutBackward0"
    assert engine.nn.functional.dropout(x, 0.5, training=False) is x
    engine.manual_seed(0)
    again = engine.nn.functional.dropout(x, p=0.25)
    assert (again.detach().numpy() != 0).tolist() == kept.tolist()


@needs_torch
def test_pytorch_autograd_tutorial_prints_the_same(capsys):
    """The tutorial under `import engine as torch` prints PyTorch's text, values aside."""
    import re
    import runpy

    runpy.run_path("examples/autograd_walkthrough.py", run_name="walkthrough")["walkthrough"]()
    ours = capsys.readouterr().out

    x, y = torch.ones(5), torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")
    loss.backward()
    print(w.grad)
    print(b.grad)
    print((torch.matmul(x, w) + b).requires_grad)
    with torch.no_grad():
        print((torch.matmul(x, w) + b).requires_grad)
    print((torch.matmul(x, w) + b).detach().requires_grad)
    theirs = capsys.readouterr().out

    def shape_of(text):
        # Numbers, in fixed or scientific notation: which one PyTorch picks depends on the
        # random values' spread, and the two libraries draw different values.
        return re.sub(r"-?\d+\.\d+(e[+-]\d+)?", "N", re.sub(r"0x[0-9a-f]+", "ADDR", text))

    assert shape_of(ours) == shape_of(theirs)


def test_backward_graph_is_the_networkx_graph_add_edges_from_would_build():
    """build_graph fills networkx's adjacency dicts itself; it must agree with the API."""
    import networkx as nx

    from engine.autograd.graph import build_graph

    a, b = leaf(0.5, 1.5), leaf(2.0, 3.0)
    c = a * b
    for _ in range(3):
        c = (c + a).tanh() * b
    out = c * c + (a * 2).sum()  # a node with the same input twice, and a constant input
    root = out.sum().grad_fn
    built = build_graph([root, root])

    expected = nx.DiGraph()
    expected.add_node(root)
    stack, seen = [root], {root}
    while stack:
        node = stack.pop()
        for edge in node.edges:
            if edge is not None:
                expected.add_edge(node, edge)
                if edge not in seen:
                    seen.add(edge)
                    stack.append(edge)
    assert nx.utils.graphs_equal(built, expected)
    assert built.number_of_nodes() == len(seen)
    assert nx.is_directed_acyclic_graph(built)
    order = list(nx.topological_sort(built))
    assert order[0] is root and {type(n).__name__ for n in order[-2:]} == {"AccumulateGrad"}


def test_backward_frees_the_graph_without_the_cyclic_collector():
    """Once backward is done and the outputs are dropped, refcounting alone frees every
    node: nothing the walk made (networkx's cached views included) holds them in a cycle."""
    import gc
    import weakref

    a, b = leaf(0.5, 1.5), leaf(2.0, 3.0)
    gc.collect()
    gc.disable()
    try:
        c = a * b
        for _ in range(3):
            c = (c + a).tanh() * b
        nodes = [weakref.ref(c.grad_fn), weakref.ref(c.grad_fn.edges[0])]
        c.sum().backward()
        del c
        assert [ref() for ref in nodes] == [None, None]
    finally:
        gc.enable()
    assert a.grad is not None and b.grad is not None


def test_a_backward_started_inside_a_hook_walks_its_own_graph():
    """Walks reuse emptied networkx graphs; one nested in another must not share it."""
    inner_x = leaf(3.0)
    seen = []

    def hook(g):
        with engine.enable_grad():  # backward runs its hooks with recording off
            (dy,) = engine.autograd.grad((inner_x * inner_x * 2).sum(), [inner_x])
        seen.append(dy.item())
        return g * 10

    x = leaf(1.0, 2.0)
    y = x * x
    y.register_hook(hook)
    (y * 3).sum().backward()
    assert seen == [12.0]
    assert_close(x.grad, [60.0, 120.0])


@pytest.mark.parametrize("leaf", [True, False])
def test_a_removed_hook_stays_removed_whatever_was_registered_after(leaf):
    torch = pytest.importorskip("torch")
    runs = {}
    for lib in (engine, torch):
        calls = runs[lib.__name__] = []
        x = lib.ones(3, requires_grad=True)
        y = x if leaf else x * 2
        first = y.register_hook(lambda g: calls.append("first"))
        y.register_hook(lambda g: calls.append("second"))
        third = y.register_hook(lambda g: calls.append("third"))
        first.remove()
        y.register_hook(lambda g: calls.append("fourth"))
        third.remove()
        third.remove()  # a second remove() changes nothing
        (y * 3).sum().backward()
    assert runs["engine"] == runs["torch"] == ["second", "fourth"]
