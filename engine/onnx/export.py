"""Exporting a model to ONNX: trace its forward once (engine.compile's tracer), simplify
the graph (common subexpressions, constants, dead code), translate each primitive
(convert.py), and write the model with the `onnx` package."""
import enum
import os

import numpy as np

from ..compiler import passes
from ..compiler.trace import is_aux, producer, trace_forward
from ..tensor import Tensor
from ..ops import conv
from ..ops import shape as shape_ops
from . import dynamic
from .convert import RESHAPES, convert, emit_range

DEFAULT_OPSET = 17
_exporting = [False]


class TrainingMode(enum.IntEnum):
    EVAL = 0
    PRESERVE = 1
    TRAINING = 2


def is_in_onnx_export():
    return _exporting[0]


def export(model, args=(), f=None, *, kwargs=None, export_params=True, verbose=False,
           training=TrainingMode.EVAL, input_names=None, output_names=None,
           opset_version=None, do_constant_folding=True, dynamic_axes=None,
           keep_initializers_as_inputs=False, dynamo=True, external_data=False, **other):
    """Write `model(*args)`'s graph to `f` (a path or a binary file object) as ONNX.

    The model is traced with these inputs, so the file holds their shapes, but for the
    `dynamic_axes` ({input or output name: {axis: label}} or {name: [axes]}), which are
    found by tracing again with those axes longer (dynamic.py); Python control flow is
    fixed as it ran. The model is put in eval mode for the export unless `training` says
    otherwise. Returns the onnx ModelProto.
    """
    try:
        import onnx
    except ImportError:
        raise RuntimeError("onnx.export needs the onnx package: pip install onnx") from None
    _refuse(other, export_params, keep_initializers_as_inputs, external_data)
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    if not 14 <= opset <= 17:
        raise ValueError(f"onnx.export: opset_version={opset} is not supported (14 to 17)")
    args = args if isinstance(args, tuple) else (args,)
    if not all(isinstance(a, Tensor) for a in args) or kwargs:
        raise TypeError("onnx.export: args must be a tensor or a tuple of tensors (keyword "
                        "arguments are not supported)")
    input_names = [input_names[i] if i < len(input_names or []) else f"input_{i}"
                   for i in range(len(args))]
    output_names = list(output_names or [])
    axes = dynamic.normalize(dynamic_axes, input_names, output_names)
    graph, outputs, params = _simplified(model, args, training, do_constant_folding)
    varies = dynamic.Variation()
    if any(name in axes for name in input_names):
        longer = tuple(dynamic.grown(a, axes.get(name, {})) for a, name in zip(args, input_names))
        other, _, _ = _simplified(model, longer, training, do_constant_folding)
        varies = dynamic.varying(graph, other, _shape)
    output_names += [f"output_{j}" for j in range(len(output_names), len(outputs))]
    proto = _build(onnx, graph, args, outputs, params, input_names, output_names, opset, axes,
                   varies)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    onnx.checker.check_model(proto)
    if f is not None:
        data = proto.SerializeToString()
        if isinstance(f, (str, os.PathLike)):
            with open(f, "wb") as out:
                out.write(data)
        else:
            f.write(data)
    return proto


def _refuse(other, export_params, keep_initializers_as_inputs, external_data):
    if other:
        raise TypeError(f"onnx.export got unexpected keyword arguments {sorted(other)}")
    if not export_params:
        raise NotImplementedError("onnx.export: export_params=False (weights as inputs) is not "
                                  "supported")
    if keep_initializers_as_inputs or external_data:
        raise NotImplementedError("onnx.export: keep_initializers_as_inputs and external_data "
                                  "are not supported")


def _simplified(model, args, training, fold):
    """The traced graph after common subexpressions, constants and dead code."""
    graph, outputs, params = _trace(model, args, training)
    graph, outputs = passes.common_subexpressions(graph, outputs)
    if fold:
        graph, outputs = passes.fold_constants(graph, outputs, frozen=set())
    return passes.dead_code(graph, outputs), outputs, params


def _trace(model, args, training):
    """(graph, output references, {id(tensor): name} of the model's weights)."""
    params = {}
    modules = hasattr(model, "named_parameters")
    if modules:
        params = {id(t): name for name, t in list(model.named_parameters()) +
                  list(model.named_buffers())}
        was_training = [m.training for m in model.modules()]
        model.train(training == TrainingMode.TRAINING if training != TrainingMode.PRESERVE
                    else model.training)
    _exporting[0] = True
    try:
        graph, outputs = trace_forward(model, args, "onnx.export")
    finally:
        _exporting[0] = False
        if modules:
            for m, flag in zip(model.modules(), was_training):
                m.training = flag
    return graph, outputs, params


def _value_info(helper, name, dtype, shape, labels):
    """An input's or output's type, with `labels` ({axis: name}) as symbolic sizes."""
    dims = [labels.get(axis, labels.get(axis - len(shape), n)) for axis, n in enumerate(shape)]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(dtype), dims)


def _symbolic(op, attrs, shapes, ins_varying, out_varying, sources):
    """attrs with the sizes that follow dynamic axes written symbolically (dynamic.py)."""
    name = op.op_name
    if op in (conv._unfold, conv._fold) and ins_varying[0] is not None \
            and ins_varying[0][0][1:] != ins_varying[0][1][1:]:
        raise NotImplementedError(f"onnx.export: {name}'s image sides follow a dynamic axis; "
                                  f"only the batch axis of a convolution may be dynamic")
    if out_varying is None or (op not in RESHAPES and op is not shape_ops._expand):
        return attrs
    shape, longer = out_varying
    in_shape, in_longer = ins_varying[0] or (shapes[0], shapes[0])
    if op is shape_ops._expand:
        target = dynamic.expand_target(name, attrs["shape"], in_shape, in_longer, longer)
    else:
        target = dynamic.reshape_target(name, attrs["shape"],
                                        ((shape, longer), (in_shape, in_longer)), sources)
    return dict(attrs, shape=tuple(target))


def _build(onnx, graph, args, outputs, params, input_names, output_names, opset, axes,
           varies):
    from onnx import helper, numpy_helper

    names, nodes, initializers = {}, [], []
    counter = [0]

    def fresh(prefix):
        counter[0] += 1
        return f"{prefix}_{counter[0]}"

    def emit(op_type, inputs, outs=None, **attributes):
        outs = outs or [fresh(op_type)]
        nodes.append(helper.make_node(op_type, inputs, outs, name=fresh(op_type + "_node"),
                                      **attributes))
        return outs[0]

    def constant(array, like=None, name=None):
        if like is not None:
            array = array.astype(dtype_of[like])
        name = name or fresh("const")
        initializers.append(numpy_helper.from_array(np.array(array, order="C"), name))  # 0-d kept
        return name

    dtype_of = {}
    inputs = []
    sources = dynamic.sizes({i: varies.shapes[("arg", i)] for i in range(len(args))
                             if ("arg", i) in varies.shapes}, input_names)
    for i, t in enumerate(args):
        name = input_names[i]
        names[("arg", i)] = name
        dtype_of[name] = t._data.dtype
        inputs.append(_value_info(helper, name, t._data.dtype, tuple(t.shape),
                                  axes.get(name, {})))
    for node in sorted(n for n in graph if graph.nodes[n]["kind"] == "const"):
        tensor = graph.nodes[node]["tensor"]
        name = params.get(id(tensor)) or fresh("constant")
        names[node] = name
        dtype_of[name] = tensor._data.dtype
        if node in varies.ranges:  # arange(a dynamic size), made at run time
            emit_range(dynamic.source_of(varies.ranges[node], sources), tensor._data.dtype,
                       name, emit, constant)
        else:
            constant(tensor.detach().cpu().numpy(), name=name)
    for node in sorted((n for n in graph if graph.nodes[n]["kind"] == "op"),
                       key=lambda n: n[1]):
        data = graph.nodes[node]
        out = names[node] = fresh(data["op"].op_name)
        dtype_of[out] = data["dtype"]
        ins = [_name(names, r) for r in data["inputs"]]
        shapes = [_shape(graph, producer(r)) for r in data["inputs"]]
        index_inputs = [_name(names, r) for r in data.get("attr_arrays", {}).values()]
        attrs = _symbolic(data["op"], data["attrs"], shapes,
                          [varies.shapes.get(producer(r)) for r in data["inputs"]],
                          varies.shapes.get(node), sources)
        if node in varies.indexes:
            attrs = dict(attrs, index=dynamic.bounds(data["op"].op_name, *varies.indexes[node],
                                                     sources))
        if not convert(data["op"], attrs, ins, shapes, out, emit, constant, index_inputs):
            raise RuntimeError(f"onnx.export: {data['op'].op_name} has no ONNX translation yet "
                               f"(supported: linear layers, matrix products, elementwise "
                               f"arithmetic and activations, softmax, reductions, reshapes, "
                               f"permutes, embeddings)")
    outs = []
    for j, ref in enumerate(outputs):
        name = output_names[j]
        emit("Identity", [_name(names, ref)], [name])
        data = graph.nodes[producer(ref)]
        dtype = data["dtype"] if data["kind"] == "op" else data["tensor"]._data.dtype
        shape = _shape(graph, producer(ref))
        labels = dict(axes.get(name, {}))
        shape_a, shape_b = varies.shapes.get(producer(ref), (shape, shape))
        for axis, (n, m) in enumerate(zip(shape_a, shape_b)):
            if n != m and axis not in labels and axis - len(shape) not in labels:
                labels[axis] = f"{name}_dim_{axis}"  # follows an input's dynamic axis
        outs.append(_value_info(helper, name, dtype, shape, labels))
    onnx_graph = helper.make_graph(nodes, "numbagrad", inputs, outs, initializers)
    return helper.make_model(onnx_graph, producer_name="numbagrad",
                             opset_imports=[helper.make_opsetid("", opset)])


def _name(names, ref):
    """The ONNX name of a value: an op's result, or one of its extras (`out_indices`)."""
    return f"{names[ref[0]]}_{ref[1]}" if is_aux(ref) else names[ref]


def _shape(graph, node):
    data = graph.nodes[node]
    return tuple(data["shape"]) if data["kind"] == "op" else tuple(data["tensor"].shape)


__all__ = ["export", "TrainingMode", "is_in_onnx_export"]
