"""A model's forward graph for TensorBoard's Graphs tab: traced with engine.compile's
tracer, each primitive named inside the scopes of the modules that ran it
(`Net/Linear[fc1]/addmm_7`, as PyTorch's writer scopes them), so the tab folds the graph
by module."""
from ..compiler.trace import Tracer, producer, trace_forward


def graph_def(model, inputs):
    """[{name, op, inputs, shape, attrs}] in the order the forward ran."""
    tracer = Tracer(fullgraph=True)
    spans, scopes = [], _scope_names(model)
    handles = _scope_hooks(model, scopes, tracer, spans)
    try:
        graph, outputs = trace_forward(model, inputs, "add_graph", tracer)
    finally:
        for handle in handles:
            handle.remove()
    return _nodes(graph, outputs, spans, _parameter_names(model, scopes), scopes.get(model, ""))


def _scope_names(model):
    """{module: "Net/Sequential[body]/Linear[0]"}: each module's path of type[attribute]."""
    if not hasattr(model, "named_modules"):
        return {}
    names = {}
    for qualified, module in model.named_modules():
        parent = qualified.rpartition(".")[0]
        if not qualified:
            names[module] = type(module).__name__
        else:
            parent_module = model.get_submodule(parent) if parent else model
            names[module] = f"{names[parent_module]}/{type(module).__name__}" \
                            f"[{qualified.rpartition('.')[2]}]"
    return names


def _scope_hooks(model, scopes, tracer, spans):
    """Hooks noting which stretch of the trace (op indices) each module's call covers."""
    handles, open_calls = [], []
    for module, scope in scopes.items():
        def before(module, args, scope=scope):
            open_calls.append((scope, len(tracer.graph)))

        def after(module, args, output):
            scope, start = open_calls.pop()
            spans.append((start, len(tracer.graph), scope))

        handles.append(module.register_forward_pre_hook(before))
        handles.append(module.register_forward_hook(after))
    return handles


def _parameter_names(model, scopes):
    """{id(tensor): "Net/Linear[fc1]/weight"}: each parameter and buffer in its module."""
    if not hasattr(model, "named_parameters"):
        return {}
    names = {}
    for name, t in list(model.named_parameters()) + list(model.named_buffers()):
        owner, _, short = name.rpartition(".")
        names[id(t)] = f"{scopes[model.get_submodule(owner) if owner else model]}/{short}"
    return names


def _scope_of(index, spans, root):
    """The innermost module call whose stretch holds op `index` (spans nest)."""
    inside = [(start, -end, scope) for start, end, scope in spans if start <= index < end]
    return max(inside)[2] if inside else root


def _nodes(graph, outputs, spans, parameters, root):
    names, nodes = {}, []
    for node in sorted((n for n in graph if graph.nodes[n]["kind"] != "op"), key=repr):
        data = graph.nodes[node]
        if data["kind"] == "arg":
            name, op = f"input/input.{data['index']}", "IO Node"
        else:
            name = parameters.get(id(data["tensor"])) or \
                f"{root}/constant_{len(names)}".lstrip("/")
            op = "Parameter"
        names[node] = name
        nodes.append({"name": name, "op": op, "inputs": [], "attrs": "",
                      "shape": tuple(data["tensor"].shape)})
    for node in sorted((n for n in graph if graph.nodes[n]["kind"] == "op"), key=lambda n: n[1]):
        data = graph.nodes[node]
        op = data["op"].op_name
        name = f"{_scope_of(node[1], spans, root)}/{op}_{node[1]}".lstrip("/")
        names[node] = name
        attrs = ", ".join(f"{k}={v}" for k, v in data["attrs"].items() if not hasattr(v, "shape"))
        nodes.append({"name": name, "op": op, "attrs": attrs, "shape": tuple(data["shape"]),
                      "inputs": [names[producer(r)] for r in data["inputs"]]})
    for j, ref in enumerate(outputs):
        source = next(n for n in nodes if n["name"] == names[producer(ref)])
        nodes.append({"name": f"output/output.{j}", "op": "IO Node", "attrs": "",
                      "inputs": [names[producer(ref)]], "shape": source["shape"]})
    return nodes
