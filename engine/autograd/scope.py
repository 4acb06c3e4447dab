"""Which module is running: nodes record it, so a diagram can group ops by module.

`nn.Module.__call__` enters a scope named as its parent knows it ("layers", "0", ...);
the path of names is kept as a tuple so that recording it costs one attribute read.
"""
import contextlib
import threading


class _Scopes(threading.local):
    path = ()
    owners = ()


_scopes = _Scopes()


def current_path():
    return _scopes.path


@contextlib.contextmanager
def module_scope(module):
    """Enter `module`: named by its parent's registry, or by its class at the top."""
    parent = _scopes.owners[-1] if _scopes.owners else None
    name = type(module).__name__
    if parent is not None:
        for key, child in parent._modules.items():
            if child is module:
                name = key
                break
    saved = (_scopes.path, _scopes.owners)
    _scopes.path = saved[0] + (name,)
    _scopes.owners = saved[1] + (module,)
    try:
        yield
    finally:
        _scopes.path, _scopes.owners = saved
