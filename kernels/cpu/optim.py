"""Optimizer updates on the CPU: one pass over each parameter, updating it and its state
in place; `update_many` passes over up to update_rules.CHUNK parameters in one call.

Each pass reads the gradient once and writes the parameter and state once, where the
same update written with separate array ops would make 5-10 passes over memory. The
rules are `kernels.update_rules`, shared with the GPU.
"""
import numpy as np
from numba import njit
from numba.extending import register_jitable

from .. import update_rules
from . import revision

# Reassociation and contraction let LLVM vectorise the loops; NaN and inf keep their
# IEEE meaning (no nnan/ninf), so a NaN gradient still shows up in the parameters.
# numpy's error model: Python's checks every division for zero, to raise, and that
# branch alone kept the Adam and RMSprop loops scalar (3-4x slower).
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}
# The rules and their loops allocate nothing, so they are compiled without reference
# counting (_nrt): with it, every call increfs and decrefs each array it is passed,
# atomically, once per element, which made the branching rules 5-10x slower than a
# hand-written loop.
_compile = njit(cache=True, fastmath=_FAST, error_model="numpy", _nrt=False)


def _loop(rule):
    """The rule inlined into a loop over every element.

    numba caches a closure under the pickled values of its cells: here the rule, a plain
    function that pickles by name, and `source`, the digest of update_rules.py (see
    `revision`), so an edited rule recompiles. A loop taking the rule as an argument,
    or closing over a compiled dispatcher, would compile again in every process.
    """
    body = register_jitable(rule)
    source = revision.of(update_rules)

    @_compile
    def each(p, g, states, scalars):
        source  # a cell, so in the cache key
        for i in range(p.size):
            body(i, p, g, states, scalars)

    return each


def _loops_over_many(rule):
    """The rule inlined into loops over each of a tuple of CHUNK parameters (padded with
    empty arrays): one compiled function serves any number of them, where a tuple of
    each length would compile again."""
    body = register_jitable(rule)
    source = revision.of(update_rules)

    @_compile
    def each(ps, gs, states, scalars):
        source  # a cell, so in the cache key
        for k in range(len(ps)):
            p, g, s = ps[k], gs[k], states[k]
            for i in range(p.size):
                body(i, p, g, s, scalars)

    return each


_LOOPS = {rule.__name__: _loop(rule) for rule in update_rules.RULES}
_MANY = {rule.__name__: _loops_over_many(rule) for rule in update_rules.RULES}


def _flat(x, unread):
    """A flat view to write through (state arrays are created contiguous). A state the
    rule leaves unread (None) becomes `unread`, an array of the parameter's size, so
    that no loop is ever handed an array smaller than the parameter."""
    if x is None:
        return unread
    if not x.flags.c_contiguous:
        raise ValueError("optimizer state and parameters must be contiguous to update in "
                         "place")
    return x.reshape(-1)


def _run(rule, param, grad, states, scalars):
    """Run the rule's loop over flat views; a non-contiguous parameter is updated via a
    copy."""
    target = param if param.flags.c_contiguous else np.ascontiguousarray(param)
    flat = target.reshape(-1)
    _LOOPS[rule.__name__](flat, np.ascontiguousarray(grad).reshape(-1),
                          tuple(_flat(s, flat) for s in states), scalars)
    if target is not param:
        param[...] = target


def _run_many(rule, items, scalars):
    """Contiguous parameters of one dtype: their flat views, padded to CHUNK with empty
    ones (every loop over an empty parameter is empty)."""
    flats = [param.reshape(-1) for param, _, _ in items]
    empty = flats[0][:0]
    pad = update_rules.CHUNK - len(items)
    states = tuple(tuple(_flat(s, flat) for s in item[2]) for flat, item in zip(flats, items))
    _MANY[rule.__name__](
        tuple(flats) + (empty,) * pad,
        tuple(np.ascontiguousarray(grad).reshape(-1) for _, grad, _ in items) + (empty,) * pad,
        states + ((empty,) * len(items[0][2]),) * pad, scalars)


update_many = update_rules.many(_run, _run_many)
(sgd_step, adam_step, adagrad_step, rmsprop_step, adamax_step, nadam_step, radam_step,
 adadelta_step) = update_rules.steps(_run)
