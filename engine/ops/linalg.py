"""Matrix products with PyTorch's rules for 1-d, 2-d and batched operands. GEMM is BLAS."""
from .operands import broadcast_shapes, same_dtype
from .primitive import Primitive as P
from .registry import public
from .shape import as_new
from ..amp import lower_precision


def _mT(x):
    return x.transpose(-2, -1)


_mm = P("MmBackward0", lambda K, a, b: K.matmul(a, b),
        a=lambda g, b: g.mm(b.t()),
        b=lambda g, a: a.t().mm(g))
_bmm = P("BmmBackward0", lambda K, a, b: K.matmul(a, b),
         a=lambda g, b: g.matmul(_mT(b)),
         b=lambda g, a: _mT(a).matmul(g))
_dot = P("DotBackward0", lambda K, a, b: K.reshape(K.matmul(a, b), ()),
         a=lambda g, b: g * b,
         b=lambda g, a: g * a)
_mv = P("MvBackward0", lambda K, a, b: K.matmul(a, b),
        a=lambda g, b: g.unsqueeze(1) * b,
        b=lambda g, a: a.t().mv(g))


def _addmm_forward(K, bias, a, b, *, beta, alpha):
    out = K.matmul(a, b)
    if alpha != 1:
        K.mul(out, alpha, out=out)
    K.add(out, K.mul(bias, beta) if beta != 1 else bias, out=out)
    return out


_addmm = P("AddmmBackward0", _addmm_forward,
           bias=lambda g, beta: g * beta if beta != 1 else g,
           a=lambda g, b, alpha: g.mm(b.t()) * alpha if alpha != 1 else g.mm(b.t()),
           b=lambda g, a, alpha: a.t().mm(g) * alpha if alpha != 1 else a.t().mm(g))


def _mismatch(name, a, b, inner_a, inner_b):
    return RuntimeError(f"{name}: mat1 and mat2 shapes cannot be multiplied "
                        f"({' x '.join(map(str, a.shape))} and {' x '.join(map(str, b.shape))})"
                        f": inner dimensions {inner_a} and {inner_b} differ")


@public(method=True, out=True)
@lower_precision
def mm(input, mat2):
    a, b = same_dtype("mm", input, mat2)
    if a.dim() != 2 or b.dim() != 2:
        raise RuntimeError(f"mm: expected 2-D tensors, got shapes {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    if a.shape[1] != b.shape[0]:
        raise _mismatch("mm", a, b, a.shape[1], b.shape[0])
    return _mm(a, b)


@public(method=True, out=True)
def mv(input, vec):
    a, b = same_dtype("mv", input, vec)
    if a.dim() != 2 or b.dim() != 1:
        raise RuntimeError(f"mv: expected a 2-D and a 1-D tensor, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[1] != b.shape[0]:
        raise _mismatch("mv", a, b, a.shape[1], b.shape[0])
    return _mv(a, b)


@public(method=True, out=True)
def dot(input, other):
    a, b = same_dtype("dot", input, other)
    if a.dim() != 1 or b.dim() != 1 or a.shape != b.shape:
        raise RuntimeError(f"dot: expected two 1-D tensors of the same size, got shapes "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    return _dot(a, b)


@public(method=True, out=True)
@lower_precision
def bmm(input, mat2):
    same_dtype("bmm", input, mat2)
    if input.dim() != 3 or mat2.dim() != 3 or input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: expected two 3-D tensors with the same batch size, got "
                           f"shapes {tuple(input.shape)} and {tuple(mat2.shape)}")
    return matmul(input, mat2)


@public(method=True, out=True)
@lower_precision
def matmul(input, other):
    """PyTorch's matmul: dot, mv, mm, or a batched product broadcasting leading dims."""
    a, b = same_dtype("matmul", input, other)
    if a.dim() == 0 or b.dim() == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.dim()}D and {b.dim()}D")
    if a.dim() == 1 and b.dim() == 1:
        return dot(a, b)
    if a.dim() == 2 and b.dim() == 1:
        return mv(a, b)
    if a.dim() == 1:
        return matmul(a.unsqueeze(0), b).squeeze(-2)
    if b.dim() == 1:
        return matmul(a, b.unsqueeze(-1)).squeeze(-1)
    if a.shape[-1] != b.shape[-2]:
        raise _mismatch("matmul", a, b, a.shape[-1], b.shape[-2])
    if a.dim() == 2 and b.dim() == 2:
        return _mm(a, b)
    broadcast_shapes(a.shape[:-2], b.shape[:-2], op="matmul (batch dimensions)")
    return _bmm(a, b)


@public(method=True, out=True)
@lower_precision
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """beta * input + alpha * (mat1 @ mat2), in one pass over the output."""
    bias, a, b = same_dtype("addmm", input, mat1, mat2)
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0]:
        raise _mismatch("addmm", a, b, a.shape[-1], b.shape[0])
    broadcast_shapes(bias.shape, (a.shape[0], b.shape[1]), op="addmm")
    return _addmm(bias, a, b, beta=beta, alpha=alpha)


@public(method=True, out=True)
def outer(input, vec2):
    return input.unsqueeze(1) * vec2.unsqueeze(0)


# F.linear as one op: the weight's gradient comes out of BLAS as g.T @ x, already in the
# weight's (out, in) layout, where addmm(b, x, w.t()) would hand back a transposed view
# that every later elementwise pass over the gradient would walk against the grain. Its
# inputs come in addmm's order, bias first, so that walking grad_fn.next_functions (as
# PyTorch's tutorials do) meets the bias, then the input's history.
def _linear_forward(K, bias, x, w):
    return K.matmul(x, K.permute(w, (1, 0)), bias=bias)


_linear = P("AddmmBackward0", _linear_forward,
            bias=lambda g: g,
            x=lambda g, w: g.mm(w),
            w=lambda g, x: g.t().mm(x))
_linear_no_bias = P("MmBackward0", lambda K, x, w: K.matmul(x, K.permute(w, (1, 0))),
                    x=lambda g, w: g.mm(w),
                    w=lambda g, x: g.t().mm(x))


@lower_precision
def linear(input, weight, bias=None):
    """input @ weight.T + bias, for any number of leading batch dimensions."""
    operands = same_dtype("linear", input, weight, *(() if bias is None else (bias,)))
    x, w = operands[0], operands[1]
    if w.dim() != 2 or x.dim() == 0 or x.shape[-1] != w.shape[1]:
        raise RuntimeError(f"linear: input of shape {tuple(x.shape)} cannot be multiplied by "
                           f"a weight of shape {tuple(w.shape)} (expected input[..., "
                           f"{w.shape[1] if w.dim() == 2 else '?'}])")
    if x.dim() != 2:
        lead = x.shape[:-1]
        return as_new(linear(x.reshape(-1, x.shape[-1]), w, bias).reshape(*lead, w.shape[0]))
    if bias is None:
        return _linear_no_bias(x, w)
    b = operands[2]
    if b._data.shape != (w.shape[0],):
        broadcast_shapes(b.shape, (w.shape[0],), op="linear (bias)")
    return _linear(b, x, w)
