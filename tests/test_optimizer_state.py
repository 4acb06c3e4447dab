"""Optimizer state that a file or a user edited: a Python error naming the entry, never
a kernel writing out of bounds; a flag turned on mid-training gets its state."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine

optim = engine.optim

# Entries whose absence is not an error, and why: PyTorch's SGD starts a fresh momentum
# buffer when it is missing or None; the state of a flag (amsgrad, RMSprop's centered
# and momentum) is created when missing, as for a flag turned on after the first step;
# a one-element tensor is a valid step count (or NAdam's running product).
ALLOWED = {"SGD momentum_buffer removed", "SGD momentum_buffer None",
           "SGD-nesterov momentum_buffer removed", "SGD-nesterov momentum_buffer None",
           "Adam max_exp_avg_sq removed", "RMSprop grad_avg removed",
           "RMSprop momentum_buffer removed"}


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_every_edited_state_entry_is_refused_in_python(tmp_path, dtype):
    """float32 parameters reach the kernels directly; bfloat16 ones through the narrow
    backend, which widens them first: the checks must hold on both paths."""
    here = Path(__file__).parent
    run = subprocess.run([sys.executable, str(here / "optimizer_state_child.py"),
                          str(tmp_path), dtype], capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, f"the child died ({run.returncode}): {run.stderr[-3000:]}"
    report = json.loads(run.stdout)
    cases = report["cases"]
    assert len(cases) == 6 * 28
    passed = {case for case, result in cases.items() if result == "ok"}
    counts = {case for case in passed if case.split()[1] in ("step", "mu_product")}
    assert passed - ALLOWED == {case for case in counts if case.endswith("smaller")}
    assert ALLOWED <= passed
    edited = report["edited"]
    assert edited["refused"] > (300 if dtype == "float32" else 60) and edited["loaded"] > 0


def _params(lib, seed=0):
    import numpy as np
    rng = np.random.default_rng(seed)
    return [lib.tensor(rng.standard_normal(shape), dtype=lib.float64, requires_grad=True)
            for shape in [(4, 3), (3,)]]


def _train(lib, optimizer, params, steps):
    for _ in range(steps):
        optimizer.zero_grad()
        loss = (params[0].sin() * 3).sum() + (params[1] ** 2).sum()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("make, flags, created", [
    (lambda o, ps: o.Adam(ps, lr=0.01), {"amsgrad": True}, ["max_exp_avg_sq"]),
    (lambda o, ps: o.AdamW(ps, lr=0.01), {"amsgrad": True}, ["max_exp_avg_sq"]),
    (lambda o, ps: o.RMSprop(ps, lr=0.01), {"centered": True, "momentum": 0.9},
     ["grad_avg", "momentum_buffer"]),
    (lambda o, ps: o.SGD(ps, lr=0.01), {"momentum": 0.9}, []),
])
def test_a_flag_turned_on_mid_training_allocates_its_state(make, flags, created):
    """numbagrad creates the flag's state as zeros; torch is given the same zeros by
    hand (it raises KeyError there), and the next steps must agree."""
    torch = pytest.importorskip("torch")
    ours, theirs = _params(engine), _params(torch)
    opt_ours, opt_theirs = make(optim, ours), make(torch.optim, theirs)
    _train(engine, opt_ours, ours, 3)
    _train(torch, opt_theirs, theirs, 3)
    for opt in (opt_ours, opt_theirs):
        opt.param_groups[0].update(flags)
    for p in theirs:
        for key in created:
            opt_theirs.state[p][key] = torch.zeros_like(p)
    _train(engine, opt_ours, ours, 4)
    _train(torch, opt_theirs, theirs, 4)
    for a, b in zip(ours, theirs):
        assert a.detach().numpy() == pytest.approx(b.detach().numpy(), rel=1e-10, abs=1e-12)
    for p in ours:
        assert all(opt_ours.state[p][key].shape == p.shape for key in created)


def test_load_refuses_state_of_the_wrong_kind():
    w = engine.zeros(3, 2, requires_grad=True)
    opt = optim.Adam([w])
    good = {"state": {0: {"step": engine.tensor(1.0), "exp_avg": engine.zeros(3, 2),
                          "exp_avg_sq": engine.zeros(3, 2)}},
            "param_groups": [dict(opt.state_dict()["param_groups"][0])]}
    opt.load_state_dict(good)
    bad_dtype = {**good, "state": {0: {**good["state"][0],
                                       "exp_avg": engine.zeros(3, 2, dtype=engine.int64)}}}
    for state_dict, message in [
            (bad_dtype, "loaded state 'exp_avg' for parameter 0 is torch.int64"),
            ({**good, "state": {0: {**good["state"][0], "exp_avg": engine.zeros(6)}}},
             r"'exp_avg' for parameter 0 has shape \(6,\), the parameter has \(3, 2\)"),
            ({**good, "state": {"x": {}}}, "not a parameter index"),
            ({**good, "state": [1]}, "'state' must map parameter indices to dicts"),
            ({**good, "param_groups": [{"lr": 1}]}, "list of 'params'"),
            ({"state": {}}, "'state' and 'param_groups'")]:
        with pytest.raises(ValueError, match=message):
            opt.load_state_dict(state_dict)
    assert opt.state[w]["step"].item() == 1.0  # nothing changed by the refusals


def test_backend_update_refuses_arrays_it_would_overrun():
    """The kernels' own guard, whoever calls them: sizes and dtypes are checked on the
    arrays, and a flag may not send the loop into a state it was not given."""
    import numpy as np

    from kernels import cpu
    p, g = np.zeros(8, np.float32), np.ones(8, np.float32)
    m, v = np.zeros(8, np.float32), np.zeros(8, np.float32)
    with pytest.raises(ValueError, match=r"second state has shape \(0,\)"):
        cpu.adam_step(p, g, m, np.zeros(0, np.float32), None, 0.1, 0.9, 0.999, 1e-8, 0.0,
                      False, False, False, 1)
    with pytest.raises(ValueError, match="reads max_exp_avg_sq"):
        cpu.adam_step(p, g, m, v, None, 0.1, 0.9, 0.999, 1e-8, 0.0, False, True, False, 1)
    with pytest.raises(ValueError, match="reads grad_avg"):
        cpu.rmsprop_step(p, g, m, None, None, 0.1, 0.9, 1e-8, 0.0, 0.0, True, False)
    with pytest.raises(ValueError, match="dtype float64"):
        cpu.sgd_step(p, g, np.zeros(8), 0.1, 0.9, 0.0, 0.0, False, False, False)
    with pytest.raises(ValueError, match="first state is missing"):
        cpu.adagrad_step(p, g, None, 0.1, 0.0, 0.0, 1e-10, False, 1)
    assert not p.any()
