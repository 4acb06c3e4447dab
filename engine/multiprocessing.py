"""`torch.multiprocessing`: Python's multiprocessing, with tensors that processes share.

`tensor.share_memory_()` (and `module.share_memory()`) moves a CPU tensor's values, in
place, into a memory file (memfd) mapped shared: a process forked afterwards maps the
same pages, and one started with 'spawn' (or sent the tensor through a Queue) receives
the file's descriptor rather than a copy, as PyTorch's file_descriptor strategy does. So
several processes read and write one model's parameters (Hogwild training).
"""
import mmap
import os
from multiprocessing import *  # noqa: F401,F403 - the API programs call through here
from multiprocessing.reduction import DupFd, ForkingPickler

import numpy as np


class _SharedFile(mmap.mmap):
    """A shared mapping of a memory file, which keeps the file's descriptor to hand to
    other processes and closes it with the mapping."""

    def __new__(cls, fd, nbytes):
        self = super().__new__(cls, fd, nbytes)
        self.fd = fd
        return self

    def __del__(self):
        os.close(self.fd)


def _view(shared, dtype, shape):
    count = int(np.prod(shape, dtype=np.int64))
    return np.frombuffer(shared, dtype=dtype, count=count).reshape(shape)


def shared_array(array):
    """A copy of `array` in a new shared memory file."""
    nbytes = max(array.nbytes, 1)  # a mapping cannot be empty
    fd = os.memfd_create("numbagrad-tensor")
    os.ftruncate(fd, nbytes)
    out = _view(_SharedFile(fd, nbytes), array.dtype, array.shape)
    out[...] = array
    return out


def _shared_file(array):
    """The _SharedFile under `array` (a view of it counts), or None."""
    root = array
    while isinstance(root, np.ndarray) and root.base is not None:
        root = root.base
    root = getattr(root, "obj", root)  # np.frombuffer keeps a memoryview of the mapping
    return root if isinstance(root, _SharedFile) else None


def is_shared_array(array):
    return _shared_file(array) is not None


def sendable(tensor_type):
    """Make multiprocessing's pickler send shared tensors of this type as descriptors."""
    ForkingPickler.register(tensor_type, _reduce)


def _reduce(tensor):
    shared = _shared_file(tensor._data)
    if shared is None or not tensor._data.flags.c_contiguous or \
            tensor._data.__array_interface__["data"][0] != _address(shared):
        return tensor.__reduce_ex__(2)  # a copy, as for any other tensor
    return (_rebuild, (type(tensor), DupFd(shared.fd), len(shared), tensor._data.dtype,
                       tensor._data.shape, tensor._requires_grad))


def _address(shared):
    return np.frombuffer(shared, np.uint8, count=1).__array_interface__["data"][0]


def _rebuild(tensor_type, fd, nbytes, dtype, shape, requires_grad):
    t = tensor_type._make(_view(_SharedFile(fd.detach(), nbytes), dtype, shape))
    t._requires_grad = requires_grad
    sendable(tensor_type)  # a spawned process sends it back shared, too
    return t


def get_sharing_strategy():
    return "file_descriptor"


def get_all_sharing_strategies():
    return {"file_descriptor"}


def set_sharing_strategy(new_strategy):
    if new_strategy not in get_all_sharing_strategies():
        raise ValueError(f"set_sharing_strategy: {new_strategy!r} is not supported here "
                         f"(supported: file_descriptor)")
