"""`detect_anomaly()`: name the op whose backward produced NaN, and where it was called."""
import traceback

_enabled = False


def is_anomaly_enabled():
    return _enabled


class detect_anomaly:
    """Record each op's call site; during backward, fail at the first NaN gradient."""

    def __init__(self, check_nan=True):
        self.check_nan = check_nan

    def __enter__(self):
        global _enabled
        self._previous = _enabled
        _enabled = self.check_nan

    def __exit__(self, *exc):
        global _enabled
        _enabled = self._previous


def call_site():
    """The user's stack at the op's call, without the engine's own frames."""
    frames = [f for f in traceback.extract_stack()[:-1]
              if "/engine/" not in f.filename.replace("\\", "/")]
    return "".join(traceback.format_list(frames[-8:]))


def check_gradients(node, grads):
    """Raise if any gradient the node returned holds NaN, naming the node and its call site."""
    for i, g in enumerate(grads):
        if g is not None and g.dtype.is_floating_point and bool(g.isnan().any()):
            site = node.call_site or "(call site not recorded)\n"
            raise RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                               f"output.\nThe forward call that created it:\n{site}")
