"""One ONNX translation per primitive: `convert(node, inputs, out, emit)` adds the ONNX
nodes computing the op from the names of its inputs into the name `out`; `emit(op_type,
inputs, outputs=None, **attributes)` adds a node (returning its output name) and
`constant(array)` an initializer. The table is keyed by the primitives themselves."""
import numpy as np

from ..ops import activation, conversion, indexing, linalg, pointwise, reduction, shape

_SAME = {  # primitives that are one ONNX op of the same inputs
    pointwise._add: "Add", pointwise._sub: "Sub", pointwise._mul: "Mul",
    pointwise._div: "Div", pointwise._pow: "Pow", pointwise._neg: "Neg",
    pointwise._exp: "Exp", pointwise._log: "Log", pointwise._sqrt: "Sqrt",
    pointwise._abs: "Abs", pointwise._sign: "Sign", pointwise._floor: "Floor",
    pointwise._ceil: "Ceil", pointwise._sin: "Sin", pointwise._cos: "Cos",
    pointwise._tan: "Tan", pointwise._erf: "Erf", pointwise._maximum: "Max",
    pointwise._minimum: "Min", pointwise._where: "Where",
    activation._tanh: "Tanh", activation._sigmoid: "Sigmoid", activation._relu: "Relu",
    linalg._mm: "MatMul", linalg._bmm: "MatMul",
}
_RESHAPES = (shape._view, shape._reshape_copy, shape._squeeze, shape._squeeze_dim,
             shape._unsqueeze)
_PERMUTES = (shape._permute, shape._transpose, shape._t)


def convert(op, attrs, inputs, out, emit, constant, index_inputs):
    """Emit `op` as ONNX nodes writing `out`; False if there is no translation."""
    if op in _SAME:
        emit(_SAME[op], inputs, [out])
    elif op is linalg._linear:
        weight_t = emit("Transpose", [inputs[1]], perm=[1, 0])
        emit("Add", [emit("MatMul", [inputs[0], weight_t]), inputs[2]], [out])
    elif op is linalg._linear_no_bias:
        emit("MatMul", [inputs[0], emit("Transpose", [inputs[1]], perm=[1, 0])], [out])
    elif op in _RESHAPES:
        emit("Reshape", [inputs[0], constant(np.array(attrs["shape"], np.int64))], [out])
    elif op in _PERMUTES:
        emit("Transpose", inputs, [out], perm=list(attrs["dims"]))
    elif op is shape._expand:
        emit("Expand", [inputs[0], constant(np.array(attrs["shape"], np.int64))], [out])
    elif op is pointwise._pow_scalar:
        emit("Pow", [inputs[0], constant(np.array(attrs["exponent"]), like=inputs[0])], [out])
    elif op is activation._gelu:  # x/2 (1 + erf(x / sqrt 2)): Gelu itself is opset 20
        x = inputs[0]
        scaled = emit("Div", [x, constant(np.array(np.sqrt(2.0)), like=x)])
        one_plus = emit("Add", [emit("Erf", [scaled]), constant(np.array(1.0), like=x)])
        emit("Mul", [emit("Mul", [x, one_plus]), constant(np.array(0.5), like=x)], [out])
    elif op in (activation._softmax, activation._log_softmax):
        kind = "Softmax" if op is activation._softmax else "LogSoftmax"
        emit(kind, inputs, [out], axis=attrs["dim"])
    elif op in (reduction._sum_dims, reduction._mean_dims, reduction._amax):
        keep = int(attrs["keepdim"])
        if op is reduction._sum_dims:  # ReduceSum takes its axes as an input from opset 13
            emit("ReduceSum", [inputs[0], constant(np.array(attrs["dims"], np.int64))], [out],
                 keepdims=keep)
        else:
            kind = "ReduceMean" if op is reduction._mean_dims else "ReduceMax"
            emit(kind, inputs, [out], axes=list(attrs["dims"]), keepdims=keep)
    elif op in (reduction._sum_all, reduction._mean_all):
        kind = "ReduceSum" if op is reduction._sum_all else "ReduceMean"
        emit(kind, inputs, [out], keepdims=0)
    elif op is conversion._to_dtype:
        from onnx import helper

        emit("Cast", inputs, [out], to=helper.np_dtype_to_tensor_dtype(np.dtype(attrs["dtype"])))
    elif op is indexing._index and len(index_inputs) == 1 and len(attrs["index"]) == 1:
        emit("Gather", [inputs[0], index_inputs[0]], [out], axis=0)  # an embedding lookup
    else:
        return False
    return True
