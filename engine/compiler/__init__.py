"""engine.compile: trace a function once into a networkx graph, then replay it as
generated code (see function.py for the life of an entry, trace.py for the graph).

Also torch.compiler's helpers: `reset()`, `disable()`, `is_compiling()`."""
import functools

from .. import tracing
from .function import CompiledFunction
from .trace import GraphBreak

__all__ = ["compile", "CompiledFunction", "GraphBreak", "COMPILE_TOP_LEVEL", "reset",
           "disable", "is_compiling", "is_dynamo_compiling"]

# Set by `numbagrad run NAME --compile`: every module called from outside any other
# module (a program's model) compiles itself on that first call.
COMPILE_TOP_LEVEL = [False]


def compile(model=None, *, fullgraph=False, dynamic=None, backend="numbagrad", mode=None,
            options=None, disable=False):
    """Compile a function or nn.Module; usable as `@compile` and `@compile(...)`.

    A compiled module is the module itself with its forward compiled (parameters,
    state_dict and repr unchanged), as `Module.compile()` does in PyTorch.
    """
    if dynamic:
        raise ValueError("engine.compile: dynamic=True (one graph for many shapes) is not "
                         "supported; each new shape is traced again")
    if backend not in ("numbagrad", "inductor"):
        raise ValueError(f"engine.compile: backend={backend!r} is not available; numbagrad "
                         f"compiles with its own code generator")
    if mode not in (None, "default"):
        raise ValueError(f"engine.compile: mode={mode!r} is not supported (only the default)")
    if options:
        raise ValueError(f"engine.compile: options {sorted(options)} are not supported")

    def wrap(fn):
        if disable:
            return fn
        forward = getattr(fn, "forward", None)
        if forward is not None and hasattr(fn, "parameters"):
            fn.forward = CompiledFunction(forward, fullgraph, module=fn)
            return fn
        if not callable(fn):
            raise TypeError(f"engine.compile: expected a function or an nn.Module, got "
                            f"{type(fn).__name__}")
        return CompiledFunction(fn, fullgraph)

    return wrap if model is None else wrap(model)


def reset():
    """Forget every compiled entry of every compiled function (each traces again at its
    next call), as torch.compiler.reset() does."""
    for fn in list(CompiledFunction.every):
        fn.reset()


def is_compiling():
    """True while engine.compile traces: code may take another path then."""
    return tracing.TRACER[0] is not None


is_dynamo_compiling = is_compiling


def disable(fn=None, recursive=True, *, reason=None):
    """`fn` is never captured: called while a function is traced, it ends the trace, and
    the compiled function runs eagerly, with the one-time warning naming `fn` (or
    GraphBreak under fullgraph=True). (torch.compile would compile the rest of the
    function around the call; numbagrad compiles whole functions.) Usable as a
    decorator, with or without arguments."""
    if not recursive:
        raise ValueError("engine.compiler.disable: recursive=False (compiling the functions "
                         "fn calls) is not supported; fn and what it calls run eagerly")

    def wrap(fn):
        @functools.wraps(fn)
        def eager(*args, **kwargs):
            tracing.graph_break(f"{getattr(fn, '__qualname__', fn)!s}, marked "
                                f"engine.compiler.disable" + (f" ({reason})" if reason else ""))
            return fn(*args, **kwargs)
        return eager

    return wrap if fn is None else wrap(fn)
