"""Devices, and the kernel backend that serves each one."""
class device:
    """Where a tensor's memory lives: `device('cpu')`, `device('cuda')`, `device('cuda:0')`."""

    __slots__ = ("type", "index", "kernels")

    def __init__(self, type_or_spec="cpu", index=None):
        if isinstance(type_or_spec, device):
            type_or_spec, index = type_or_spec.type, type_or_spec.index
        kind, _, number = str(type_or_spec).partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device "
                               f"string: {type_or_spec}")
        if number:
            if index is not None or not number.isdigit():
                raise RuntimeError(f"Invalid device string: '{type_or_spec}'")
            index = int(number)
        self.type = kind
        self.index = index
        self.kernels = None  # the backend module, filled in by `backend()` on first use

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if other is self:
            return True
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))


CPU = device("cpu")
_default = [CPU]  # set_default_device's choice: where factories put tensors by default


def set_default_device(spec):
    """Factories (tensor, zeros, randn, arange, ...) called without a device put their
    tensor on this one; None restores the CPU. As in PyTorch, from_numpy and the *_like
    functions are not affected."""
    _default[0] = CPU if spec is None else canonical(spec)


def get_default_device():
    return _default[0]


def canonical(spec):
    """The concrete device for a user's spec: None means the default device (the CPU
    unless set_default_device chose another), bare 'cuda' means cuda:0."""
    if spec is None:
        return _default[0]
    d = spec if isinstance(spec, device) else device(spec if not isinstance(spec, int)
                                                     else f"cuda:{spec}")
    if d.type == "cuda":
        require_cuda(d)
        return d if d.index is not None else device("cuda", 0)
    return CPU


def require_cuda(d):
    from . import cuda

    if not cuda.is_available():
        raise RuntimeError(f"{d}: CUDA is not available on this machine (no GPU or no CUDA "
                           f"driver was found); use device='cpu'")


def narrow_backend(d, dtype):
    """The kernels for float16 and bfloat16 values, which compute in float32 and round:
    on the CPU only (numba's CUDA target has no bfloat16)."""
    if d.type != "cpu":
        raise TypeError(f"{dtype} tensors are supported on the CPU only, not on {d}: keep "
                        f"them on the CPU, or use torch.float32 on {d}")
    import kernels.cpu.narrow as module

    return module


def kernels_for(d, dtype):
    """The kernels that make and compute values of `dtype` on device d."""
    return narrow_backend(d, dtype) if dtype.narrow else backend(d)


def backend(d):
    """The kernels module for a device: `kernels.cpu` or `kernels.cuda`."""
    if d.kernels is None:
        if d.type == "cpu":
            import kernels.cpu as module
        else:
            import kernels.cuda as module
        d.kernels = module
    return d.kernels
