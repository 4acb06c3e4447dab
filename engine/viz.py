"""See autograd: the backward graph as networkx data, as a graphviz diagram, and as a
step-by-step replay of `backward()` and `optimizer.step()`.

Diagram legend (the colours pytorchviz made familiar):
    grey boxes      backward ops, named as PyTorch names them (`AddmmBackward0`)
    blue boxes      leaf tensors that require grad (parameters, named from `params`)
    green box       the tensor the graph was drawn from
    orange boxes    tensors an op saved for its backward (`show_saved=True`)
    rounded frames  the nn.Module that ran the ops inside (nested like the model)
Arrows run forward, from each input to the op that used it.
"""
import re

import networkx as nx

from .autograd.graph import build_graph, run_backward
from .autograd.grad_mode import no_grad
from .autograd.node import AccumulateGrad

_PREVIEW = 3


def _shape(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def summary(t, values=_PREVIEW):
    """'(2, 3) min -0.5 max 1.2 norm 2.1 [0.1, -0.5, 1.2, ...]': a tensor at a glance."""
    if t is None:
        return "None"
    flat = t.detach().reshape(-1)
    if flat.numel() == 0:
        return f"{_shape(t.shape)} empty"
    head = ", ".join(f"{v:.4g}" for v in flat[:values].tolist())
    more = ", ..." if flat.numel() > values else ""
    with no_grad():
        stats = (f"min {flat.min().item():.4g} max {flat.max().item():.4g} "
                 f"norm {(flat.double() * flat.double()).sum().sqrt().item():.4g}")
    return f"{_shape(t.shape)} {stats} [{head}{more}]"


# ---- the graph as data ---------------------------------------------------------------

def _roots(t):
    tensors = list(t) if isinstance(t, (list, tuple)) else [t]
    for x in tensors:
        if x.grad_fn is None:
            raise ValueError(f"cannot draw the graph of a tensor with no grad_fn (shape "
                             f"{tuple(x.shape)}): it was not computed from tensors that "
                             f"require grad")
    return tensors


def _labelled(t, params):
    """(DiGraph with string ids and attributes, {id: node object})."""
    tensors = _roots(t)
    names = {id(p): name for name, p in (params or {}).items()}
    nodes = build_graph([x.grad_fn for x in tensors])
    order = list(nx.topological_sort(nodes))
    ids = {node: f"n{i}" for i, node in enumerate(order)}
    graph = nx.DiGraph()
    objects = {}
    for i, x in enumerate(tensors):
        out = f"out{i}"
        graph.add_node(out, kind="output", label="output", op="", shape=_shape(x.shape),
                       dtype=str(x.dtype), device=str(x.device), module="")
        graph.add_edge(out, ids[x.grad_fn])
        objects[out] = x
    for node in order:
        key = ids[node]
        objects[key] = node
        if isinstance(node, AccumulateGrad):
            leaf = node.variable
            name = names.get(id(leaf), "")
            graph.add_node(key, kind="leaf", label=name or "leaf", op=node.name(),
                           shape=_shape(leaf.shape), dtype=str(leaf.dtype),
                           device=str(leaf.device), module=name.rpartition(".")[0])
        else:
            shape, dtype, device = node.out_meta
            graph.add_node(key, kind="op", label=node.name(), op=node.name(),
                           shape=_shape(shape), dtype=str(dtype), device=str(device),
                           module=".".join(node.scope[1:]), model=node.scope[0] if node.scope
                           else "")
        for edge in node.edges:
            if edge is not None:
                graph.add_edge(key, ids[edge])
    return graph, objects


def to_networkx(t, params=None):
    """The backward graph of `t` as a networkx DiGraph.

    Nodes are strings ("out0", "n0", "n1", ...) in the order backward visits them, with
    attributes kind ("output", "op" or "leaf"), label, op, shape, dtype, device and
    module (the dotted path of the nn.Module that ran the op). Edges point from each op
    to the ops that made its inputs, the direction gradients flow. Every attribute is a
    string, so `nx.node_link_data` (JSON) and `nx.write_graphml` export it as it is.
    """
    return _labelled(t, params)[0]


# ---- the diagram ---------------------------------------------------------------------

class DotNotFound(RuntimeError):
    """Graphviz's `dot` program, which renders diagrams, is not installed."""


_INSTALL = ("rendering needs Graphviz's 'dot' program, which is not installed: "
            "`apt-get install graphviz` (Debian/Ubuntu), `brew install graphviz` (macOS), "
            "`conda install graphviz`, or https://graphviz.org/download/. The graph itself "
            "is available without it: viz.to_networkx(tensor).")


def _graphviz():
    import graphviz

    return graphviz


def _diagram_class():
    """Diagram subclasses graphviz.Digraph; built on first use so that importing
    engine.viz does not import graphviz."""
    global Diagram
    if Diagram is not None:
        return Diagram
    graphviz = _graphviz()

    class _Diagram(graphviz.Digraph):
        """A graphviz.Digraph whose whole API (render, view, save, pipe, format,
        directory) works as graphviz documents it, which says how to install `dot` when
        it is missing, and which adds `export(path)`: the picture in the format the
        file's extension names. Shows inline in Jupyter."""

        def pipe(self, *args, **kwargs):
            try:
                return super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise DotNotFound(_INSTALL) from None

        def render(self, *args, **kwargs):
            try:
                return super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound:
                raise DotNotFound(_INSTALL) from None

        def export(self, path):
            """Write the rendered picture to `path` ("graph.svg", "graph.png", ...):
            graphviz's own save() writes the DOT source, render() picks its own names."""
            fmt = str(path).rsplit(".", 1)[-1].lower()
            with open(path, "wb") as f:
                f.write(self.pipe(format=fmt))
            return path

    _Diagram.__name__ = _Diagram.__qualname__ = "Diagram"
    Diagram = _Diagram
    return Diagram


Diagram = None  # the graphviz.Digraph subclass that draw() returns, once graphviz loads


_STYLE = {"op": "lightgrey", "leaf": "lightblue", "output": "darkolivegreen1",
          "saved": "orange", "summary": "white", "effect": "khaki"}


def _collapse_repeats(graph):
    """Fold runs of identical consecutive sibling modules (`layers.1`, `layers.2`, ... equal
    to `layers.0`): map each folded node to one summary box, and count the repeats."""
    members = {}  # module path -> its op and leaf nodes, at any depth
    for n, attrs in graph.nodes(data=True):
        if attrs["kind"] in ("op", "leaf") and attrs["module"]:
            parts = attrs["module"].split(".")
            for depth in range(1, len(parts) + 1):
                members.setdefault(".".join(parts[:depth]), []).append(n)
    children = {}
    for path in members:
        children.setdefault(path.rpartition(".")[0], []).append(path)

    def signature(path):
        cut = len(path)
        return tuple(sorted((graph.nodes[n]["kind"], graph.nodes[n]["op"],
                             graph.nodes[n]["shape"], graph.nodes[n]["module"][cut:])
                            for n in members[path]))

    replaced, summaries = {}, {}
    for paths in children.values():
        first, first_signature = None, None
        for path in sorted(paths, key=_natural):
            if any(n in replaced for n in members[path]):
                continue  # already inside a folded block
            sig = signature(path)
            if sig != first_signature:
                first, first_signature = path, sig
                continue
            key = f"repeat_{first}"
            summaries.setdefault(key, [first, 0])[1] += 1
            for n in members[path]:
                replaced[n] = key
    return replaced, summaries


def _natural(name):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def draw(t, params=None, show_saved=False, show_grads=False, collapse_repeats=True):
    """A diagram of the graph that produced `t` (a tensor, or a list of them).

    params: {name: tensor}, e.g. dict(model.named_parameters()), to name the leaves.
    show_saved: also draw the tensors each op saved for backward (while not yet freed).
    show_grads: add gradient summaries (shape, min, max, norm) to leaves that have one.
    collapse_repeats: draw a run of identical sibling modules once, plus one box that
        counts the repeats, so a deep model stays readable.

    `t` may also be a compiled function (or a module compiled by engine.compile): then
    the diagram is its captured graph, forward and backward, with each fused kernel a
    cluster of the ops it computes.
    """
    compiled = getattr(t, "forward", t)
    if hasattr(compiled, "graphs"):
        return _draw_compiled(compiled)
    graph, objects = _labelled(t, params)
    replaced, summaries = _collapse_repeats(graph) if collapse_repeats else ({}, {})
    dot = _diagram_class()(format="svg", graph_attr={"rankdir": "TB", "fontname": "monospace"},
                           node_attr={"style": "filled", "shape": "box", "fontsize": "10",
                                      "fontname": "monospace", "height": "0.2"})
    clusters = {}
    for n, attrs in graph.nodes(data=True):
        if n in replaced:
            continue
        label = attrs["label"]
        if attrs["kind"] in ("op", "leaf"):
            label += "\n" + attrs["shape"]
        if attrs["kind"] == "output":
            label = attrs["shape"]
        if attrs["kind"] == "leaf" and show_grads and objects[n].variable.grad is not None:
            label += "\ngrad " + summary(objects[n].variable.grad, 0).replace(" []", "")
        clusters.setdefault(attrs["module"], []).append((n, label, _STYLE[attrs["kind"]]))
        if show_saved and attrs["kind"] == "op":
            for name, value in objects[n].saved_values():
                shape = value.shape
                saved_id = f"{n}_saved_{name}"
                clusters[attrs["module"]].append((saved_id, f"{name}\n{_shape(shape)}",
                                                  _STYLE["saved"]))
                dot.edge(saved_id, n, style="dashed")
    for key, (original, count) in summaries.items():
        module = original.rpartition(".")[0]
        clusters.setdefault(module, []).append(
            (key, f"... {count} more like '{original}'", _STYLE["summary"]))
    _emit_clusters(dot, clusters)
    drawn = set()
    for a, b in graph.edges():
        a, b = replaced.get(a, a), replaced.get(b, b)
        if a != b and (b, a) not in drawn:
            drawn.add((b, a))
            dot.edge(b, a)
    return dot


def _draw_compiled(compiled):
    """The last traced entry of a compiled function: inputs, ops, fused clusters."""
    from .compiler.trace import producer

    if not compiled.graphs:
        raise ValueError("draw: this compiled function has not been called yet, so there is "
                         "no graph to draw")
    graph = compiled.graphs[-1]
    dot = _diagram_class()(format="svg", graph_attr={"rankdir": "TB", "fontname": "monospace"},
                           node_attr={"style": "filled", "shape": "box", "fontsize": "10",
                                      "fontname": "monospace", "height": "0.2"})
    name = {}
    for n, data in graph.nodes(data=True):
        name[n] = "_".join(map(str, n))
        if data["kind"] == "effect":  # a write the step makes: .grad, an optimizer's update
            dot.node(name[n], data["action"], fillcolor=_STYLE["effect"], shape="note")
        elif data["kind"] != "op":
            label = {"arg": "argument", "grad": "output gradient", "const": "constant"}[
                data["kind"]] + (f" {data['index']}" if "index" in data else "")
            dot.node(name[n], f"{label}\n{_shape(data['tensor'].shape)}",
                     fillcolor=_STYLE["leaf"])
        elif "members" not in data:
            dot.node(name[n], f"{data['op'].op_name}\n{_shape(data['shape'])}",
                     fillcolor=_STYLE["op"])
    ops = sorted((n for n in graph if graph.nodes[n]["kind"] in ("op", "effect")),
                 key=lambda n: n[1])
    for n in ops:  # in recorded order, so a fused group is named before it is read
        data = graph.nodes[n]
        if "members" not in data:
            for ref in data["inputs"]:
                dot.edge(name[producer(ref)], name[n])
            continue
        with dot.subgraph(name=f"cluster_{name[n]}") as sub:  # one fused kernel
            ops = len(data["members"])  # a fused sum's sum too, a product's activation
            sub.attr(label=f"fused kernel ({ops} op{'s' * (ops != 1)})", style="rounded",
                     color="darkorange", fontname="monospace")
            steps = [f"{name[n]}_{j}" for j in range(len(data["op"].steps))]
            for j, (op_name, args) in enumerate(data["op"].steps):
                sub.node(steps[j], op_name, fillcolor=_STYLE["op"])
                for arg in args:
                    if isinstance(arg, tuple) and arg[0] == "step":
                        dot.edge(steps[arg[1]], steps[j])
                    elif isinstance(arg, tuple):
                        dot.edge(name[producer(data["inputs"][arg[1]])], steps[j])
        name[n] = steps[-1]  # what reads the group reads its last op
    return dot


def _emit_clusters(dot, clusters):
    """Nested subgraphs, one per module path, so frames nest like the model."""
    tree = {}
    for module in clusters:
        parts = module.split(".") if module else []
        for depth in range(len(parts) + 1):
            tree.setdefault(".".join(parts[:depth]), set())
            if depth:
                tree[".".join(parts[:depth - 1])].add(".".join(parts[:depth]))

    def emit(graph, module):
        for n, label, colour in clusters.get(module, []):
            graph.node(n, label, fillcolor=colour)
        for child in sorted(tree.get(module, ()), key=_natural):
            with graph.subgraph(name=f"cluster_{child}") as sub:
                sub.attr(label=child, style="rounded", color="grey50", fontname="monospace")
                emit(sub, child)

    emit(dot, "")


# ---- the replay ----------------------------------------------------------------------

class Step:
    """One node of the backward walk: what came in, the rule applied, what went out."""

    def __init__(self, index, node, grad_in, grads_out, names):
        self.index, self.node = index, node
        self.name = node.name()
        self.grad_in = grad_in.detach()
        self.grads_out = [g.detach() if g is not None else None for g in grads_out]
        if isinstance(node, AccumulateGrad):
            self.leaf = names.get(id(node.variable), "leaf")
            self.formulas = []
        else:
            self.leaf = None
            op = node.op
            vjps = getattr(op, "vjps", None)
            inputs = getattr(op, "inputs", None) or [getattr(op, "variadic", "x")]
            if vjps is None:
                self.formulas = [f"{node.name()}: {type(op).__name__} backward"]
            else:
                self.formulas = [f"d/d{inputs[min(i, len(inputs) - 1)]}: "
                                 f"{op.formula(min(i, len(vjps) - 1))}"
                                 for i in range(len(node.edges))]

    def __str__(self):
        lines = [f"{self.index:>3}. {self.name}"]
        module = ".".join(getattr(self.node, "scope", ())[1:])
        if module:
            lines[0] += f"   [{module}]"
        lines.append(f"       upstream grad   {summary(self.grad_in)}")
        if self.leaf is not None:
            lines.append(f"       accumulated into {self.leaf}.grad")
        for i, (formula, g) in enumerate(zip(self.formulas, self.grads_out)):
            lines.append(f"       {formula}")
            if g is not None:
                lines.append(f"         -> input {i}: {summary(g)}")
        return "\n".join(lines)


class Explanation:
    """The backward walk, step by step, in the order backward ran it."""

    def __init__(self, root, steps, params):
        self.root, self.steps, self.params = root, steps, params

    def __str__(self):
        return "\n".join(str(s) for s in self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __len__(self):
        return len(self.steps)

    def frames(self, prefix, format="svg"):
        """Write one diagram per step (the node being applied in yellow); returns paths."""
        paths = []
        key_of = {id(obj): key for key, obj in _labelled(self.root, self.params)[1].items()}
        for step in self.steps:
            diagram = draw(self.root, self.params, collapse_repeats=False)
            diagram.node(key_of[id(step.node)], fillcolor="yellow", penwidth="2")
            diagram.attr(label=f"step {step.index}: {step.name}", labelloc="t")
            path = f"{prefix}{step.index:03d}.{format}"
            diagram.export(path)
            paths.append(path)
        return paths


def explain(loss, params=None, retain_graph=True):
    """Run `loss.backward()` and record every step: for each node the upstream gradient,
    the derivative formula from the op table, and the gradient passed to each input.

    Gradients accumulate into `.grad` exactly as `loss.backward()` would.
    """
    from .creation import ones_like

    if loss.grad_fn is None:
        raise ValueError("explain() needs a tensor computed from tensors that require grad")
    if loss.numel() != 1:
        raise ValueError(f"explain() needs a scalar loss, got shape {tuple(loss.shape)}")
    names = {id(p): name for name, p in (params or {}).items()}
    steps = []
    run_backward([loss.grad_fn], [ones_like(loss)], retain_graph, False,
                 observe=lambda node, g, out: steps.append(
                     Step(len(steps) + 1, node, g, out, names)))
    return Explanation(loss, steps, params)


def explain_jvp(func, primals, tangents, params=None):
    """Replay a Jacobian-vector product J v step by step, as explain() replays backward.

    Here J v is the derivative of the linear map u -> J^T u along v (forward mode by two
    reverse walks): the steps shown are the walk over the graph of J^T u, which ends at
    the placeholders u ("cotangent 0", ...) with J v. The Explanation's `result` is
    (outputs, J v), tuples as func's outputs are.
    """
    from .autograd import enable_grad, grad

    primals = primals if isinstance(primals, tuple) else (primals,)
    tangents = tangents if isinstance(tangents, tuple) else (tangents,)
    inputs = [p.detach().requires_grad_(True) for p in primals]
    with enable_grad():
        outputs = func(*inputs)
        outs = outputs if isinstance(outputs, tuple) else (outputs,)
        cotangents = [o.detach().new_zeros(o.shape).requires_grad_(True) for o in outs]
        pulled = grad(outs, inputs, cotangents, create_graph=True, allow_unused=True)
        total = sum((p * t).sum() for p, t in zip(pulled, tangents) if p is not None)
    named = {**(params or {}), **{f"cotangent {i}": c for i, c in enumerate(cotangents)},
             **{f"primal {i}": x for i, x in enumerate(inputs)}}
    explanation = explain(total, named)
    products = tuple(c.grad if c.grad is not None else c.detach() * 0 for c in cotangents)
    explanation.result = ((outputs, products[0]) if not isinstance(outputs, tuple)
                          else (outputs, products))
    return explanation


class StepReport:
    """What one optimizer step did to each parameter: value, gradient, update."""

    def __init__(self, rows, optimizer):
        self.rows, self.optimizer = rows, optimizer

    def __str__(self):
        lines = [f"{type(self.optimizer).__name__} step"]
        for name, before, grad, after in self.rows:
            lines += [f"  {name}",
                      f"    before  {summary(before)}",
                      f"    grad    {summary(grad)}",
                      f"    update  {summary(after - before)}",
                      f"    after   {summary(after)}"]
        return "\n".join(lines)


def explain_step(optimizer, params=None):
    """Call `optimizer.step()` and report, per parameter, its value before, its gradient,
    the update applied and its value after."""
    names = {id(p): name for name, p in (params or {}).items()}
    tracked = [p for group in optimizer.param_groups for p in group["params"]
               if p.grad is not None]
    before = [p.detach().clone() for p in tracked]
    grads = [p.grad.detach().clone() for p in tracked]
    optimizer.step()
    rows = [(names.get(id(p), f"param {i}"), b, g, p.detach().clone())
            for i, (p, b, g) in enumerate(zip(tracked, before, grads))]
    return StepReport(rows, optimizer)
