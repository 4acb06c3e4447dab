"""Views without copies: reshape, permute and broadcast as new shapes and strides.

`reshape` follows numpy's rule: a view whenever the old strides can express the new
shape (always for contiguous arrays, often for transposed ones), else a copy.
"""
from .array import contiguous_strides
from .elementwise import broadcast_strides, identity
from .array import empty


def copy(x):
    out = empty(x.shape, x.dtype)
    return identity(x, out=out) if x.size else out


def _view_strides(shape, strides, new_shape):
    """Strides that show the memory of (shape, strides) as new_shape, or None."""
    old = [(n, s) for n, s in zip(shape, strides) if n != 1]
    new_strides = [0] * len(new_shape)
    oi = ni = 0
    while ni < len(new_shape) and oi < len(old):
        # Grow a group of new dims and a group of old dims until they hold as many elements.
        nj, oj = ni + 1, oi + 1
        n_size, o_size = new_shape[ni], old[oi][0]
        while n_size != o_size:
            if n_size < o_size:
                n_size *= new_shape[nj]
                nj += 1
            else:
                o_size *= old[oj][0]
                oj += 1
        for k in range(oi, oj - 1):  # the old group must be one contiguous run
            if old[k][1] != old[k + 1][0] * old[k + 1][1]:
                return None
        new_strides[nj - 1] = old[oj - 1][1]
        for k in range(nj - 1, ni, -1):
            new_strides[k - 1] = new_strides[k] * new_shape[k]
        ni, oi = nj, oj
    return tuple(new_strides)


def reshape(x, shape):
    shape = tuple(shape)
    if x.size == 0 or x.flags.c_contiguous:
        return x.view(x.offset, shape, contiguous_strides(shape))
    strides = _view_strides(x.shape, x.strides, shape)
    if strides is None:
        y = copy(x)
        return y.view(0, shape, contiguous_strides(shape))
    return x.view(x.offset, shape, strides)


def permute(x, dims):
    return x.view(x.offset, [x.shape[d] for d in dims], [x.strides[d] for d in dims])


def broadcast_to(x, shape):
    """A read-only view repeating x along broadcast dimensions (stride 0), as numpy's."""
    return x.view(x.offset, shape, broadcast_strides(x, tuple(shape)), writeable=False)


def contiguous(x):
    return x if x.flags.c_contiguous else copy(x)
