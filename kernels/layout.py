"""Layout arithmetic shared by the backends: plain Python over shapes and strides."""


def view_strides(shape, strides, new_shape):
    """Strides (in elements) that show the memory of (shape, strides) as new_shape, or
    None when no strides can: PyTorch's rule for view(), numpy's for a copy-free
    reshape. Dimensions are grouped so that each group of old dimensions holds as many
    elements as a group of new ones; a group must be one evenly strided run."""
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
