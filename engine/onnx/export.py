"""Exporting a model to ONNX: trace its forward once (engine.compile's tracer), simplify
the graph (common subexpressions, constants, dead code), translate each primitive
(convert.py), and write the model with the `onnx` package."""
import enum
import os

import numpy as np

from ..autograd.grad_mode import no_grad
from ..compiler import passes
from ..compiler.trace import GraphBreak, Tracer, producer
from ..tensor import Tensor
from .convert import convert

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

    The model is traced once with these inputs, so the file holds their shapes; Python
    control flow is fixed as it ran. The model is put in eval mode for the export unless
    `training` says otherwise. Returns the onnx ModelProto.
    """
    try:
        import onnx
    except ImportError:
        raise RuntimeError("onnx.export needs the onnx package: pip install onnx") from None
    _refuse(other, export_params, dynamic_axes, keep_initializers_as_inputs, external_data)
    opset = DEFAULT_OPSET if opset_version is None else opset_version
    if not 14 <= opset <= 17:
        raise ValueError(f"onnx.export: opset_version={opset} is not supported (14 to 17)")
    args = args if isinstance(args, tuple) else (args,)
    if not all(isinstance(a, Tensor) for a in args) or kwargs:
        raise TypeError("onnx.export: args must be a tensor or a tuple of tensors (keyword "
                        "arguments are not supported)")
    graph, outputs, params = _trace(model, args, training)
    graph, outputs = passes.common_subexpressions(graph, outputs)
    if do_constant_folding:
        graph, outputs = passes.fold_constants(graph, outputs, frozen=set())
    graph = passes.dead_code(graph, outputs)
    proto = _build(onnx, graph, args, outputs, params, input_names, output_names, opset)
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


def _refuse(other, export_params, dynamic_axes, keep_initializers_as_inputs, external_data):
    if other:
        raise TypeError(f"onnx.export got unexpected keyword arguments {sorted(other)}")
    if not export_params:
        raise NotImplementedError("onnx.export: export_params=False (weights as inputs) is not "
                                  "supported")
    if dynamic_axes:
        raise NotImplementedError("onnx.export: dynamic_axes is not supported yet: the graph "
                                  "is traced with the given inputs' shapes, which the file "
                                  "then requires")
    if keep_initializers_as_inputs or external_data:
        raise NotImplementedError("onnx.export: keep_initializers_as_inputs and external_data "
                                  "are not supported")


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
    tracer = Tracer(fullgraph=True)
    _exporting[0] = True
    try:
        with no_grad(), tracer:
            for i, t in enumerate(args):
                tracer.add_input(t, "arg", i)
            result = model(*args)
            results = list(result) if isinstance(result, (tuple, list)) else [result]
            outputs = [tracer.node_of(t) for t in results]
    except GraphBreak as e:
        raise RuntimeError(f"onnx.export: the model cannot be traced: {e}") from None
    finally:
        _exporting[0] = False
        if modules:
            for m, flag in zip(model.modules(), was_training):
                m.training = flag
    return tracer.graph, outputs, params


def _build(onnx, graph, args, outputs, params, input_names, output_names, opset):
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
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    input_names = list(input_names or [])
    dtype_of = {}
    inputs = []
    for i, t in enumerate(args):
        name = input_names[i] if i < len(input_names) else f"input_{i}"
        names[("arg", i)] = name
        dtype_of[name] = t._data.dtype
        inputs.append(helper.make_tensor_value_info(
            name, helper.np_dtype_to_tensor_dtype(t._data.dtype), list(t.shape)))
    for node in sorted(n for n in graph if graph.nodes[n]["kind"] == "const"):
        tensor = graph.nodes[node]["tensor"]
        name = params.get(id(tensor)) or fresh("constant")
        names[node] = name
        dtype_of[name] = tensor._data.dtype
        constant(tensor.detach().cpu().numpy(), name=name)
    for node in sorted((n for n in graph if graph.nodes[n]["kind"] == "op"),
                       key=lambda n: n[1]):
        data = graph.nodes[node]
        out = names[node] = fresh(data["op"].op_name)
        dtype_of[out] = data["dtype"]
        ins = [names[producer(r)] for r in data["inputs"]]
        index_inputs = [names[producer(r)] for r in data.get("attr_arrays", {}).values()]
        if not convert(data["op"], data["attrs"], ins, out, emit, constant, index_inputs):
            raise RuntimeError(f"onnx.export: {data['op'].op_name} has no ONNX translation yet "
                               f"(supported: linear layers, matrix products, elementwise "
                               f"arithmetic and activations, softmax, reductions, reshapes, "
                               f"permutes, embeddings)")
    output_names = list(output_names or [])
    outs = []
    for j, ref in enumerate(outputs):
        name = output_names[j] if j < len(output_names) else f"output_{j}"
        source = names[producer(ref)]
        emit("Identity", [source], [name])
        data = graph.nodes[producer(ref)]
        dtype = data["dtype"] if data["kind"] == "op" else data["tensor"]._data.dtype
        shape = data["shape"] if data["kind"] == "op" else data["tensor"]._data.shape
        outs.append(helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(dtype),
                                                  list(shape)))
    onnx_graph = helper.make_graph(nodes, "numbagrad", inputs, outs, initializers)
    return helper.make_model(onnx_graph, producer_name="numbagrad",
                             opset_imports=[helper.make_opsetid("", opset)])


__all__ = ["export", "TrainingMode", "is_in_onnx_export"]
