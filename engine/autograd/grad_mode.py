"""Whether ops record the graph: `no_grad`, `enable_grad`, `set_grad_enabled`.

Per thread, as in PyTorch, so a data-loading thread cannot switch off recording
for the training loop.
"""
import functools
import threading

class _State(threading.local):
    enabled = True  # each thread starts with recording on


_state = _State()


def is_grad_enabled():
    return _state.enabled


def _set(enabled):
    _state.enabled = enabled


class _GradMode:
    """Base for the context managers; each also works as a function decorator."""

    enabled = True

    def __enter__(self):
        self._previous = is_grad_enabled()
        _set(self.enabled)

    def __exit__(self, *exc):
        _set(self._previous)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapped


class no_grad(_GradMode):
    """Run ops without recording them: for evaluation and for updating parameters."""

    enabled = False


class enable_grad(_GradMode):
    """Record ops again inside a `no_grad` block."""

    enabled = True


class set_grad_enabled(_GradMode):
    """Turn recording on or off: takes effect at once, and as a context manager."""

    def __init__(self, mode):
        self._previous = is_grad_enabled()
        self.enabled = bool(mode)
        _set(self.enabled)

    def __enter__(self):
        pass

    def __call__(self, fn):
        _set(self._previous)
        mode = self.enabled

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapped


class inference_mode(no_grad):
    """Same as `no_grad` here: the engine has no separate inference tensors."""

    def __init__(self, mode=True):
        self.enabled = not mode
