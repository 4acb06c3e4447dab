"""Turning a traced graph into one straight-line Python function per phase.

The generated function takes the backend arrays of its inputs and calls each
primitive's forward (its kernel call) directly: no Tensor objects, no autograd nodes,
no per-op checks or dispatch, which are most of an eager op's cost on small tensors.
Its source is kept for explain().
"""
import itertools

import numpy as np

from kernels.cpu.quiet import quiet, restore

from . import memory
from .trace import is_aux, producer

_counter = itertools.count()


def generate(graph, phase, inputs, outputs, name):
    """(function, source) computing `outputs` (references) from `inputs`, a list of
    (parameter name, nodes) groups, each passed as a sequence of arrays."""
    names, namespace, lines = {}, {}, []
    params = []
    for group, nodes in inputs:
        params.append(group)
        if nodes:
            variables = [_variable(node, names) for node in nodes]
            lines.append(f"    {', '.join(variables)}, = {group}")
    # ops and effects are numbered as they were recorded, which is an order that
    # respects the data and every in-place write
    order = sorted((n for n in graph if graph.nodes[n]["kind"] in ("op", "effect")
                    and graph.nodes[n]["phase"] == phase), key=lambda n: n[1])
    reuse = memory.plan(graph, order, outputs)
    for node in order:
        data = graph.nodes[node]
        k = node[1]
        names[node] = f"v{k}"
        if data["kind"] == "effect":
            namespace[f"E{k}"] = data["run"]
            call = f"E{k}({', '.join(_reference(r, names) for r in data['inputs'])})"
            lines.append(f"    v{k} = {call}  # {data['action']}")
            continue
        if hasattr(data["op"], "ufunc"):  # a fused group: its numpy ufunc, called straight
            namespace[f"U{k}"] = data["op"].ufunc
            args = [_reference(r, names) for r in data["inputs"]]
            if node in reuse:  # into a dead value's buffer (the memory plan)
                args.append(f"out={names[reuse[node]]}")
            call = f"U{k}({', '.join(args)})"
            if data["shape"] == () and data["device"].type == "cpu":
                # a ufunc of 0-d arrays gives a numpy scalar
                call = f"asarray({call})"
            target = f"v{k}, x{k}" if data["returns_aux"] else f"v{k}"
            lines.append(f"    {target} = {call}  # {data['op'].op_name}")
            continue
        namespace[f"F{k}"] = data["op"].forward
        namespace[f"K{k}"] = data["backend"]
        args = [f"K{k}"] + [_reference(r, names) for r in data["inputs"]]
        if data.get("attr_arrays"):  # index arrays that are values of this call
            for i, (attr, value) in enumerate(data["attrs"].items()):
                text = _attribute(value, data["attr_arrays"], names, namespace, f"C{k}_{i}")
                args.append(f"{attr}={text}")
        elif data["attrs"]:
            namespace[f"A{k}"] = data["attrs"]
            args.append(f"**A{k}")
        target = f"v{k}, x{k}" if data["returns_aux"] else f"v{k}"
        lines.append(f"    {target} = F{k}({', '.join(args)})  # {data['op'].op_name}")
    results = ", ".join(_reference(r, names) if r is not None else "None" for r in outputs)
    lines.append(f"    return ({results}{',' if len(outputs) == 1 else ''})")
    fn_name = f"{name}_{next(_counter)}"
    # numpy's floating-point warnings are silenced once for the whole replay, as each
    # eager kernel call silences them for itself (kernels/cpu/quiet.py)
    body = ["    token = quiet()", "    try:"] + ["    " + line for line in lines] + [
        "    finally:", "        restore(token)"]
    source = f"def {fn_name}({', '.join(params)}):\n" + "\n".join(body) + "\n"
    namespace.update(quiet=quiet, restore=restore, asarray=np.asarray)
    exec(compile(source, f"<engine.compile {fn_name}>", "exec"), namespace)
    return namespace[fn_name], source


def _attribute(value, traced, names, namespace, name):
    """Source text that rebuilds an attribute, with each traced array replaced by the
    variable holding this call's value and everything else bound as a constant."""
    if isinstance(value, (tuple, list)) and any(id(v) in traced or isinstance(v, (tuple, list))
                                                for v in value):
        parts = [_attribute(v, traced, names, namespace, f"{name}_{i}")
                 for i, v in enumerate(value)]
        inner = ", ".join(parts) + ("," if len(parts) == 1 and isinstance(value, tuple) else "")
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if id(value) in traced:
        return _reference(traced[id(value)], names)
    namespace[name] = value
    return name


def aux_dict(node):
    """A reference to all of an op's extra arrays at once (what backward is handed)."""
    return ("extras", node)


def _variable(node, names):
    kind, index = node
    if kind == "extras":
        name = f"x{index[1]}"
    else:
        name = {"arg": "a", "grad": "g", "const": "c", "op": "v"}[kind] + str(index)
    names[node] = name
    return name


def _reference(ref, names):
    if ref[0] == "extras":
        return f"x{ref[1][1]}"
    if is_aux(ref):
        return f"x{producer(ref)[1]}[{ref[1]!r}]"
    return names[ref]
