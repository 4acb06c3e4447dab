"""What every backend's sliding-window kernels (unfold, fold) share."""


def positions(size, kernel, dilation, padding, stride):
    """How many places a window takes along one side: `kernel` taps `dilation` apart,
    moving `stride` at a time over a side of `size` padded by `padding` at both ends."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1
