"""engine.viz: diagrams rendered with the real `dot`, graph structure, exports, and the
backward replay checked against gradients worked out by hand."""
import argparse
import json
import os
import shutil
import time

import networkx as nx
import numpy as np
import pytest

import engine
from engine import nn, viz
from test_examples_cli import CASES, data_root  # noqa: F401 - the fixture

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


def _mlp():
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = engine.tensor([[1.0, -2.0, 0.5], [0.3, 0.1, -1.0]])
    y = engine.tensor([1, 0])
    return model, x, y


@needs_dot
@pytest.mark.parametrize("name", [n for n in CASES if n != "text_dataset"])
def test_every_example_graph_renders_with_names_and_shapes(name, data_root):  # noqa: F811
    import importlib

    module = importlib.import_module(f"engine.examples.{name}")
    config = argparse.Namespace(**{**module.DEFAULTS, "epochs": 1, "seed": 0,
                                   "device": "cpu", "data_root": str(data_root),
                                   "progress": False})
    result = module.run(config)
    folded = viz.draw(result["graph"], result["params"]).pipe(format="svg").decode()
    assert folded.startswith("<?xml") and "</svg>" in folded
    # Repeated modules (char_gpt's heads) fold into one box by default; unfolded, every
    # parameter is named.
    svg = viz.draw(result["graph"], result["params"],
                   collapse_repeats=False).pipe(format="svg").decode()
    assert result["graph"].grad_fn.name() in svg
    for pname, p in result["params"].items():
        assert pname in svg, f"{name}: parameter {pname} not in the diagram"
        assert viz._shape(p.shape) in svg


def test_to_networkx_structure_matches_the_backward_walk():
    model, x, y = _mlp()
    params = dict(model.named_parameters())
    loss = nn.functional.cross_entropy(model(x), y)
    graph = viz.to_networkx(loss, params)
    assert nx.is_directed_acyclic_graph(graph)
    leaves = [n for n in graph if graph.out_degree(n) == 0]
    assert sorted(graph.nodes[n]["label"] for n in leaves) == sorted(params)
    for n in leaves:
        assert graph.nodes[n]["shape"] == viz._shape(params[graph.nodes[n]["label"]].shape)
    ops = [n for n in nx.topological_sort(graph) if graph.nodes[n]["kind"] != "output"]
    walked = [step.name for step in viz.explain(loss, params)]
    assert [graph.nodes[n]["op"] for n in ops] == walked
    assert graph.nodes["n1"]["module"] == "2" and graph.nodes["n1"]["op"] == "AddmmBackward0"


def test_exports_to_json_and_graphml(tmp_path):
    model, x, y = _mlp()
    loss = nn.functional.cross_entropy(model(x), y)
    graph = viz.to_networkx(loss, dict(model.named_parameters()))
    text = json.dumps(nx.node_link_data(graph, edges="links"))
    assert "AddmmBackward0" in text and "0.weight" in text
    nx.write_graphml(graph, tmp_path / "g.graphml")
    back = nx.read_graphml(tmp_path / "g.graphml")
    assert sorted(back.nodes) == sorted(graph.nodes)
    assert back.nodes["n1"]["shape"] == "(2, 2)"


def test_explain_matches_gradients_worked_out_by_hand():
    """Two-layer MLP: y = W2 relu(W1 x + b1) + b2, loss = 0.5 * sum(y^2)."""
    W1 = nn.Parameter(engine.tensor([[1.0, -1.0], [0.5, 2.0]], dtype=engine.float64))
    b1 = nn.Parameter(engine.tensor([0.0, -3.0], dtype=engine.float64))
    W2 = nn.Parameter(engine.tensor([[2.0, 1.0]], dtype=engine.float64))
    b2 = nn.Parameter(engine.tensor([0.5], dtype=engine.float64))
    x = engine.tensor([[1.0, 2.0]], dtype=engine.float64)
    h = nn.functional.relu(nn.functional.linear(x, W1, b1))  # pre = [-1, 1.5] -> h = [0, 1.5]
    y = nn.functional.linear(h, W2, b2)                       # y = 1.5 + 0.5 = 2
    loss = (y * y).sum() * 0.5
    params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    explained = viz.explain(loss, params)
    # By hand: dL/dy = y = 2; dW2 = 2 * h = [0, 3]; db2 = 2; dh = 2 * W2 = [4, 2];
    # relu passes only where pre > 0: dpre = [0, 2]; dW1 = dpre^T x = [[0, 0], [2, 4]]; db1 = dpre
    expected = {"W2": [[0.0, 3.0]], "b2": [2.0], "W1": [[0.0, 0.0], [2.0, 4.0]],
                "b1": [0.0, 2.0]}
    for name, value in expected.items():
        assert params[name].grad.tolist() == value
    leaves = {s.leaf: s.grad_in.tolist() for s in explained if s.leaf}
    assert leaves == expected
    relu = next(s for s in explained if s.name == "ReluBackward0")
    assert relu.grad_in.tolist() == [[4.0, 2.0]] and relu.grads_out[0].tolist() == [[0.0, 2.0]]
    assert "_relu_backward(g, out)" in relu.formulas[0]
    text = str(explained)
    assert "accumulated into W1.grad" in text and "upstream grad" in text
    assert "(g, b) -> g * b" in text  # mul's formula, straight from the op table


def test_explain_step_reports_the_update():
    model, x, y = _mlp()
    opt = engine.optim.SGD(model.parameters(), lr=0.5)
    nn.functional.cross_entropy(model(x), y).backward()
    expected = {n: (p - 0.5 * p.grad).detach().clone() for n, p in model.named_parameters()}
    report = viz.explain_step(opt, dict(model.named_parameters()))
    for name, before, grad, after in report.rows:
        assert after.tolist() == expected[name].tolist()
        # after - before cancels digits in float32; the exact check is the line above
        np.testing.assert_allclose((after - before).numpy(), -0.5 * grad.numpy(), rtol=1e-5,
                                   atol=1e-7)
    assert "SGD step" in str(report) and "0.weight" in str(report)


@needs_dot
def test_saved_tensors_grads_clusters_and_inline_display():
    model, x, y = _mlp()
    params = dict(model.named_parameters())
    loss = nn.functional.cross_entropy(model(x), y)
    source = viz.draw(loss, params, show_saved=True).source
    assert "fillcolor=orange" in source and "cluster_0" in source and "cluster_2" in source
    loss.backward()
    with_grads = viz.draw(loss, params, show_grads=True).source
    assert "grad (4, 3) min" in with_grads
    diagram = viz.draw(loss, params)
    import graphviz

    assert isinstance(diagram, graphviz.Digraph)
    bundle = diagram._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_repeated_blocks_fold():
    blocks = nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.Tanh()) for _ in range(6)])
    loss = blocks(engine.randn(2, 4)).sum()
    params = dict(blocks.named_parameters())
    folded = viz.draw(loss, params).source
    assert "5 more like '0'" in folded and "3.0.weight" not in folded
    full = viz.draw(loss, params, collapse_repeats=False).source
    assert "5.0.weight" in full


def test_missing_dot_says_how_to_install(monkeypatch):
    model, x, y = _mlp()
    diagram = viz.draw(nn.functional.cross_entropy(model(x), y))
    monkeypatch.setenv("PATH", "")
    with pytest.raises(viz.DotNotFound, match="apt-get install graphviz"):
        diagram.pipe(format="svg")


@needs_dot
def test_frames_write_one_diagram_per_step(tmp_path):
    model, x, y = _mlp()
    explained = viz.explain(nn.functional.cross_entropy(model(x), y),
                            dict(model.named_parameters()))
    paths = explained.frames(str(tmp_path / "step"))
    assert len(paths) == len(explained)
    first = open(paths[0]).read()
    assert "yellow" in first and "step 1: NllLossBackward0" in first


def test_draw_refuses_a_tensor_without_a_graph():
    with pytest.raises(ValueError, match="no grad_fn"):
        viz.draw(engine.ones(2))


@needs_dot
def test_graphviz_api_works_unchanged_on_a_diagram(tmp_path, monkeypatch):
    """What draw() returns is a graphviz.Digraph: render, view, save, pipe, format and
    directory behave as graphviz documents them, with the real dot."""
    model, x, y = _mlp()
    diagram = viz.draw(nn.functional.cross_entropy(model(x), y))
    monkeypatch.chdir(tmp_path)
    assert diagram.render("g", format="png") == "g.png"
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "g").read_text() == diagram.source  # render saves the source too
    fresh = viz.draw(nn.functional.cross_entropy(model(x), y))
    # graphviz's default name: the class's name (a subclass's too), then the format
    assert fresh.render() == f"{type(fresh).__name__}.gv.{fresh.format}"
    assert diagram.render() == "g.svg"  # as graphviz does: the name kept, not the format
    out = diagram.render(outfile=tmp_path / "sub" / "out.svg")
    assert out.endswith("out.svg") and "<svg" in (tmp_path / "sub" / "out.svg").read_text()
    assert diagram.render("d", directory=tmp_path / "dir", format="svg", cleanup=True) == \
        str(tmp_path / "dir" / "d.svg")
    assert not (tmp_path / "dir" / "d").exists()  # cleanup removed the source
    saved = diagram.save("src.gv", directory=tmp_path / "dir")
    assert open(saved).read() == diagram.source
    assert diagram.pipe(format="svg").startswith(b"<?xml")
    diagram.format, diagram.directory = "svg", str(tmp_path / "fmt")
    assert diagram.render("f") == str(tmp_path / "fmt" / "f.svg")
    # view() opens the file with the desktop's viewer (xdg-open): a stand-in records it
    viewer = tmp_path / "bin" / "xdg-open"
    viewer.parent.mkdir()
    viewer.write_text(f"#!/bin/sh\necho \"$1\" > {tmp_path / 'opened'}\n")
    viewer.chmod(0o755)
    monkeypatch.setenv("PATH", f"{viewer.parent}:{os.environ['PATH']}")
    viewed = diagram.view("v", directory=tmp_path)
    assert viewed.endswith("v.svg") and (tmp_path / "v.svg").exists()
    deadline = time.monotonic() + 10  # the viewer runs in the background
    while not (tmp_path / "opened").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "opened").read_text().strip().endswith("v.svg")
    copy = diagram.copy()
    assert type(copy) is type(diagram) and copy.source == diagram.source
    assert diagram.export(tmp_path / "e.png") == tmp_path / "e.png"
    assert (tmp_path / "e.png").read_bytes()[:4] == b"\x89PNG"


def _ops(fn):
    """A function's instructions and their arguments; an attribute load is one kind,
    whether compiled as a method lookup or not (source files and eval() differ)."""
    import dis
    import types
    return [(i.opname.replace("LOAD_METHOD", "LOAD_ATTR"),
             _ops(i.argval) if isinstance(i.argval, types.CodeType) else i.argval)
            for i in dis.get_instructions(fn)]


def test_explain_shows_every_primitives_own_formula():
    """The text explain() shows for each formula is cut from the op table's source:
    rebuilt into a lambda, it compiles to the formula's own bytecode."""
    import inspect

    from engine.ops.primitive import DECLARED

    primitives = list(DECLARED)
    assert len(primitives) > 100
    for prim in primitives:
        for k, vjp in enumerate(prim.vjps):
            text = prim.formula(k)
            if vjp is None:
                assert text == "no gradient"
                continue
            params = ", ".join(inspect.signature(vjp).parameters)
            if vjp.__name__ != "<lambda>":
                assert text == f"{vjp.__name__}({params})"
                continue
            head, body = text.split(" -> ", 1)
            assert head == f"({params})" and "lambda" not in body, (prim, text)
            rebuilt = eval(f"lambda {params}: {body}", vjp.__globals__)
            if not vjp.__code__.co_freevars:  # a closure's names compile differently
                assert _ops(rebuilt) == _ops(vjp), (prim, text)
    exp = next(p for p in primitives if p.node_name == "ExpBackward0")
    assert exp.formula(0) == "(g, out) -> g * out"
    softplus = next(p for p in primitives if p.node_name == "SoftplusBackward0")
    assert softplus.formula(0).endswith("-> g * where(x * beta > threshold, 1.0, "
                                        "sigmoid(x * beta))")


def test_a_misspelt_formula_parameter_is_refused_when_declared():
    from engine.ops.primitive import Primitive

    with pytest.raises(TypeError, match=r"ExpBackward0: the formula for 'x' takes 'outt', "
                                        r"which is not an input"):
        Primitive("ExpBackward0", lambda K, x: K.exp(x), x=lambda g, outt: g * outt)
    with pytest.raises(TypeError, match=r"declared extra \(mask\)"):
        Primitive("Drop", lambda K, x: (x, {"mask": x}), extras=("mask",),
                  x=lambda g, masks: g * masks)
    Primitive("Drop", lambda K, x: (x, {"mask": x}), extras=("mask",), x=lambda g, mask: g)


def test_ops_are_named_in_messages_by_their_own_names():
    from engine.ops.primitive import DECLARED

    names = {p.node_name: p.op_name for p in DECLARED}
    assert names["floor_divide"] == "floor_divide" and names["eq"] == "eq"
    assert names["AddmmBackward0"] == "addmm" and names["Log1PBackward0"] == "log1p"
    assert names["LogSoftmaxBackward0"] == "log_softmax"
    assert all(name and name.isidentifier() for name in names.values())
