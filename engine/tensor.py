"""`Tensor`: an array on a device, plus what autograd needs to know about it.

The data is a backend array (a numpy array on the CPU). Ops are attached from
`engine.ops` (one function serves as `engine.exp(t)` and `t.exp()`), and `backward`
from `engine.autograd.gradients`; this file holds only what is about the tensor
itself: metadata, autograd state, conversion.
"""
import numpy as np

from . import dtypes
from .device import CPU, backend, canonical, narrow_backend
from .tracing import TRACER, graph_break

_BY_NUMPY = dtypes._BY_NUMPY
_new_object = object.__new__


class Size(tuple):
    """A tensor's shape: a tuple that prints as `torch.Size([2, 3])`."""

    __slots__ = ()

    def __repr__(self):
        return f"torch.Size([{', '.join(str(n) for n in self)}])"

    def numel(self):
        n = 1
        for d in self:
            n *= d
        return n


class VersionCounter:
    """Shared by a tensor and its views; bumped by every in-place write."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def version_counter(t):
    """t's VersionCounter, made on first need.

    Most tensors are never written in place, viewed, or saved for backward, so `_make`
    leaves the field None rather than pay for a counter per op. A view always holds
    its base's counter, so views made before and after the first need agree.
    """
    counter = t._version
    if counter is None:
        counter = t._version = VersionCounter()
    return counter


class Tensor:
    """A multi-dimensional array that can record the ops applied to it.

    Create tensors with `engine.tensor`, `engine.zeros`, ... ; `Tensor(data)` also
    works and, as in PyTorch, gives the default float dtype.
    """

    __slots__ = ("_data", "_dtype", "_device", "_backend", "_requires_grad", "_grad",
                 "_grad_fn", "_version", "_base", "_hooks", "_post_accumulate_hooks",
                 "_accumulator", "_retains_grad", "_grad_mark", "__weakref__")

    def __new__(cls, *data, dtype=None, device=None, requires_grad=False):
        """`Tensor(data)`: as in PyTorch, the default float dtype unless `dtype` says;
        `Tensor(2, 3)`, the legacy spelling, an uninitialised tensor of that size."""
        from .creation import empty, tensor

        dtype = dtype or dtypes.get_default_dtype()
        if len(data) != 1 or isinstance(data[0], int) and not isinstance(data[0], bool):
            if not all(isinstance(n, int) and not isinstance(n, bool) for n in data):
                raise TypeError(f"Tensor(): expected data or integer sizes, got {data!r}")
            return empty(data or (0,), dtype=dtype, device=device,
                         requires_grad=requires_grad)
        data = data[0].detach() if isinstance(data[0], Tensor) else data[0]
        return tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)

    @classmethod
    def _make(cls, data, device=CPU, grad_fn=None):
        """Wrap a backend array without copying: the engine's one internal constructor.

        Every op result passes through here, so it sets each field directly, and the
        fields that are rarely used start as shared immutable values.
        """
        t = _new_object(cls)
        t._data = data
        dtype = _BY_NUMPY.get(data.dtype)
        t._dtype = dtype if dtype is not None else dtypes.from_numpy(data.dtype)
        t._device = device
        t._backend = device.kernels or backend(device)
        if t._dtype.narrow:
            t._backend = narrow_backend(device, t._dtype)
        t._grad = None
        t._grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        t._version = None  # see version_counter
        t._base = None
        t._hooks = t._post_accumulate_hooks = ()  # lists once a hook is registered
        t._accumulator = None
        t._retains_grad = False
        t._grad_mark = 0  # used by the backward walk; see autograd.graph._Grads
        return t

    # ---- metadata ----------------------------------------------------------------------

    @property
    def shape(self):
        return Size(self._data.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[self._dim_index(dim)]

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return self._device

    @property
    def is_cuda(self):
        return self._device.type == "cuda"

    @property
    def is_cpu(self):
        return self._device.type == "cpu"

    # Devices and layouts numbagrad has no tensors on or in (programs test for them).
    is_xpu = is_mps = is_meta = is_sparse = is_quantized = is_mkldnn = is_nested = \
        property(lambda self: False)

    @property
    def ndim(self):
        return self._data.ndim

    def dim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    nelement = numel

    def element_size(self):
        return self._dtype.itemsize

    ndimension = dim

    @property
    def itemsize(self):
        return self._dtype.itemsize

    @property
    def nbytes(self):
        return self.numel() * self._dtype.itemsize

    def is_floating_point(self):
        return self._dtype.is_floating_point

    def is_contiguous(self, memory_format=None):
        return bool(self._data.flags.c_contiguous)

    def stride(self, dim=None):
        """The step in elements between neighbours along each dimension, as PyTorch
        reports it (numpy's strides count bytes)."""
        strides = self._backend.strides(self._data)
        return strides if dim is None else strides[self._dim_index(dim)]

    def storage_offset(self):
        """Where this tensor starts in the memory it shares with its base, in elements."""
        return self._backend.storage_offset(self._data)

    def _dim_index(self, dim):
        """A dimension number made non-negative, or an IndexError naming the valid range."""
        n = max(self._data.ndim, 1)
        if not -n <= dim < n:
            raise IndexError(f"Dimension out of range (expected to be in range of "
                             f"[{-n}, {n - 1}], but got {dim})")
        return dim % n

    # ---- autograd state ----------------------------------------------------------------

    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag):
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad=True):
        """Start (or stop) recording ops on this leaf tensor."""
        if self._grad_fn is not None:
            if not requires_grad:
                raise RuntimeError(
                    f"you can only change requires_grad flags of leaf variables. If you want "
                    f"to use a computed variable in a subgraph that doesn't require "
                    f"differentiation use var_no_grad = var.detach(). ({self._grad_fn.name()})")
            return self
        if requires_grad and not self._dtype.is_floating_point:
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, "
                               f"got {self._dtype}")
        if TRACER[0] is not None and bool(requires_grad) is not self._requires_grad:
            TRACER[0].flag_changed(self)
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad_fn(self):
        return self._grad_fn

    @property
    def is_leaf(self):
        return self._grad_fn is None

    @property
    def grad(self):
        if TRACER[0] is not None:
            return TRACER[0].read_grad(self)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got "
                                f"{type(value).__name__}")
            if value.shape != self.shape or value.dtype is not self.dtype:
                raise RuntimeError(f"assigned grad has data of shape {tuple(value.shape)} and "
                                   f"type {value.dtype}, but the tensor is {tuple(self.shape)} "
                                   f"of type {self.dtype}")
            if value.device != self.device:
                raise RuntimeError(f"assigned grad is on {value.device} but the tensor is on "
                                   f"{self.device}")
        if TRACER[0] is not None:
            return TRACER[0].set_grad(self, value)
        self._grad = value

    @property
    def retains_grad(self):
        return self._retains_grad

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep it)."""
        if self._grad_fn is None:
            if not self._requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        import weakref

        ref = weakref.ref(self)

        def store(g):
            t = ref()
            if t is not None:
                t._grad = g.detach() if t._grad is None else (t._grad + g).detach()

        self._grad_fn.register_prehook(store)
        self._retains_grad = True

    def register_hook(self, hook):
        """hook(grad) runs when this tensor's gradient is computed; it may return a new one."""
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        if self._grad_fn is not None:
            self._grad_fn.register_prehook(hook)
            return _RemovableHandle(self._grad_fn, "pre_hooks", hook)
        if not self._hooks:
            self._hooks = []
        self._hooks.append(hook)
        LEAF_CHANGES[0] += 1
        return _RemovableHandle(self, "_hooks", hook)

    def register_post_accumulate_grad_hook(self, hook):
        """hook(tensor) runs after a backward pass has added into this leaf's `.grad`.

        It sees the finished gradient, so it can start work on it at once (an optimizer
        step per parameter, or DistributedDataParallel's allreduce) while backward goes on.
        """
        if self._grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf "
                               "tensors")
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require "
                               "gradient")
        self._post_accumulate_hooks = list(self._post_accumulate_hooks) + [hook]
        LEAF_CHANGES[0] += 1
        return _RemovableHandle(self, "_post_accumulate_hooks", hook)

    def detach(self):
        """The same data, cut from the graph (shares memory and version counter).

        Not a view for autograd's purposes: writing into it is allowed, and the shared
        version counter still reveals the write to any backward that saved the original.
        """
        out = Tensor._make(self._data, self._device)
        out._version = version_counter(self)
        return out

    def detach_(self):
        if self._base is not None and self._base._requires_grad:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self._grad_fn = None
        self._requires_grad = False
        return self

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, value):
        LEAF_CHANGES[0] += 1
        self._data = value._data
        self._dtype = value._dtype
        self._device = value._device
        self._backend = value._backend

    # ---- conversion --------------------------------------------------------------------

    def item(self):
        graph_break("Tensor.item() makes a Python number of a tensor's value")
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               f"to Scalar")
        return self._backend.to_numpy(self._data).reshape(()).item()

    def tolist(self):
        graph_break("Tensor.tolist() makes Python numbers of a tensor's values")
        return self._backend.to_numpy(self._data).tolist()

    def numpy(self, *, force=False):
        """The data as a numpy array, sharing memory on the CPU."""
        if self._requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        graph_break("Tensor.numpy() hands the tensor's memory to numpy")
        if self._device.type != "cpu":
            if not force:
                raise TypeError(f"can't convert {self._device} device type tensor to numpy. "
                                f"Use Tensor.cpu() to copy the tensor to host memory first.")
            return self.cpu().numpy(force=True)
        return self._data

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """Convert dtype and/or device: `to(dtype)`, `to(device)`, `to(other)`, `to(d, dt)`."""
        for arg in args:
            if isinstance(arg, dtypes.dtype):
                dtype = arg
            elif isinstance(arg, Tensor):
                dtype, device = arg.dtype, arg.device
            else:
                device = arg
        out = self
        if device is not None and canonical(device) != self._device:
            if (dtype or self._dtype).narrow:
                narrow_backend(canonical(device), dtype or self._dtype)  # refuses, in words
            from .ops.conversion import to_device

            out = to_device(out, canonical(device))
        if dtype is not None and dtype is not out._dtype:
            from .ops.conversion import to_dtype

            out = to_dtype(out, dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to(device if device is not None else "cuda")

    def share_memory_(self):
        """Move the values into memory that processes forked from here share (see
        engine.multiprocessing), in place; a CUDA tensor is left as it is, as in PyTorch."""
        from .multiprocessing import sendable, shared_array

        if self._device.type == "cpu" and not self.is_shared():
            self._data = shared_array(self._data)
            sendable(type(self))
        return self

    def is_shared(self):
        from .multiprocessing import is_shared_array

        return self._device.type == "cpu" and is_shared_array(self._data)

    def pin_memory(self):
        """A copy in page-locked host memory, which the GPU reads at full bus speed."""
        from . import cuda

        if self._device.type != "cpu":
            raise RuntimeError(f"cannot pin a tensor on {self._device}: only CPU memory can "
                               f"be pinned")
        if not cuda.is_available():
            raise RuntimeError("pin_memory() needs CUDA, and no GPU was found on this machine")
        if self.is_pinned():
            return self
        K = backend(canonical("cuda"))
        pinned = K.pinned_empty(self._data.shape, self._data.dtype)
        pinned[...] = self._data
        return Tensor._make(pinned)

    def is_pinned(self):
        if self._device.type != "cpu":
            return False
        from . import cuda

        return cuda.is_available() and backend(canonical("cuda")).is_pinned(self._data)

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def bfloat16(self):
        return self.to(dtypes.bfloat16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def bool(self):
        return self.to(dtypes.bool_)

    def type_as(self, other):
        return self.to(other.dtype)

    def type(self, dtype=None, non_blocking=False):
        """The type's name ("torch.FloatTensor"), or a conversion: to a dtype, a typed
        constructor (torch.LongTensor) or its name ("torch.cuda.FloatTensor" moves too)."""
        if dtype is None:
            prefix = "torch.cuda." if self._device.type == "cuda" else "torch."
            return prefix + _TYPE_NAMES.get(self._dtype.name, "Tensor")
        if isinstance(dtype, type) and hasattr(dtype, "dtype"):  # torch.LongTensor
            return self.to(dtype.dtype)
        if isinstance(dtype, str):
            names = {v: dtypes.from_name(k) for k, v in _TYPE_NAMES.items()}
            kind = dtype.rpartition(".")[2]
            if not dtype.startswith("torch.") or kind not in names:
                raise ValueError(f"invalid type: {dtype!r} (expected a name such as "
                                 f"'torch.FloatTensor' or 'torch.cuda.LongTensor')")
            return self.to("cuda" if dtype.startswith("torch.cuda.") else "cpu", names[kind])
        return self.to(dtype)

    # ---- Python protocol ---------------------------------------------------------------

    def __len__(self):
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self):
        if self._data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is "
                               f"ambiguous (shape {tuple(self.shape)})")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._dtype.is_floating_point or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to "
                            "an index")
        return int(self.item())

    __hash__ = object.__hash__

    def __repr__(self):
        from .printing import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec):
        """A 0-d tensor formats as its number (f"{loss:.4f}"); others as their repr."""
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, protocol):
        # Pickling (for DataLoader workers) carries the values, never the graph.
        return (_rebuild, (self._backend.to_numpy(self._data), str(self._device),
                           self._requires_grad))

    def __deepcopy__(self, memo):
        from .autograd.grad_mode import no_grad

        with no_grad():
            out = Tensor._make(self._backend.copy(self._data), self._device)
        out._requires_grad = self._requires_grad
        if self._grad is not None:
            out._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = out
        return out


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
               "int32": "IntTensor", "bool": "BoolTensor", "uint8": "ByteTensor",
               "int16": "ShortTensor", "int8": "CharTensor", "float16": "HalfTensor",
               "bfloat16": "BFloat16Tensor"}


def _rebuild(array, device, requires_grad):
    t = Tensor._make(np.array(array)).to(device)
    t._requires_grad = requires_grad
    return t


# Counts what a compiled entry cannot see by a captured tensor's identity: gradient hooks
# registered or removed, and `.data` replaced (maybe by another shape, dtype or device).
# An entry looks at the tensors it captured again only after one.
LEAF_CHANGES = [0]


class _RemovableHandle:
    """What `register_hook` returns: `handle.remove()` unregisters the hook.

    It keeps the object and the name of its hook list rather than the list: a node
    replaces its list on every registration (so that a walk under way keeps the one
    it started with), and a handle holding the old list would remove nothing."""

    def __init__(self, owner, attribute, hook):
        self._owner, self._attribute, self._hook = owner, attribute, hook

    def remove(self):
        hooks = list(getattr(self._owner, self._attribute) or ())
        for i, hook in enumerate(hooks):
            if hook is self._hook:
                del hooks[i]
                setattr(self._owner, self._attribute, hooks)
                LEAF_CHANGES[0] += 1
                return
