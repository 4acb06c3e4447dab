"""`torch.amp`: autocast's per-op casting policy and GradScaler's loss scaling.

Inside `autocast("cpu")` the matrix products and convolutions take bfloat16 (or float16)
operands, where low precision costs little accuracy, and the ops that accumulate or
exponentiate (losses, `prod`, `cdist`, `linalg`) take float32 ones; every other op runs
in the dtype its operands already have, as in PyTorch. An op's policy is a decorator on
its public function (`lower_precision`, `full_precision`), so the policy is visible where
the op is defined. Gradients flow back through the casts, to the float32 parameters.

numbagrad's CUDA kernels have no 16-bit floats, so autocast on CUDA is refused in words
where a GPU is present; without one it warns and disables itself, as PyTorch's does.
"""
import functools
import threading
import warnings

from . import dtypes

_DEVICE_TYPES = ("cpu", "cuda")
_CPU_DTYPES = (dtypes.bfloat16, dtypes.float16)


class _State(threading.local):
    """Per thread, as PyTorch's: the dtype ops cast to on the CPU (None: autocast off),
    and the casts of parameters made in the outermost region, reused within it."""

    def __init__(self):
        self.cpu = None
        self.default = {"cpu": dtypes.bfloat16, "cuda": dtypes.float16}
        self.cache = {}
        self.cache_enabled = True
        self.depth = 0


_STATE = _State()


def is_autocast_available(device_type):
    return device_type == "cpu"


def is_autocast_enabled(device_type="cuda"):
    """PyTorch's spelling: with no argument it asks about CUDA, which is never on here."""
    return device_type == "cpu" and _STATE.cpu is not None


def autocast_dtype():
    """The dtype CPU ops cast to now, or None (engine.compile guards on it)."""
    return _STATE.cpu


def get_autocast_dtype(device_type):
    _check_device_type(device_type)
    return _STATE.default[device_type]


def _check_device_type(device_type):
    if device_type not in _DEVICE_TYPES:
        raise RuntimeError(f"autocast: device_type must be one of {', '.join(_DEVICE_TYPES)}, "
                           f"got {device_type!r}")


class autocast:
    """`with autocast("cpu"):` or `@autocast("cpu")`: the region's ops follow the policy
    above. `enabled=False` turns a surrounding region off; `cache_enabled` keeps one cast
    of each parameter for the whole outermost region."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"autocast: expected device_type to be a str, got "
                             f"{type(device_type).__name__}")
        _check_device_type(device_type)
        self.device_type = device_type
        self.fast_dtype = _STATE.default[device_type] if dtype is None else dtype
        self.enabled = bool(enabled)
        self.cache_enabled = True if cache_enabled is None else bool(cache_enabled)
        if not self.enabled:
            return
        if device_type == "cuda":
            from . import cuda

            if cuda.is_available():
                raise RuntimeError("autocast('cuda') needs float16 kernels on the GPU, which "
                                   "numbagrad's CUDA backend does not have: run the region "
                                   "in float32, or autocast on the CPU")
            warnings.warn("CUDA is not available. Disabling autocast.", UserWarning,
                          stacklevel=2)
            self.enabled = False
        elif self.fast_dtype not in _CPU_DTYPES:
            warnings.warn(f"In CPU autocast, but the target dtype is not supported. Disabling "
                          f"autocast.\nCPU Autocast only supports dtypes of torch.bfloat16, "
                          f"torch.float16 currently (got {self.fast_dtype}).", UserWarning,
                          stacklevel=2)
            self.enabled = False

    def __enter__(self):
        self._saved = (_STATE.cpu, _STATE.cache_enabled, dict(_STATE.default))
        if self.device_type == "cpu":
            _STATE.cpu = self.fast_dtype if self.enabled else None
            _STATE.cache_enabled = self.cache_enabled
        if self.enabled:
            _STATE.default[self.device_type] = self.fast_dtype
        _STATE.depth += 1
        return self

    def __exit__(self, *exc):
        _STATE.cpu, _STATE.cache_enabled, _STATE.default = self._saved
        _STATE.depth -= 1
        if _STATE.depth == 0:
            _STATE.cache.clear()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def inside(*args, **kwargs):
            with autocast(self.device_type, self.fast_dtype, self.enabled, self.cache_enabled):
                return fn(*args, **kwargs)
        return inside


class suspended:
    """Autocast off for a stretch of engine code (backward formulas run in the dtypes the
    forward recorded, as PyTorch's do)."""

    def __enter__(self):
        self._saved, _STATE.cpu = _STATE.cpu, None

    def __exit__(self, *exc):
        _STATE.cpu = self._saved
        return False


def _cast(x, dtype):
    """x in `dtype` if autocast may cast it: a floating CPU tensor, not float64 (as in
    PyTorch, double precision is left alone)."""
    from .tensor import Tensor

    if isinstance(x, (list, tuple)):
        return type(x)(_cast(v, dtype) for v in x)
    if not isinstance(x, Tensor) or x._dtype is dtype or not x._dtype.is_floating_point \
            or x._dtype is dtypes.float64 or x._device.type != "cpu":
        return x
    if not (_STATE.depth and _STATE.cache_enabled and x.is_leaf and x.requires_grad):
        return x.to(dtype)  # the cache lives only as long as the outermost region
    key = (id(x), dtype)
    found = _STATE.cache.get(key)
    if found is None or found[0] is not x:
        found = _STATE.cache[key] = (x, x.to(dtype))
    return found[1]


def _policy(target):
    def decorate(fn):
        @functools.wraps(fn)
        def op(*args, **kwargs):
            dtype = _STATE.cpu
            if dtype is None:
                return fn(*args, **kwargs)
            dtype = target or dtype
            return fn(*[_cast(a, dtype) for a in args],
                      **{k: _cast(v, dtype) for k, v in kwargs.items()})
        return op
    return decorate


lower_precision = _policy(None)  # products and convolutions: the region's dtype
full_precision = _policy(dtypes.float32)  # losses, products of many terms, linalg


def float32_inside(fn):
    """For a float16/bfloat16 input, run the composite `fn` in float32 and round its
    result once: PyTorch's fused normalisation kernels do so, where rounding each of the
    composite's steps would lose several bits."""
    @functools.wraps(fn)
    def op(input, *args, **kwargs):
        if not input.dtype.narrow:
            return fn(input, *args, **kwargs)
        wide = [a.float() if getattr(a, "dtype", None) in _CPU_DTYPES else a
                for a in (input, *args)]
        return fn(*wide, **kwargs).to(input.dtype)
    return op


class GradScaler:
    """Loss scaling for float16 gradients, as PyTorch's GradScaler: `scale(loss)`
    multiplies the loss so small gradients survive in float16; `step(optimizer)`
    divides the gradients back and skips the update when any is inf or NaN; `update()`
    halves the scale after such a step and doubles it after `growth_interval` clean ones.
    """

    _READY, _UNSCALED, _STEPPED = 0, 1, 2

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0,
                 backoff_factor=0.5, growth_interval=2000, enabled=True):
        if growth_factor <= 1.0:
            raise ValueError("The growth factor must be > 1.0.")
        if backoff_factor >= 1.0:
            raise ValueError("The backoff factor must be < 1.0.")
        self._device = device
        if enabled and device == "cuda":
            from . import cuda

            if not cuda.is_available():
                warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not "
                              "available.  Disabling.", UserWarning, stacklevel=2)
                enabled = False
        self._enabled = enabled
        self._init_scale, self._scale = float(init_scale), None
        self._growth_factor, self._backoff_factor = float(growth_factor), float(backoff_factor)
        self._growth_interval, self._growth_tracker = int(growth_interval), 0
        self._per_optimizer = {}

    def is_enabled(self):
        return self._enabled

    def scale(self, outputs):
        """outputs times the scale (a tensor, or tensors in nested lists and tuples)."""
        if not self._enabled:
            return outputs
        from .tensor import Tensor

        if self._scale is None:
            self._scale = self._init_scale
        if isinstance(outputs, Tensor):
            return outputs * _scale_tensor(self._scale, outputs.device)
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"stage": self._READY,
                                                              "found_inf": False})

    def unscale_(self, optimizer):
        """Divide the optimizer's gradients by the scale, in place (to clip them, say),
        noting whether any is inf or NaN."""
        if not self._enabled:
            return
        state = self._state(optimizer)
        if state["stage"] == self._UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since "
                               "the last update().")
        if state["stage"] == self._STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        if self._scale is None:
            raise RuntimeError("unscale_(): no scale yet: call scaler.scale(loss) before "
                               "backward() in the iteration")
        from .autograd.grad_mode import no_grad

        inverse = float(1.0 / self._scale)
        found = False
        with no_grad():
            for group in optimizer.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    if p.grad.dtype is dtypes.float16:
                        raise ValueError("Attempting to unscale FP16 gradients.")
                    p.grad.mul_(_scale_tensor(inverse, p.grad.device))
                    found = found or not bool(p.grad.isfinite().all())
        state["stage"], state["found_inf"] = self._UNSCALED, found

    def step(self, optimizer, *args, **kwargs):
        """optimizer.step(), unless a gradient is inf or NaN (then nothing, and None)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        state = self._state(optimizer)
        if state["stage"] == self._STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] == self._READY:
            self.unscale_(optimizer)
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = self._STEPPED
        return result

    def update(self, new_scale=None):
        """The next iteration's scale: `new_scale` if given, else backed off after an
        overflow and grown after growth_interval clean steps."""
        if not self._enabled:
            return
        if self._scale is None:
            raise AssertionError("Attempted update but _scale is None.  This may indicate "
                                 "your script did not use scaler.scale(loss or outputs) "
                                 "earlier in the iteration.")
        if new_scale is not None:
            self._scale = float(new_scale.item() if hasattr(new_scale, "item") else new_scale)
        else:
            checked = [s["found_inf"] for s in self._per_optimizer.values()
                       if s["stage"] != self._READY]
            if not checked:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(checked):
                self._scale *= self._backoff_factor
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    grown = self._scale * self._growth_factor
                    if grown != float("inf"):
                        self._scale = grown
                    self._growth_tracker = 0
        self._scale = float(_as_float32(self._scale))
        self._per_optimizer.clear()

    def get_scale(self):
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else self._scale

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = int(new_interval)

    def state_dict(self):
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was "
                               "saved from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        self._scale = self._init_scale if self._scale is not None else None
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])


def _as_float32(value):
    import numpy as np

    return np.float32(value)


def _scale_tensor(value, device):
    """The scale as PyTorch keeps it: a float32 0-d tensor."""
    from .creation import tensor

    return tensor(float(_as_float32(value)), dtype=dtypes.float32, device=device)


def cpu_autocast(enabled=True, dtype=dtypes.bfloat16, cache_enabled=True):
    """`torch.cpu.amp.autocast`, PyTorch's older spelling of autocast("cpu")."""
    return autocast("cpu", dtype, enabled, cache_enabled)


def cuda_autocast(enabled=True, dtype=dtypes.float16, cache_enabled=True):
    """`torch.cuda.amp.autocast`, PyTorch's older spelling of autocast("cuda")."""
    return autocast("cuda", dtype, enabled, cache_enabled)


def cuda_grad_scaler(init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                     growth_interval=2000, enabled=True):
    """`torch.cuda.amp.GradScaler`, PyTorch's older spelling of GradScaler("cuda")."""
    return GradScaler("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                      enabled)
