"""Every op in the table, against PyTorch: values, gradients and node names, in float32
and float64; gradcheck and gradgradcheck in float64; and a guard that no primitive in
engine.ops escapes the sweep."""
import numpy as np
import pytest

import engine
from engine.ops.primitive import Primitive
from op_specs import SPECS, make_array
from conftest import assert_close, needs_torch, torch

IDS = [s.name for s in SPECS]


def _inputs(spec, module, float_dtype, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [make_array(a, rng, float_dtype) for a in spec.args]
    make = engine.tensor if module is engine else torch.tensor
    out = []
    for a, arr in zip(spec.args, arrays):
        t = make(arr)
        if a.grad and arr.dtype.kind == "f":
            t.requires_grad_(True)
        out.append(t)
    return out


def _weighted_sum(out, module):
    """A scalar whose gradient sends distinct weights into every output element."""
    w = np.linspace(0.5, 1.5, max(out.numel(), 1)).reshape(tuple(out.shape)) if out.numel() \
        else np.zeros(tuple(out.shape))
    weights = (engine.tensor if module is engine else torch.tensor)(w.astype(
        np.float64 if out.dtype in (engine.float64, getattr(torch, "float64", None))
        else np.float32))
    return (out * weights).sum()


@needs_torch
@pytest.mark.parametrize("float_dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_matches_torch(spec, float_dtype):
    ours_in = _inputs(spec, engine, float_dtype)
    theirs_in = _inputs(spec, torch, float_dtype)
    ours = spec.fn(engine, *ours_in)
    theirs = spec.fn(torch, *theirs_in)
    rtol = spec.rtol if float_dtype == np.float32 else 1e-9
    atol = 1e-5 if float_dtype == np.float32 else 1e-10
    assert_close(ours, theirs, rtol, atol, what=f"{spec.name} forward")
    assert str(ours.dtype) == str(theirs.dtype), f"{spec.name}: dtype {ours.dtype}"
    if spec.same_node_name:
        assert ours.grad_fn.name() == theirs.grad_fn.name()
    _weighted_sum(ours, engine).backward()
    _weighted_sum(theirs, torch).backward()
    for i, (a, b) in enumerate(zip(ours_in, theirs_in)):
        if b.requires_grad:
            assert a.grad is not None, f"{spec.name}: no gradient for input {i}"
            assert a.grad.dtype == a.dtype
            assert_close(a.grad, b.grad, rtol, atol, what=f"{spec.name} grad of input {i}")


CHECKABLE = [s for s in SPECS if s.gradcheck]
SECOND_ORDER = [s for s in CHECKABLE if s.second_order]


@pytest.mark.parametrize("spec", CHECKABLE, ids=[s.name for s in CHECKABLE])
def test_gradcheck(spec):
    inputs = _inputs(spec, engine, np.float64, seed=1)
    assert engine.autograd.gradcheck(lambda *xs: spec.fn(engine, *xs), inputs)


@pytest.mark.parametrize("spec", SECOND_ORDER, ids=[s.name for s in SECOND_ORDER])
def test_gradgradcheck(spec):
    inputs = _inputs(spec, engine, np.float64, seed=2)
    assert engine.autograd.gradgradcheck(lambda *xs: spec.fn(engine, *xs), inputs)


def _all_primitives():
    import engine.ops as ops_package
    import importlib
    import pkgutil

    found = {}
    for info in pkgutil.iter_modules(ops_package.__path__):
        module = importlib.import_module(f"engine.ops.{info.name}")
        for value in vars(module).values():
            if isinstance(value, Primitive) and any(v is not None for v in value.vjps):
                found[value.node_name] = value
    return found


def _node_names(outputs):
    names, stack, seen = set(), [o.grad_fn for o in outputs if o.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        names.add(node.name())
        stack.extend(e for e, _ in node.next_functions)
    return names


# Random ops cannot be compared with torch value for value; test_autograd covers them.
RANDOM = {"NativeDropoutBackward0"}


def test_every_primitive_is_swept():
    """Run each spec to second order and check that together they reach every primitive."""
    reached = set()
    for spec in SPECS:
        inputs = _inputs(spec, engine, np.float64)
        out = spec.fn(engine, *inputs)
        reached |= _node_names([out])
        diff = [x for x in inputs if x.requires_grad]
        # A quadratic loss, so that even linear ops' gradients carry a graph.
        grads = engine.autograd.grad(_weighted_sum(out * out, engine), diff,
                                     create_graph=True, allow_unused=True)
        reached |= _node_names([g for g in grads if g is not None and g.requires_grad])
    missing = sorted(set(_all_primitives()) - reached - RANDOM)
    assert not missing, f"primitives no spec exercises: {missing}"
