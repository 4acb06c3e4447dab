"""engine.compile: trace a function once into a networkx graph, then replay it as
generated code (see function.py for the life of an entry, trace.py for the graph)."""
from .function import CompiledFunction
from .trace import GraphBreak

__all__ = ["compile", "CompiledFunction", "GraphBreak", "COMPILE_TOP_LEVEL"]

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
