"""What every backend's reductions share: the shape a reduction leaves, and the max/min
family of the interface, built on one backend's `extreme(x, axes, keepdims, sign)`,
which returns the values and int64 indices of the maximum (sign 1) or minimum (-1)."""


def kept_shape(shape, axes, keepdims):
    if keepdims:
        return tuple(1 if d in axes else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in axes)


def extremes(extreme):
    """amax, amin, max_along and min_along over one backend's extreme."""

    def amax(x, axes, keepdims=False):
        return extreme(x, axes, keepdims, 1)[0]

    def amin(x, axes, keepdims=False):
        return extreme(x, axes, keepdims, -1)[0]

    def max_along(x, axis, keepdims=False):
        """(values, int64 indices) of the maximum along one axis."""
        return extreme(x, (axis,), keepdims, 1)

    def min_along(x, axis, keepdims=False):
        return extreme(x, (axis,), keepdims, -1)

    return amax, amin, max_along, min_along
