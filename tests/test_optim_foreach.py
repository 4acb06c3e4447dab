"""Multi-tensor optimizer updates (PyTorch's foreach implementation, the default here):
the same bits as updating one parameter at a time, in fewer kernel calls.

The one-at-a-time path is checked against PyTorch in test_optim.py; here the batched
path must equal it exactly, over parameters chosen to stress the batching: more than
one chunk, two dtypes in one group, an empty and a 0-d parameter, a non-contiguous one.
"""
import numpy as np
import pytest

import engine
from engine import nn
from kernels import update_rules
from kernels.cpu import optim as cpu_optim
from test_optim import OPTIMIZERS


def _parameters(device="cpu"):
    rng = np.random.default_rng(3)
    shapes = [(4, 3), (3,), (0,), (), (2, 2, 2), (5,), (1, 7), (3, 3), (2,), (6,), (4, 1)]
    params = [nn.Parameter(engine.tensor(rng.standard_normal(s).astype(np.float32),
                                         device=device)) for s in shapes]
    params.append(nn.Parameter(engine.tensor(rng.standard_normal(5), device=device)))  # f64
    strided = engine.tensor(rng.standard_normal((3, 4)).astype(np.float32), device=device).t()
    params.append(strided.detach().requires_grad_())
    assert not params[-1].is_contiguous()
    return params


def _train(make, foreach, device="cpu", steps=4):
    params = _parameters(device)
    opt = make(engine, params)
    for group in opt.param_groups:
        group["foreach"] = foreach
    rng = np.random.default_rng(4)
    for _ in range(steps):
        for p in params:
            p.grad = engine.tensor(rng.standard_normal(p.shape).astype(str(p.dtype)[6:]),
                                   device=device)
        opt.step()
    state = [{k: v.cpu().numpy().copy() if isinstance(v, engine.Tensor) else v
              for k, v in opt.state[p].items()} for p in params]
    return [p.detach().cpu().numpy().copy() for p in params], state


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_updates_together_equal_updates_one_at_a_time(name):
    together, together_state = _train(OPTIMIZERS[name], foreach=None)
    alone, alone_state = _train(OPTIMIZERS[name], foreach=False)
    for a, b in zip(together, alone):
        np.testing.assert_array_equal(a, b, err_msg=name)
    for a, b in zip(together_state, alone_state):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name} {key}")


def _counting(monkeypatch, table):
    calls = []
    for name, run in list(table.items()):
        def counted(*args, run=run, name=name):
            calls.append((name, len([p for p in args[0] if p.size])))
            return run(*args)
        monkeypatch.setitem(table, name, counted)
    return calls


def test_a_step_is_one_call_per_chunk_of_parameters_that_share_a_rule(monkeypatch):
    many = _counting(monkeypatch, cpu_optim._MANY)
    alone = _counting(monkeypatch, cpu_optim._LOOPS)
    params = _parameters()
    for p in params:
        p.grad = engine.ones_like(p)
    engine.optim.SGD(params, lr=0.1).step()
    float32 = [p for p in params if p.dtype == engine.float32 and p.is_contiguous()]
    chunks = -(-len(float32) // update_rules.CHUNK)
    assert [name for name, _ in many] == ["sgd_lean"] * (chunks + 1)  # + the float64 one
    assert sum(n for _, n in many) == sum(p.numel() > 0 for p in params[:-1])
    assert alone == [("sgd_lean", params[-1].numel())]  # the non-contiguous one, alone

    many.clear()
    alone.clear()
    engine.optim.SGD(params, lr=0.1, foreach=False).step()
    assert not many and len(alone) == len(params)


def test_a_bad_state_stops_the_step_before_any_parameter_changes():
    """Every update is checked as the step collects it, so a state file edited to the
    wrong shape is refused with nothing written (one at a time, earlier parameters
    were already updated when a later one failed)."""
    params = _parameters()[:3]
    opt = engine.optim.Adam(params, lr=0.1)
    for p in params:
        p.grad = engine.ones_like(p)
    opt.step()
    before = [p.detach().numpy().copy() for p in params]
    opt.state[params[1]]["exp_avg"] = engine.zeros(7)  # as a hostile file could set it
    with pytest.raises(RuntimeError, match=r"state 'exp_avg' is torch.float32 of shape "
                                           r"\(7,\) on cpu, but its parameter is "):
        opt.step()
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p.detach().numpy(), b)


def test_updates_inside_a_block_wait_for_its_end():
    from engine.ops.update import sgd_, together

    p = nn.Parameter(engine.ones(3))
    with engine.no_grad(), together():
        sgd_(p, engine.ones(3), None, lr=0.5, momentum=0, dampening=0, weight_decay=0,
             nesterov=False, maximize=False, first_step=True)
        assert p.detach().numpy().tolist() == [1.0, 1.0, 1.0]
    assert p.detach().numpy().tolist() == [0.5, 0.5, 0.5]
