"""Views and joins: reshape, permute, transpose, expand, squeeze, cat, stack, split.

View ops return tensors that share memory (and the version counter) with their
input, as in PyTorch; their gradients just undo the reshaping.
"""
import math
from operator import attrgetter

from kernels.layout import view_strides

from ..tensor import Tensor, version_counter
from .operands import promote
from .primitive import Primitive as P
from .registry import public

_dtype_of = attrgetter("_dtype")
_shape_of = attrgetter("_data.shape")


def _inverse(perm):
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return tuple(inv)


_view = P("ViewBackward0", lambda K, x, *, shape: K.reshape(x, shape),
          x=lambda g, x_shape: g.reshape(x_shape))
_reshape_copy = P("UnsafeViewBackward0", lambda K, x, *, shape: K.reshape(K.copy(x), shape),
                  x=lambda g, x_shape: g.reshape(x_shape))
_permute = P("PermuteBackward0", lambda K, x, *, dims: K.permute(x, dims),
             x=lambda g, dims: g.permute(_inverse(dims)))
_transpose = P("TransposeBackward0", lambda K, x, *, dims: K.permute(x, dims),
               x=lambda g, dims: g.permute(_inverse(dims)))
_t = P("TBackward0", lambda K, x, *, dims: K.permute(x, dims),
       x=lambda g, dims: g.permute(_inverse(dims)))
_expand = P("ExpandBackward0", lambda K, x, *, shape: K.broadcast_to(x, shape),
            x=lambda g: g)  # the engine's sum_to folds g back to x's shape
_squeeze = P("SqueezeBackward0", lambda K, x, *, shape: K.reshape(x, shape),
             x=lambda g, x_shape: g.reshape(x_shape))
_squeeze_dim = P("SqueezeBackward1", lambda K, x, *, shape: K.reshape(x, shape),
                 x=lambda g, x_shape: g.reshape(x_shape))
_unsqueeze = P("UnsqueezeBackward0", lambda K, x, *, shape: K.reshape(x, shape),
               x=lambda g, x_shape: g.reshape(x_shape))
_clone = P("CloneBackward0", lambda K, x: K.copy(x), x=lambda g: g)
_cat = P("CatBackward0", lambda K, *xs, dim: K.concatenate(xs, dim),
         xs=lambda g, i, shapes, dim: g.narrow(dim, _offset(shapes, i, dim), shapes[i][dim]))
_stack = P("StackBackward0", lambda K, *xs, dim: K.stack(xs, dim),
           xs=lambda g, i, dim: g.select(dim, i))


def _offset(shapes, i, dim):
    return sum(s[dim] for s in shapes[:i])


def _as_view(out, base):
    """Mark `out` as a view of `base`: in-place writes to one are seen by the other."""
    if out._backend.memory_root(out._data) is not out._data:
        out._base = base._base if base._base is not None else base
        out._version = version_counter(out._base)
    return out


def as_new(out):
    """`out`, a reshape of a temporary an op made (a product before its final shape),
    returned as a tensor of its own, as PyTorch's ops return theirs: in-place ops on it
    (a ReLU(inplace=True) after a convolution) then work as on any result. Only for
    temporaries that no backward formula saved, so no version check is lost."""
    out._base = None
    out._version = None
    return out


def infer_shape(shape, numel):
    """Resolve one -1 in `shape`, or raise naming the shape and the element count."""
    if -1 not in shape and math.prod(shape) == numel and min(shape, default=0) >= 0:
        return tuple(shape)  # the common case, checked in C
    shape = list(shape)
    unknown = [i for i, n in enumerate(shape) if n == -1]
    known = math.prod(n for n in shape if n != -1)
    if len(unknown) > 1:
        raise RuntimeError("only one dimension can be inferred")
    if unknown and known and numel % known == 0:
        shape[unknown[0]] = numel // known
    elif unknown and known == 0 and numel == 0:
        raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} "
                           f"because the unspecified dimension size -1 can be any value and "
                           f"is ambiguous")
    if any(n < 0 for n in shape) or math.prod(shape) != numel:
        raise RuntimeError(f"shape '{list(s if s is not None else -1 for s in shape)}' is "
                           f"invalid for input of size {numel}")
    return tuple(shape)


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(int(n) for n in shape)


@public(method=True)
def reshape(input, *shape):
    shape = infer_shape(_shape_args(shape), input._data.size)
    if shape == input._data.shape:
        return _as_view(_view(input, shape=shape), input)
    out = _view(input, shape=shape) if input.is_contiguous() else _reshape_copy(input,
                                                                                 shape=shape)
    return _as_view(out, input)


@public(method=True)
def view(input, *shape):
    """The same memory under another shape, whenever the strides allow it (PyTorch's
    rule: a transposed or split tensor often can be viewed), else an error."""
    shape = infer_shape(_shape_args(shape), input.numel())
    if not input.is_contiguous() and input.numel() and shape != input.shape and \
            view_strides(input.shape, input.stride(), shape) is None:
        raise RuntimeError(f"view size is not compatible with input tensor's size and stride "
                           f"(input shape {tuple(input.shape)}, stride {input.stride()}, "
                           f"requested {shape}): at least one dimension spans across two "
                           f"contiguous subspaces. Use .reshape(...) instead.")
    return _as_view(_view(input, shape=shape), input)


@public(method=True)
def flatten(input, start_dim=0, end_dim=-1):
    if input.dim() == 0:
        return input.reshape(1)
    start, end = input._dim_index(start_dim), input._dim_index(end_dim)
    if start > end:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    shape = input.shape
    return reshape(input, shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])


@public(method=True)
def ravel(input):
    """The elements in order as one dim (a view where the memory allows)."""
    return reshape(input, -1)


@public(method=True)
def unflatten(input, dim, sizes):
    d = input._dim_index(dim)
    shape = input.shape
    return reshape(input, shape[:d] + tuple(sizes) + shape[d + 1:])


@public(method=True)
def permute(input, *dims):
    dims = tuple(input._dim_index(d) for d in _shape_args(dims))
    if sorted(dims) != list(range(input.dim())):
        raise RuntimeError(f"permute(): dims {dims} are not a permutation of the "
                           f"{input.dim()} dimensions of a tensor of shape "
                           f"{tuple(input.shape)}")
    return _as_view(_permute(input, dims=dims), input)


def _swap(n, d0, d1):
    dims = list(range(n))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return tuple(dims)


@public("swapaxes", "swapdims", method=True)
def transpose(input, dim0, dim1):
    if input.dim() == 0:
        return input
    dims = _swap(input.dim(), input._dim_index(dim0), input._dim_index(dim1))
    return _as_view(_transpose(input, dims=dims), input)




@public(method=True)
def t(input):
    """Transpose a matrix (a 0-d or 1-d tensor is returned as it is)."""
    if input.dim() > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.dim()}D")
    if input.dim() < 2:
        return input
    return _as_view(_t(input, dims=(1, 0)), input)


def matrix_transpose(input):
    return transpose(input, -2, -1)


def numpy_T(input):
    return permute(input, tuple(reversed(range(input.dim()))))


@public(method=True)
def expand(input, *sizes):
    sizes = _shape_args(sizes)
    if len(sizes) < input.dim():
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be "
                           f"greater or equal to the number of dimensions in the tensor "
                           f"({input.dim()})")
    have_shape = input._data.shape
    lead = len(sizes) - len(have_shape)
    shape = []
    for i, n in enumerate(sizes):
        have = have_shape[i - lead] if i >= lead else 1
        if n == -1:
            if i < lead:
                raise RuntimeError("expand: -1 is not allowed in a leading, non-existing "
                                   "dimension")
            n = have
        if have != 1 and have != n:
            raise RuntimeError(f"The expanded size of the tensor ({n}) must match the existing "
                               f"size ({have}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(have_shape)}")
        shape.append(n)
    return _as_view(_expand(input, shape=tuple(shape)), input)


@public(method=True)
def expand_as(input, other):
    return expand(input, other.shape)


@public("moveaxis", method=True)
def movedim(input, source, destination):
    """`input` with the dims at `source` moved to `destination` (ints, or sequences of
    them), the others keeping their order: a permute."""
    if isinstance(source, int) != isinstance(destination, int):
        raise TypeError(f"movedim(): source and destination must both be ints or both "
                        f"sequences of ints, got {source!r} and {destination!r}")
    source = (source,) if isinstance(source, int) else tuple(source)
    destination = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(source) != len(destination):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({source} "
                           f"dims) should contain the same number of dims as destination "
                           f"({destination} dims)")
    source = [input._dim_index(d) for d in source]
    destination = [input._dim_index(d) for d in destination]
    for dims, name in ((source, "source"), (destination, "destination")):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({dims})")
    rest = iter(d for d in range(input.dim()) if d not in source)
    placed = dict(zip(destination, source))
    return permute(input, [placed[i] if i in placed else next(rest)
                           for i in range(input.dim())])


@public(method=True)
def tile(input, dims):
    """repeat(), with `dims` padded by leading ones to the tensor's number of dims."""
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return repeat(input, *((1,) * (input.dim() - len(dims)) + dims))


@public(method=True)
def repeat(input, *sizes):
    """Tile the tensor sizes[d] times along each dim (extra leading sizes add dims).

    A reshape that gives each dim a size-1 partner, an expand of the partners to the
    repeat counts, and a reshape that merges each pair: so the gradient, summed back
    over the expanded partners, needs no formula of its own.
    """
    sizes = _shape_args(sizes)
    if len(sizes) < input.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than "
                           "number of dimensions of tensor")
    shape = (1,) * (len(sizes) - input.dim()) + tuple(input.shape)
    result = [r * n for r, n in zip(sizes, shape)]
    if any(r < 0 for r in sizes):
        bad = next(n for n in result if n < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {result}")
    if all(r == 1 for r in sizes):  # nothing to tile, but the result is still a copy
        return input.reshape(result).clone()
    paired = [m for n in shape for m in (1, n)]
    expanded = [m for r, n in zip(sizes, shape) for m in (r, n)]
    return input.reshape(paired).expand(expanded).reshape(result)


@public(method=True)
def broadcast_to(input, shape):
    return expand(input, shape)


@public(method=True)
def squeeze(input, dim=None):
    if dim is None:
        shape = tuple(n for n in input.shape if n != 1)
        return _as_view(_squeeze(input, shape=shape), input)
    dims = {input._dim_index(d) for d in ((dim,) if isinstance(dim, int) else dim)}
    shape = tuple(n for d, n in enumerate(input.shape) if not (d in dims and n == 1))
    return _as_view(_squeeze_dim(input, shape=shape), input)


@public(method=True)
def unsqueeze(input, dim):
    n = input.dim() + 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}],"
                         f" but got {dim})")
    d = dim % n
    shape = input.shape[:d] + (1,) + input.shape[d:]
    return _as_view(_unsqueeze(input, shape=shape), input)


@public(method=True)
def clone(input, *, memory_format=None):
    return _clone(input)


@public(method=True)
def contiguous(input, memory_format=None):
    return input if input.is_contiguous() else _clone(input)


def _same_dtype_and_device(name, tensors):
    if not tensors:
        raise RuntimeError(f"{name}(): expected a non-empty list of Tensors")
    first = tensors[0]
    try:  # a collated batch, typically: one dtype, nothing to promote (checked in C)
        kinds = list(map(_dtype_of, tensors))
    except AttributeError:
        i, x = next((i, x) for i, x in enumerate(tensors) if not isinstance(x, Tensor))
        raise TypeError(f"{name}(): expected Tensor as element {i} in argument 0, but got "
                        f"{type(x).__name__}") from None
    if kinds.count(first._dtype) == len(kinds):
        return tensors
    return promote(name, *tensors)


@public("concat", "concatenate", out=True)
def cat(tensors, dim=0):
    """Join tensors along an existing dimension; every other dimension must agree."""
    tensors = [t for t in _same_dtype_and_device("cat", list(tensors))
               if not (t.dim() == 1 and t.numel() == 0)] or list(tensors)[:1]
    first = tensors[0]
    d = first._dim_index(dim)
    for i, t in enumerate(tensors):
        if t.dim() != first.dim() or any(a != b for k, (a, b) in
                                         enumerate(zip(t.shape, first.shape)) if k != d):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. "
                               f"Expected size {tuple(first.shape)} but got size "
                               f"{tuple(t.shape)} for tensor number {i} in the list.")
    return _cat(*tensors, dim=d)




@public(out=True)
def stack(tensors, dim=0):
    """Join same-shaped tensors along a new dimension."""
    tensors = _same_dtype_and_device("stack", list(tensors))
    first = tensors[0]
    shapes = list(map(_shape_of, tensors))
    if shapes.count(shapes[0]) != len(shapes):  # compared in C: a batch has 64 or more
        i = next(i for i, shape in enumerate(shapes) if shape != shapes[0])
        raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                           f"{list(first.shape)} at entry 0 and {list(tensors[i].shape)} at "
                           f"entry {i}")
    n = first.dim() + 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}],"
                         f" but got {dim})")
    return _stack(*tensors, dim=dim % n)


@public(method=True)
def narrow(input, dim, start, length):
    d = input._dim_index(dim)
    index = [slice(None)] * d + [slice(start, start + length)]
    return input[tuple(index)]


@public(method=True)
def select(input, dim, index):
    d = input._dim_index(dim)
    return input[(slice(None),) * d + (index,)]


@public(method=True)
def split(input, split_size_or_sections, dim=0):
    d = input._dim_index(dim)
    size = input.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        sections = [min(step, size - s) for s in range(0, size, step)] or [0]
    else:
        sections = list(split_size_or_sections)
        if sum(sections) != size:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={sections}")
    out, start = [], 0
    for n in sections:
        out.append(narrow(input, d, start, n))
        start += n
    return tuple(out)


@public(method=True)
def tensor_split(input, indices_or_sections, dim=0):
    """Views of `input` cut along `dim`: into n parts (the first size % n one longer), or
    at each of the given indices (read as Python slices read them)."""
    d = input._dim_index(dim)
    size = input.shape[d]
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        if n <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {n}")
        cuts = [i * (size // n) + min(i, size % n) for i in range(1, n)]
    else:
        cuts = [int(i) for i in indices_or_sections]
    bounds = [None] + cuts + [None]
    return tuple(input[(slice(None),) * d + (slice(start, stop),)]
                 for start, stop in zip(bounds, bounds[1:]))


@public(method=True)
def chunk(input, chunks, dim=0):
    size = input.shape[input._dim_index(dim)]
    return split(input, max(1, -(-size // chunks)), dim)


@public(method=True)
def unbind(input, dim=0):
    d = input._dim_index(dim)
    return tuple(select(input, d, i) for i in range(input.shape[d]))
