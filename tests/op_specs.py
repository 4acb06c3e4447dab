"""The op table as test data: every op, written once for both engine and torch.

`fn(m, *xs)` is called with `m` = engine or `m` = torch, so one lambda states the
op for both. Inputs are described by `Arg`: shape, dtype kind and value domain.
"""
import dataclasses

import numpy as np


@dataclasses.dataclass
class Arg:
    shape: tuple
    domain: str = "real"  # real | positive | unit | nonzero | index:<high> | mask | probs
    grad: bool = True


@dataclasses.dataclass
class Spec:
    name: str
    fn: object
    args: list
    second_order: bool = True
    # False only where float64 central differences cannot see the gradient.
    gradcheck: bool = True
    same_node_name: bool = True
    rtol: float = 1e-4
    # Built only from ops that have specs of their own: the CUDA sweep runs it once
    # (float32, contiguous), as its kernels' dtypes and strides are swept there.
    composite: bool = False


def make_array(arg, rng, float_dtype):
    """Values for one argument, from the domain each op is defined on."""
    if arg.domain.startswith("index:"):
        return rng.integers(0, int(arg.domain.split(":")[1]), arg.shape).astype(np.int64)
    if arg.domain == "mask":
        return rng.random(arg.shape) > 0.5
    if arg.domain == "positive":
        x = rng.random(arg.shape) + 0.5
    elif arg.domain == "unit":
        x = rng.random(arg.shape) * 0.9 + 0.05
    elif arg.domain == "nonzero":  # away from kinks at 0 (abs, relu, clamp's bounds)
        x = (rng.random(arg.shape) + 0.1) * rng.choice([-1.0, 1.0], arg.shape)
    elif arg.domain == "probs":
        x = rng.random(arg.shape) + 0.1
        x = x / x.sum(axis=-1, keepdims=True)
    else:
        x = rng.standard_normal(arg.shape)
    return x.astype(float_dtype)


def _setitem(x, value):
    y = x * 1
    y[:, 1] = value
    return y


def F(m):
    return m.nn.functional


A = Arg
S = Spec
M34, V4, V3 = (3, 4), (4,), (3,)

SPECS = [
    # ---- elementwise, unary
    S("neg", lambda m, x: -x, [A(M34)]),
    S("exp", lambda m, x: m.exp(x), [A(M34)]),
    S("log", lambda m, x: m.log(x), [A(M34, "positive")]),
    S("log1p", lambda m, x: m.log1p(x), [A(M34, "positive")]),
    S("sqrt", lambda m, x: m.sqrt(x), [A(M34, "positive")]),
    S("abs", lambda m, x: m.abs(x), [A(M34, "nonzero")]),
    S("sign", lambda m, x: m.sign(x) * x, [A(M34, "nonzero")], same_node_name=False),
    S("sin", lambda m, x: m.sin(x), [A(M34)]),
    S("floor", lambda m, x: m.floor(x * 3) + x, [A(M34)], same_node_name=False),
    S("ceil", lambda m, x: m.ceil(x * 3) * x, [A(M34)], same_node_name=False),
    S("round", lambda m, x: m.round(x * 3) * x, [A(M34)], same_node_name=False),
    S("cos", lambda m, x: m.cos(x), [A(M34)]),
    S("tanh", lambda m, x: m.tanh(x), [A(M34)]),
    S("tan", lambda m, x: m.tan(x), [A(M34, "unit")]),
    S("asin", lambda m, x: m.asin(x), [A(M34, "unit")]),
    S("acos", lambda m, x: x.acos(), [A(M34, "unit")]),
    S("atan", lambda m, x: m.atan(x), [A(M34)]),
    S("sinh", lambda m, x: m.sinh(x), [A(M34)]),
    S("cosh", lambda m, x: x.cosh(), [A(M34)]),
    S("erf", lambda m, x: m.erf(x), [A(M34)]),
    S("exp2", lambda m, x: m.exp2(x), [A(M34)]),
    S("expm1", lambda m, x: x.expm1(), [A(M34)]),
    S("trunc", lambda m, x: m.trunc(x * 3) * x, [A(M34)], same_node_name=False),
    S("frac", lambda m, x: m.frac(x * 3), [A(M34, "nonzero")],
      same_node_name=False, composite=True),
    S("atan2", lambda m, a, b: m.atan2(a, b), [A(M34), A(V4, "nonzero")]),
    S("fmod", lambda m, a, b: m.fmod(a * 3, b), [A(M34), A(M34, "nonzero")],
      same_node_name=False),
    S("hypot", lambda m, a, b: m.hypot(a, b), [A(M34, "nonzero"), A(M34)],
      same_node_name=False, composite=True),
    S("logaddexp", lambda m, a, b: m.logaddexp(a, b), [A(M34), A(V4)],
      same_node_name=False, composite=True),
    S("sigmoid", lambda m, x: m.sigmoid(x), [A(M34)]),
    S("relu", lambda m, x: m.relu(x), [A(M34, "nonzero")]),
    S("hardswish", lambda m, x: F(m).hardswish(x * 3), [A(M34, "nonzero")],
      same_node_name=False, composite=True),
    S("mish", lambda m, x: F(m).mish(x), [A(M34)], same_node_name=False, composite=True),
    S("prelu_channels", lambda m, x, w: F(m).prelu(x, w), [A((2, 4, 3), "nonzero"), A(V4)],
      same_node_name=False, composite=True),
    S("leaky_relu", lambda m, x: F(m).leaky_relu(x, 0.2), [A(M34, "nonzero")]),
    S("gelu", lambda m, x: F(m).gelu(x), [A(M34)]),
    S("gelu_tanh", lambda m, x: F(m).gelu(x, approximate="tanh"), [A(M34)],
      same_node_name=False),
    S("softplus", lambda m, x: F(m).softplus(x, beta=2.0, threshold=1.0), [A(M34)]),
    S("elu", lambda m, x: F(m).elu(x), [A(M34, "nonzero")], same_node_name=False),
    S("silu", lambda m, x: F(m).silu(x), [A(M34)], same_node_name=False),
    S("clamp", lambda m, x: m.clamp(x, -0.5, 0.5), [A(M34)]),
    S("clamp_min", lambda m, x: x.clamp(min=0.1), [A(M34)], same_node_name=False),
    S("rsqrt", lambda m, x: m.rsqrt(x), [A(M34, "positive")], same_node_name=False),
    S("reciprocal", lambda m, x: m.reciprocal(x), [A(M34, "positive")],
      same_node_name=False),
    S("square", lambda m, x: m.square(x), [A(M34)], same_node_name=False),
    S("pow_scalar", lambda m, x: x ** 2.5, [A(M34, "positive")]),
    S("pow_int", lambda m, x: m.pow(x, 3), [A(M34)]),
    S("pow_zero", lambda m, x: x ** 0, [A(M34)]),
    # A float32 round trip rounds away gradcheck's 1e-6 steps: checked against torch only.
    S("to_dtype", lambda m, x: x.to(m.float32).double() * x, [A(M34)], same_node_name=False,
      gradcheck=False),
    # ---- elementwise, binary, with broadcasting
    S("add", lambda m, a, b: a + b, [A(M34), A(V4)]),
    S("add_alpha", lambda m, a, b: m.add(a, b, alpha=2.0), [A(M34), A(M34)]),
    S("sub", lambda m, a, b: a - b, [A((2, 1, 3)), A((4, 1))]),
    S("rsub", lambda m, x: 2 - x, [A(M34)], same_node_name=False),
    S("mul", lambda m, a, b: a * b, [A(M34), A((3, 1))]),
    S("mul_scalar", lambda m, x: x * 3.0, [A(M34)]),
    S("div", lambda m, a, b: a / b, [A(M34), A(V4, "positive")]),
    S("rdiv", lambda m, x: 1.5 / x, [A(M34, "positive")], same_node_name=False),
    S("pow_tensor", lambda m, a, b: a ** b, [A(M34, "positive"), A(V4)]),
    S("remainder", lambda m, a, b: a % b, [A(M34), A(V4, "positive")]),
    S("maximum", lambda m, a, b: m.maximum(a, b), [A(M34), A(V4)]),
    S("minimum", lambda m, a, b: m.minimum(a, b), [A(M34), A(V4)]),
    S("where", lambda m, c, a, b: m.where(c, a, b), [A(M34, "mask", False), A(M34), A(V4)]),
    S("xlogy", lambda m, a, b: m.xlogy(a, b), [A(M34, "positive"), A(M34, "positive")],
      same_node_name=False),
    # ---- reductions
    S("sum", lambda m, x: x.sum(), [A(M34)]),
    S("sum_dim", lambda m, x: x.sum(1), [A(M34)]),
    S("sum_dims_keepdim", lambda m, x: x.sum((0, 2), keepdim=True), [A((2, 3, 4))]),
    S("mean", lambda m, x: x.mean(), [A(M34)]),
    S("mean_dim", lambda m, x: x.mean(-1, keepdim=True), [A(M34)]),
    S("max", lambda m, x: x.max(), [A(M34)]),
    S("max_dim", lambda m, x: x.max(1).values, [A(M34)]),
    S("min_dim", lambda m, x: x.min(0, keepdim=True)[0], [A(M34)]),
    S("amax", lambda m, x: m.amax(x, (0, 2)), [A((2, 3, 4))]),
    S("amin", lambda m, x: m.amin(x, 1), [A(M34)]),
    S("min_all", lambda m, x: x.min(), [A(M34)]),
    S("logsumexp", lambda m, x: m.logsumexp(x, 1), [A(M34)]),
    S("var", lambda m, x: x.var(1), [A(M34)]),
    S("var_all", lambda m, x: x.var(correction=0), [A(M34)]),
    S("std", lambda m, x: x.std(0, keepdim=True), [A(M34)]),
    # ---- convolution and pooling (unfold and fold carry every gradient)
    S("unfold", lambda m, x: F(m).unfold(x, (2, 3), padding=1, stride=(1, 2)),
      [A((1, 2, 3, 4))]),
    S("fold", lambda m, x: F(m).fold(x, (3, 4), 2), [A((1, 8, 6))]),
    S("conv2d", lambda m, x, w, b: F(m).conv2d(x, w, b), [A((2, 2, 4, 3)), A((3, 2, 2, 2)),
                                                          A(V3)], same_node_name=False),
    S("conv_transpose2d", lambda m, x, w, b: F(m).conv_transpose2d(
        x, w, b, stride=2, padding=1, output_padding=1, groups=2),
      [A((2, 4, 3, 2)), A((4, 1, 3, 2)), A((2,))], same_node_name=False, composite=True),
    S("interpolate_bilinear", lambda m, x: F(m).interpolate(x, size=(4, 5), mode="bilinear"),
      [A((1, 2, 3, 3))], same_node_name=False, composite=True),
    S("interpolate_nearest", lambda m, x: F(m).interpolate(x, scale_factor=2), [A((1, 2, 2, 3))],
      same_node_name=False, composite=True),
    S("group_norm", lambda m, x, w, b: F(m).group_norm(x, 2, w, b), [A((2, 4, 3)), A(V4), A(V4)],
      same_node_name=False, composite=True),
    S("max_pool2d_ceil", lambda m, x: F(m).max_pool2d(x, 3, 2, 1, ceil_mode=True),
      [A((1, 2, 5, 4))], same_node_name=False, composite=True),
    S("adaptive_max_pool2d", lambda m, x: F(m).adaptive_max_pool2d(x, (2, 3)),
      [A((1, 2, 5, 4))], same_node_name=False, composite=True),
    S("max_unpool2d", lambda m, x: F(m).max_unpool2d(*F(m).max_pool2d(
        x, 2, return_indices=True), 2), [A((1, 2, 4, 4))], same_node_name=False, composite=True),
    S("conv2d_stride_padding_dilation",
      lambda m, x, w: F(m).conv2d(x, w, stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
      [A((1, 2, 4, 4)), A((2, 2, 2, 2))], same_node_name=False),
    S("conv2d_groups_same", lambda m, x, w: F(m).conv2d(x, w, padding="same", groups=2),
      [A((1, 4, 3, 3)), A((2, 2, 3, 1))], same_node_name=False),
    S("conv1d", lambda m, x, w, b: F(m).conv1d(x, w, b, stride=2, padding=1, groups=2),
      [A((2, 4, 5)), A((2, 2, 3)), A((2,))], same_node_name=False),
    S("max_pool1d", lambda m, x: F(m).max_pool1d(x, 3, 1, 1), [A((2, 2, 5))],
      same_node_name=False),
    S("avg_pool1d", lambda m, x: F(m).avg_pool1d(x, 2), [A((2, 5))], same_node_name=False),
    S("adaptive_avg_pool2d", lambda m, x: F(m).adaptive_avg_pool2d(x, (2, 3)),
      [A((1, 2, 5, 4))], same_node_name=False),
    S("pad_constant", lambda m, x: F(m).pad(x, (1, -1, 2, 0), value=0.5), [A((1, 3, 3))],
      same_node_name=False),
    S("pad_reflect", lambda m, x: F(m).pad(x, (2, 1), mode="reflect"), [A((2, 3, 4))],
      same_node_name=False),
    S("pad_replicate", lambda m, x: F(m).pad(x, (0, 2, 1, 1), mode="replicate"),
      [A((1, 2, 3, 2))], same_node_name=False),
    S("pad_circular", lambda m, x: F(m).pad(x, (3, -1), mode="circular"), [A((2, 3, 4))],
      same_node_name=False),
    S("max_pool2d", lambda m, x: F(m).max_pool2d(x, 2, stride=1, padding=1),
      [A((1, 2, 3, 4))], same_node_name=False),
    S("avg_pool2d", lambda m, x: F(m).avg_pool2d(x, (2, 3), padding=1),
      [A((1, 2, 4, 4))], same_node_name=False),
    S("avg_pool2d_exclude_pad",
      lambda m, x: F(m).avg_pool2d(x, 2, stride=1, padding=1, count_include_pad=False),
      [A((2, 3, 3))], same_node_name=False),
    S("sort", lambda m, x: x.sort(1).values, [A(M34)], same_node_name=False),
    S("sort_descending_dim0", lambda m, x: m.sort(x, 0, descending=True)[0], [A(M34)],
      same_node_name=False),
    S("topk", lambda m, x: x.topk(2).values, [A(M34)], same_node_name=False),
    S("topk_smallest_dim0", lambda m, x: m.topk(x, 2, dim=0, largest=False).values,
      [A(M34)], same_node_name=False),
    S("norm", lambda m, x: x.norm(), [A(M34)]),
    S("norm_fro_dims", lambda m, x: m.norm(x, "fro", dim=(0, 2)), [A((2, 3, 4))]),
    S("norm_p1", lambda m, x: x.norm(p=1, dim=1), [A(M34, "nonzero")]),
    S("norm_p3_keepdim", lambda m, x: x.norm(p=3, dim=0, keepdim=True), [A(M34, "nonzero")]),
    S("norm_p_half", lambda m, x: x.norm(p=0.5, dim=-1), [A(M34, "nonzero")]),
    S("norm_inf", lambda m, x: x.norm(p=float("inf"), dim=1), [A(M34, "nonzero")],
      same_node_name=False),
    S("norm_minus_inf", lambda m, x: x.norm(p=-float("inf")), [A(M34, "nonzero")],
      same_node_name=False),
    # ---- softmax family
    S("softmax", lambda m, x: m.softmax(x, 1), [A(M34)]),
    S("softmax_dim0", lambda m, x: m.softmax(x, 0), [A((3, 4, 2))]),
    S("log_softmax", lambda m, x: m.log_softmax(x, -1), [A(M34)]),
    S("log_softmax_mid", lambda m, x: F(m).log_softmax(x, 1), [A((2, 3, 4))]),
    # ---- linear algebra
    S("matmul_mm", lambda m, a, b: a @ b, [A(M34), A((4, 2))]),
    S("matmul_dot", lambda m, a, b: m.matmul(a, b), [A(V4), A(V4)]),
    S("matmul_mv", lambda m, a, b: m.matmul(a, b), [A(M34), A(V4)]),
    S("matmul_vm", lambda m, a, b: m.matmul(a, b), [A(V3), A(M34)], same_node_name=False),
    S("matmul_batched", lambda m, a, b: a @ b, [A((2, 3, 4)), A((2, 4, 2))],
      same_node_name=False),
    S("matmul_broadcast", lambda m, a, b: a @ b, [A((2, 3, 4)), A((4, 2))],
      same_node_name=False),
    S("mm", lambda m, a, b: m.mm(a, b), [A(M34), A((4, 2))]),
    S("bmm", lambda m, a, b: m.bmm(a, b), [A((2, 3, 4)), A((2, 4, 2))]),
    S("addmm", lambda m, c, a, b: m.addmm(c, a, b), [A((2,)), A(M34), A((4, 2))]),
    S("addmm_scaled", lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=2.0),
      [A((3, 2)), A(M34), A((4, 2))]),
    S("linear", lambda m, x, w, b: F(m).linear(x, w, b), [A(M34), A((2, 4)), A((2,))]),
    S("linear_no_bias", lambda m, x, w: F(m).linear(x, w), [A(M34), A((2, 4))],
      same_node_name=False),
    S("linear_3d", lambda m, x, w, b: F(m).linear(x, w, b), [A((2, 3, 4)), A((2, 4)), A((2,))],
      same_node_name=False),
    S("outer", lambda m, a, b: m.outer(a, b), [A(V3), A(V4)], same_node_name=False),
    # ---- shapes and views
    S("reshape", lambda m, x: x.reshape(2, -1), [A(M34)]),
    S("view", lambda m, x: x.view(4, 3), [A(M34)]),
    S("reshape_noncontiguous", lambda m, x: x.t().reshape(-1), [A(M34)],
      same_node_name=False),
    S("permute", lambda m, x: x.permute(2, 0, 1), [A((2, 3, 4))]),
    S("transpose", lambda m, x: x.transpose(0, 2), [A((2, 3, 4))]),
    S("t", lambda m, x: x.t(), [A(M34)]),
    S("T", lambda m, x: x.T, [A(M34)]),
    S("expand", lambda m, x: x.expand(2, 3, 4), [A((3, 1))]),
    S("repeat", lambda m, x: x.repeat(2, 1, 3), [A(M34)], same_node_name=False),
    S("repeat_list", lambda m, x: x.repeat([3]), [A(V3)], same_node_name=False),
    S("squeeze", lambda m, x: x.squeeze(), [A((3, 1, 4, 1))]),
    S("squeeze_dim", lambda m, x: x.squeeze(1), [A((3, 1, 4))]),
    S("unsqueeze", lambda m, x: x.unsqueeze(1), [A(M34)]),
    S("flatten", lambda m, x: x.flatten(1), [A((2, 3, 4))]),
    S("cat", lambda m, a, b: m.cat([a, b], 1), [A(M34), A((3, 2))]),
    S("stack", lambda m, a, b: m.stack([a, b], 1), [A(M34), A(M34)]),
    S("split", lambda m, x: x.split([1, 3], 1)[1] * 2, [A(M34)], same_node_name=False),
    S("chunk", lambda m, x: x.chunk(2, 1)[0], [A(M34)], same_node_name=False),
    S("clone", lambda m, x: x.clone(), [A(M34)]),
    S("contiguous", lambda m, x: x.t().contiguous(), [A(M34)]),
    S("tril", lambda m, x: m.tril(x), [A(M34)], composite=True),
    S("triu_batched_diagonal", lambda m, x: x.triu(1), [A((2, 3, 4))],
      same_node_name=False, composite=True),
    S("tril_negative_diagonal", lambda m, x: x.tril(-1), [A((4, 3))],
      same_node_name=False, composite=True),
    S("flip", lambda m, x: x.flip([0, 2]), [A((2, 3, 4))], composite=True),
    S("roll", lambda m, x: m.roll(x, (1, -2), (0, 1)), [A(M34)], composite=True),
    S("roll_flat", lambda m, x: x.roll(5), [A(M34)], same_node_name=False, composite=True),
    S("diff", lambda m, x, p: m.diff(x, n=2, dim=0, prepend=p), [A((4, 3)), A((1, 3))],
      same_node_name=False, composite=True),
    S("pixel_shuffle", lambda m, x: F(m).pixel_unshuffle(F(m).pixel_shuffle(x, 2) * 1.5, 2),
      [A((2, 8, 2, 3))], same_node_name=False, composite=True),
    S("cumsum", lambda m, x: m.cumsum(x, 1), [A(M34)]),
    S("einsum_attention", lambda m, q, k: m.einsum("bqd,bkd->bqk", q, k),
      [A((2, 3, 4)), A((2, 5, 4))], same_node_name=False, composite=True),
    S("einsum_diagonal_sum", lambda m, x, y: m.einsum("iij,j->i", x, y),
      [A((3, 3, 2)), A((2,))], same_node_name=False, composite=True),
    # ---- indexing
    S("slice", lambda m, x: x[1:, ::2], [A(M34)]),
    S("select", lambda m, x: x[1], [A(M34)]),
    S("index_repeats", lambda m, x: x[[0, 2, 0]], [A(M34)]),
    S("index_mask", lambda m, x: x[x > 0], [A(M34)]),
    S("index_mixed", lambda m, x: x[:, [1, 1, 3]], [A(M34)]),
    S("setitem", lambda m, x, v: _setitem(x, v), [A(M34), A(V3)]),
    S("setitem_scalar", lambda m, x: _setitem(x, 2.0), [A(M34)]),
    S("gather", lambda m, x, i: m.gather(x, 1, i), [A(M34), A((3, 2), "index:4", False)]),
    S("index_select", lambda m, x, i: m.index_select(x, 0, i),
      [A(M34), A((5,), "index:3", False)], same_node_name=False),
    S("scatter_add", lambda m, x, i, s: m.scatter_add(x, 1, i, s),
      [A(M34), A(M34, "index:4", False), A(M34)], same_node_name=False),
    S("masked_fill", lambda m, x, c: x.masked_fill(c, 0.5), [A(M34), A(M34, "mask", False)],
      same_node_name=False),
    S("scatter", lambda m, x, v: x.scatter(
        1, m.tensor([[0, 2], [1, 3], [3, 0]], device=x.device), v),
      [A(M34), A((3, 2))], same_node_name=False, composite=True),
    S("scatter_value", lambda m, x: m.scatter(x, 0, m.tensor([[2, 0, 1, 1]], device=x.device),
                                                 value=7.0),
      [A(M34)], same_node_name=False, composite=True),
    S("index_add", lambda m, x, v: x.index_add(0, m.tensor([2, 0], device=x.device), v,
                                                     alpha=0.5),
      [A(M34), A((2, 4))], same_node_name=False, composite=True),
    S("index_fill", lambda m, x: x.index_fill(1, m.tensor([0, 2], device=x.device), -1.0), [A(M34)],
      same_node_name=False, composite=True),
    S("masked_select", lambda m, x, c: x.masked_select(c), [A(M34), A(V4, "mask", False)],
      same_node_name=False, composite=True),
    S("repeat_interleave", lambda m, x: x.repeat_interleave(m.tensor([1, 0, 2]), dim=0),
      [A(M34)], same_node_name=False, composite=True),
    S("hstack_vstack", lambda m, x: m.vstack([m.hstack([x, x[:, :1]]), x[0].repeat(2)[:5]]),
      [A(M34)], same_node_name=False, composite=True),
    S("dstack_column_stack", lambda m, x: m.dstack([x, m.column_stack([x[:, 0], x[:, 1:]])]),
      [A(M34)], same_node_name=False, composite=True),
    S("meshgrid_xy", lambda m, a, b: m.meshgrid(a, b, indexing="xy")[0]
      * m.meshgrid(a, b, indexing="xy")[1], [A(V4), A(V3)], same_node_name=False, composite=True),
    S("broadcast_tensors", lambda m, a, b: m.broadcast_tensors(a, b)[0]
      * m.broadcast_tensors(a, b)[1],
      [A((3, 1)), A(V4)], same_node_name=False, composite=True),
    S("view_as", lambda m, x, y: x.view_as(y), [A(M34), A((4, 3), grad=False)],
      same_node_name=False, composite=True),
    S("prod", lambda m, x: x.prod(), [A(M34)], same_node_name=False, composite=True),
    S("prod_dim", lambda m, x: x.prod(1, keepdim=True), [A(M34)],
      same_node_name=False, composite=True),
    S("cumprod", lambda m, x: m.cumprod(x, 1), [A(M34)], same_node_name=False, composite=True),
    S("diag_of_vector", lambda m, x: m.diag(x, 1), [A(V4)], same_node_name=False, composite=True),
    S("diagonal", lambda m, x: x.diagonal(1, 0, 2), [A((3, 2, 4))]),
    S("diagonal_negative_offset", lambda m, x: x.diagonal(-1) * 2, [A((4, 3))],
      same_node_name=False),
    S("trace", lambda m, x: x.trace(), [A(M34)], same_node_name=False, composite=True),
    S("inner", lambda m, a, b: m.inner(a, b), [A(M34), A((2, 4))],
      same_node_name=False, composite=True),
    S("baddbmm", lambda m, c, a, b: m.baddbmm(c, a, b, beta=0.5, alpha=2),
      [A((2, 3, 2)), A((2, 3, 4)), A((2, 4, 2))], same_node_name=False, composite=True),
    S("cdist", lambda m, a, b: m.cdist(a, b), [A(M34), A((2, 4))],
      same_node_name=False, composite=True),
    S("lerp", lambda m, a, b: m.lerp(a, b, 0.3), [A(M34), A(V4)],
      same_node_name=False, composite=True),
    S("addcmul_addcdiv", lambda m, x, a, b: x.addcmul(a, b, value=0.5).addcdiv(a, b, value=2),
      [A(M34), A(M34), A(V4, "positive")], same_node_name=False, composite=True),
    S("median_dim", lambda m, x: x.median(1).values, [A(M34)],
      same_node_name=False, composite=True),
    # ---- losses
    S("mse_loss", lambda m, a, b: F(m).mse_loss(a, b), [A(M34), A(M34)]),
    S("mse_loss_sum", lambda m, a, b: F(m).mse_loss(a, b, reduction="sum"), [A(M34), A(M34)]),
    S("mse_loss_none", lambda m, a, b: F(m).mse_loss(a, b, reduction="none"), [A(M34), A(M34)]),
    S("l1_loss", lambda m, a, b: F(m).l1_loss(a, b), [A(M34), A(M34)]),
    S("smooth_l1_loss", lambda m, a, b: F(m).smooth_l1_loss(a, b, beta=0.5), [A(M34), A(M34)],
      same_node_name=False),
    S("huber_loss", lambda m, a, b: F(m).huber_loss(a, b, delta=0.7), [A(M34), A(M34)],
      same_node_name=False),
    S("bce", lambda m, p, y: F(m).binary_cross_entropy(p, y), [A(M34, "unit"), A(M34, "unit")]),
    S("bce_weighted_sum", lambda m, p, y, w: F(m).binary_cross_entropy(p, y, w,
                                                                       reduction="sum"),
      [A(M34, "unit"), A(M34, "unit"), A(V4, "positive", False)]),
    S("bce_logits", lambda m, x, y: F(m).binary_cross_entropy_with_logits(x, y),
      [A(M34), A(M34, "unit")]),
    S("bce_logits_pos_weight", lambda m, x, y, w, pw: F(m).binary_cross_entropy_with_logits(
        x, y, w, pos_weight=pw, reduction="none"),
      [A(M34), A(M34, "unit"), A(M34, "positive", False), A(V4, "positive", False)]),
    S("cross_entropy", lambda m, x, t: F(m).cross_entropy(x, t), [A((5, 4)), A((5,), "index:4",
                                                                             False)],
      same_node_name=False),
    S("cross_entropy_weight_ignore", lambda m, x, t, w: F(m).cross_entropy(
        x, t, weight=w, ignore_index=2), [A((6, 4)), A((6,), "index:4", False),
                                          A(V4, "positive", False)], same_node_name=False),
    S("cross_entropy_smoothing", lambda m, x, t: F(m).cross_entropy(x, t, label_smoothing=0.2),
      [A((5, 4)), A((5,), "index:4", False)], same_node_name=False),
    S("cross_entropy_smoothing_weight", lambda m, x, t, w: F(m).cross_entropy(
        x, t, weight=w, label_smoothing=0.1, reduction="sum"),
      [A((5, 4)), A((5,), "index:4", False), A(V4, "positive", False)], same_node_name=False),
    S("cross_entropy_probs", lambda m, x, p: F(m).cross_entropy(x, p),
      [A((5, 4)), A((5, 4), "probs", False)], same_node_name=False),
    S("cross_entropy_spatial", lambda m, x, t: F(m).cross_entropy(x, t, reduction="none"),
      [A((2, 3, 4)), A((2, 4), "index:3", False)], same_node_name=False),
    S("nll_loss", lambda m, x, t: F(m).nll_loss(x, t), [A((5, 4)), A((5,), "index:4", False)]),
    S("nll_loss_single", lambda m, x, t: F(m).nll_loss(x, t), [A((4,)), A((), "index:4", False)]),
    S("kl_div", lambda m, x, t: F(m).kl_div(x, t, reduction="batchmean"),
      [A((3, 4)), A((3, 4), "probs", False)], same_node_name=False),
    S("layer_norm", lambda m, x, w, b: F(m).layer_norm(x, (4,), w, b), [A(M34), A(V4), A(V4)],
      same_node_name=False),
    # ---- composed of the ops above
    S("kron", lambda m, a, b: m.kron(a, b), [A((2, 3)), A((3, 1, 2))], same_node_name=False,
      composite=True),
    S("rot90", lambda m, x: m.rot90(x, 1, (0, 2)) + x.rot90(3, [1, 0]).sum() + x.rot90(2).mean(),
      [A((2, 2, 4))], same_node_name=False, composite=True),
    S("movedim_tile_ravel", lambda m, x: m.movedim(x, (0, 1), (2, 0)).tile((2, 1)).ravel(),
      [A((2, 3, 4))], same_node_name=False, composite=True),
    S("tensor_split", lambda m, x: m.cat([p.sum(0) * (i + 1) for i, p in enumerate(
        x.tensor_split(3) + m.tensor_split(x, [1, -2], dim=0))]),
      [A((7, 3))], same_node_name=False, composite=True),
    S("nansum_nanmean", lambda m, x: m.nansum(x, 1) + x.nanmean(0, keepdim=True).sum(),
      [A(M34)], same_node_name=False, composite=True),
    S("logit", lambda m, x: m.logit(x) + x.logit(eps=0.3), [A(M34, "unit")],
      same_node_name=False, composite=True),
    S("deg2rad_rad2deg", lambda m, x: m.deg2rad(x) * x.rad2deg(), [A(M34)],
      same_node_name=False, composite=True),
    S("fmax_fmin", lambda m, a, b: m.fmax(a, b) * m.fmin(a, b), [A(M34), A(V4)],
      same_node_name=False, composite=True),
    S("logdet", lambda m, x: m.logdet(x @ x.mT + m.eye(3, dtype=x.dtype, device=x.device)),
      [A((2, 3, 3))], same_node_name=False, composite=True),
]

BY_NAME = {s.name: s for s in SPECS}
