"""Where engine.compile's tracer listens: the slot for the trace under way, the call
that the few things a trace cannot capture make (`.item()`, in-place writes it cannot
replay, random numbers drawn outside an op), `write`, for the in-place writes it can,
and `opaque`, for a step the replay repeats whole. Kept
free of imports, so that every layer can reach it."""
TRACER = [None]  # the engine.compiler.trace.Tracer recording now, if any


def graph_break(reason):
    """Tell the trace under way (if any) that `reason` cannot be captured."""
    tracer = TRACER[0]
    if tracer is not None:
        tracer.cannot_capture(reason)


def constant(tensor):
    """A tensor made from Python values only (a creation function, a number operand): a
    trace may keep it as a constant."""
    tracer = TRACER[0]
    if tracer is not None:
        tracer.allowed.add(id(tensor))
    return tensor


def write(target, result):
    """`result` is about to be written into `target`'s memory (an in-place op): a trace
    under way records the write, or stops where it cannot replay it."""
    tracer = TRACER[0]
    if tracer is not None:
        tracer.write_into(target, result)


def opaque(name, call, touches, spends=True):
    """call(). A trace under way records it as one step that its replay calls again, and
    forgets what it knew of the tensors `touches()` names, which the call may change in
    place: so an optimizer's step (its Python logic and fused kernels) and zero_grad
    belong to a compiled training step. `spends`: the call uses up the step's gradients
    (a step, zero_grad), so the function's results cannot be differentiated afterwards;
    bookkeeping (DistributedDataParallel arming its reducer) passes False."""
    tracer = TRACER[0]
    return call() if tracer is None else tracer.opaque(name, call, touches, spends)
