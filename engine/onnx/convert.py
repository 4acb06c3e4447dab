"""One ONNX translation per primitive: `convert(op, attrs, inputs, shapes, out, emit,
constant, index_inputs)` adds the ONNX nodes computing the op from the names of its
inputs (of static `shapes`) into the name `out`; `emit(op_type, inputs, outputs=None,
**attributes)` adds a node (returning its output name) and `constant(array)` an
initializer. An extra result (max's indices) is written to `out + "_" + its name`. The
table is keyed by the primitives themselves."""
import numpy as np

from kernels.windows import positions

from ..ops import activation, conv, conversion, indexing, linalg, pointwise, reduction, shape

_SAME = {  # primitives that are one ONNX op of the same inputs
    pointwise._add: "Add", pointwise._sub: "Sub", pointwise._mul: "Mul",
    pointwise._div: "Div", pointwise._pow: "Pow", pointwise._neg: "Neg",
    pointwise._exp: "Exp", pointwise._log: "Log", pointwise._sqrt: "Sqrt",
    pointwise._abs: "Abs", pointwise._sign: "Sign", pointwise._floor: "Floor",
    pointwise._ceil: "Ceil", pointwise._sin: "Sin", pointwise._cos: "Cos",
    pointwise._tan: "Tan", pointwise._erf: "Erf", pointwise._maximum: "Max",
    pointwise._minimum: "Min", pointwise._where: "Where",
    activation._tanh: "Tanh", activation._sigmoid: "Sigmoid", activation._relu: "Relu",
    linalg._mm: "MatMul", linalg._bmm: "MatMul", shape._clone: "Identity",
}
RESHAPES = (shape._view, shape._reshape_copy, shape._squeeze, shape._squeeze_dim,
             shape._unsqueeze)
_PERMUTES = (shape._permute, shape._transpose, shape._t)
_COMPARISONS = {"eq": "Equal", "lt": "Less", "le": "LessOrEqual", "gt": "Greater",
                "ge": "GreaterOrEqual"}


def _im2col(x, shape, attrs, out, emit, constant):
    """unfold as data movement, exact for any value (the -inf of max pooling's padding
    too): pad, flatten each image, gather every window's taps, reshape to columns."""
    _, c, h, w = shape
    (kh, kw), (dh, dw) = attrs["kernel"], attrs["dilation"]
    (ph, pw), (sh, sw) = attrs["padding"], attrs["stride"]
    oh, ow = positions(h, kh, dh, ph, sh), positions(w, kw, dw, pw, sw)
    if ph or pw:
        pads = constant(np.array([0, 0, ph, pw, 0, 0, ph, pw], np.int64))
        x = emit("Pad", [x, pads, constant(np.array(attrs["pad_value"]), like=x)])
    width = w + 2 * pw
    rows = (np.arange(kh) * dh)[:, None] + (np.arange(oh) * sh)[None, :]  # (kh, oh)
    cols = (np.arange(kw) * dw)[:, None] + (np.arange(ow) * sw)[None, :]  # (kw, ow)
    taps = rows[:, None, :, None] * width + cols[None, :, None, :]  # (kh, kw, oh, ow)
    flat = emit("Reshape", [x, constant(np.array([0, c, -1], np.int64))])
    picked = emit("Gather", [flat, constant(taps.reshape(-1).astype(np.int64))], axis=2)
    emit("Reshape", [picked, constant(np.array([0, c * kh * kw, oh * ow], np.int64))], [out])


def _col2im(cols, shape, attrs, out, emit, constant):
    """fold as a transposed convolution whose weights pick one tap per input channel
    (group per image channel): each column's value is added where its tap lies."""
    _, rows, count = shape
    (kh, kw), (dh, dw) = attrs["kernel"], attrs["dilation"]
    (ph, pw), (sh, sw) = attrs["padding"], attrs["stride"]
    (h, w), c = attrs["output_size"], rows // (kh * kw)
    oh, ow = positions(h, kh, dh, ph, sh), positions(w, kw, dw, pw, sw)
    row = np.arange(rows)  # column row c * kh * kw + i * kw + j holds tap (i, j)
    picks = np.zeros((rows, 1, kh, kw))
    picks[row, 0, row % (kh * kw) // kw, row % kw] = 1.0
    spread = emit("Reshape", [cols, constant(np.array([0, rows, oh, ow], np.int64))])
    covered = [(oh - 1) * sh + dh * (kh - 1) + 1 - 2 * ph, (ow - 1) * sw + dw * (kw - 1) + 1
               - 2 * pw]
    emit("ConvTranspose", [spread, constant(picks, like=cols)], [out], group=c,
         kernel_shape=[kh, kw], strides=[sh, sw], dilations=[dh, dw], pads=[ph, pw, ph, pw],
         output_padding=[h - covered[0], w - covered[1]])


_END = np.iinfo(np.int64).max


def _basic_index(x, rank, index, out, emit, constant):
    """x[index] for ints, slices, None and Ellipsis: one Slice over the sliced axes (the
    bounds as written, so negative ones count from the end at run time), then Squeeze
    the integer-indexed axes and Unsqueeze the new ones."""
    parts = list(index)
    if Ellipsis in parts:
        at = parts.index(Ellipsis)
        used = sum(p is not None for p in parts) - 1
        parts[at:at + 1] = [slice(None)] * (rank - used)
    starts, ends, axes, steps, dropped, added = [], [], [], [], [], []
    axis = 0
    for p in parts:
        if p is None:
            added.append(axis - len(dropped) + len(added))
            continue
        if not isinstance(p, slice):  # an integer, or one read at run time
            end = _END if p == -1 else (p + 1 if isinstance(p, int) else None)
            if end is None:
                raise NotImplementedError("onnx.export: an integer index that follows a "
                                          "dynamic axis")
            starts.append(p), ends.append(end), steps.append(1)
            axes.append(axis), dropped.append(axis)
        elif p != slice(None):
            starts.append(0 if p.start is None else p.start)
            ends.append(_END if p.stop is None else p.stop)
            axes.append(axis), steps.append(1 if p.step is None else p.step)
        axis += 1
    if axes:
        x = emit("Slice", [x] + [_int64s(v, emit, constant) for v in (starts, ends, axes, steps)])
    if dropped:
        x = emit("Squeeze", [x, constant(np.array(dropped, np.int64))])
    if added:
        x = emit("Unsqueeze", [x, constant(np.array(added, np.int64))])
    emit("Identity", [x], [out])


def _softplus(x, attrs, out, emit, constant):
    """log(1 + exp(beta x)) / beta, and x itself past the threshold (ONNX's Softplus has
    neither beta nor threshold)."""
    scaled = emit("Mul", [x, constant(np.array(attrs["beta"]), like=x)])
    smooth = emit("Div", [emit("Log", [emit("Add", [emit("Exp", [scaled]),
                                                    constant(np.array(1.0), like=x)])]),
                          constant(np.array(attrs["beta"]), like=x)])
    linear = emit("Greater", [scaled, constant(np.array(attrs["threshold"]), like=x)])
    emit("Where", [linear, x, smooth], [out])


def _int64s(values, emit, constant):
    """A 1-d int64 value: numbers as a constant; an (input name, axis) entry, a size that
    follows a dynamic axis (onnx/dynamic.py), read from that input's Shape at run time."""
    if all(isinstance(v, int) for v in values):
        return constant(np.array(values, np.int64))
    parts = [emit("Unsqueeze", [_size(v, emit, constant), constant(np.array([0], np.int64))])
             if isinstance(v, tuple) else constant(np.array([v], np.int64)) for v in values]
    return emit("Concat", parts, axis=0)


def _size(source, emit, constant):
    """An input's size along an axis as a 0-d int64, as PyTorch's exporter writes it
    (Shape, then Gather of a scalar index: the form onnxruntime's fusions expect)."""
    name, axis = source
    return emit("Gather", [emit("Shape", [name]), constant(np.array(axis, np.int64))], axis=0)


def emit_range(source, dtype, out, emit, constant):
    """arange(n) for a size n that follows a dynamic axis (read from `source`, an (input
    name, axis)), as an ONNX Range."""
    values = emit("Range", [constant(np.array(0, np.int64)), _size(source, emit, constant),
                            constant(np.array(1, np.int64))])
    from onnx import helper

    return emit("Cast", [values], [out], to=helper.np_dtype_to_tensor_dtype(np.dtype(dtype)))


def convert(op, attrs, inputs, shapes, out, emit, constant, index_inputs):
    """Emit `op` as ONNX nodes writing `out`; False if there is no translation."""
    if op in _SAME:
        emit(_SAME[op], inputs, [out])
    elif op is shape._cat:
        emit("Concat", inputs, [out], axis=attrs["dim"])
    elif op is shape._stack:
        axis = constant(np.array([attrs["dim"]], np.int64))
        emit("Concat", [emit("Unsqueeze", [x, axis]) for x in inputs], [out], axis=attrs["dim"])
    elif op is conv._unfold:
        _im2col(inputs[0], shapes[0], attrs, out, emit, constant)
    elif op is conv._fold:
        _col2im(inputs[0], shapes[0], attrs, out, emit, constant)
    elif op in (reduction._max_dim, reduction._min_dim):
        values, pick = ("ReduceMax", "ArgMax") if op is reduction._max_dim else \
            ("ReduceMin", "ArgMin")
        keep = int(attrs["keepdim"])
        emit(values, inputs, [out], axes=[attrs["dim"]], keepdims=keep)
        emit(pick, inputs, [out + "_indices"], axis=attrs["dim"], keepdims=keep)
    elif op.node_name in _COMPARISONS:
        emit(_COMPARISONS[op.node_name], inputs, [out])
    elif op.node_name == "ne":
        emit("Not", [emit("Equal", inputs)], [out])
    elif op is pointwise._clamp:
        bounds = [constant(np.array(b), like=inputs[0]) if b is not None else ""
                  for b in (attrs["low"], attrs["high"])]
        emit("Clip", [inputs[0], *bounds], [out])
    elif op is activation._leaky_relu:
        emit("LeakyRelu", inputs, [out], alpha=float(attrs["slope"]))
    elif op is activation._softplus:
        _softplus(inputs[0], attrs, out, emit, constant)
    elif op is linalg._linear:  # inputs: bias, x, weight (addmm's order)
        weight_t = emit("Transpose", [inputs[2]], perm=[1, 0])
        emit("Add", [emit("MatMul", [inputs[1], weight_t]), inputs[0]], [out])
    elif op is linalg._linear_no_bias:
        emit("MatMul", [inputs[0], emit("Transpose", [inputs[1]], perm=[1, 0])], [out])
    elif op in RESHAPES:
        emit("Reshape", [inputs[0], _int64s(attrs["shape"], emit, constant)], [out])
    elif op in _PERMUTES:
        emit("Transpose", inputs, [out], perm=list(attrs["dims"]))
    elif op is shape._expand:
        emit("Expand", [inputs[0], _int64s(attrs["shape"], emit, constant)], [out])
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
    elif op in (indexing._slice, indexing._select):
        _basic_index(inputs[0], len(shapes[0]), attrs["index"], out, emit, constant)
    elif op is indexing._index and len(index_inputs) == 1 and len(attrs["index"]) == 1:
        emit("Gather", [inputs[0], index_inputs[0]], [out], axis=0)  # an embedding lookup
    elif op is indexing._index and len(attrs["index"]) == 1 and not index_inputs:
        (index,) = attrs["index"]  # indices made in the model (positions: arange(T))
        if isinstance(index, tuple):  # arange of a dynamic size
            index = emit_range(index[1], np.int64, out + "_positions", emit, constant)
        else:
            index = constant(np.asarray(index, np.int64))
        emit("Gather", [inputs[0], index], [out], axis=0)
    else:
        return False
    return True
