"""Optimizers and schedulers against PyTorch: 50 steps from the same weights give the
same parameters (1e-5 relative) and the same learning rates; state dicts resume exactly.

"Relative" is measured against each parameter tensor's scale (max |value|): float32
rounding differs between two correct implementations by an ulp here and there, and
Adam-like updates amplify that most on elements that happen to sit near zero."""
import numpy as np
import pytest

import engine
from conftest import needs_torch, torch

pytestmark = needs_torch


def _problem(m, seed=0):
    rng = np.random.default_rng(seed)
    arrays = dict(w1=rng.standard_normal((8, 4)), b1=rng.standard_normal(8),
                  w2=rng.standard_normal((3, 8)), b2=rng.standard_normal(3),
                  x=rng.standard_normal((16, 4)), y=rng.integers(0, 3, 16))
    params = [m.nn.Parameter(m.tensor(arrays[k].astype(np.float32)))
              for k in ("w1", "b1", "w2", "b2")]
    x, y = m.tensor(arrays["x"].astype(np.float32)), m.tensor(arrays["y"])

    def loss():
        h = m.nn.functional.linear(x, params[0], params[1]).tanh()
        return m.nn.functional.cross_entropy(m.nn.functional.linear(h, params[2], params[3]), y)

    return params, loss


def assert_params_close(ours, theirs):
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * np.abs(b).max())


def _train(m, make_opt, steps=50, make_sched=None, groups=False):
    params, loss = _problem(m)
    opt = make_opt(m, [{"params": params[:2]}, {"params": params[2:], "lr": 0.05}]
                   if groups else params)
    sched = make_sched(m, opt) if make_sched else None
    lrs = []
    for _ in range(steps):
        opt.zero_grad()
        value = loss()
        value.backward()
        opt.step()
        if sched is not None:
            sched.step()
            lrs.append(sched.get_last_lr()[0])
    return [p.detach().numpy().copy() for p in params], lrs, opt


OPTIMIZERS = {
    "sgd": lambda m, p: m.optim.SGD(p, lr=0.1),
    "sgd_momentum": lambda m, p: m.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1),
    "sgd_momentum_dampening": lambda m, p: m.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1,
                                                        weight_decay=0.01),
    "sgd_nesterov_maximize": lambda m, p: m.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True,
                                                       maximize=True),
    "adam": lambda m, p: m.optim.Adam(p, lr=0.01),
    "adam_amsgrad_wd": lambda m, p: m.optim.Adam(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "adamw": lambda m, p: m.optim.AdamW(p, lr=0.01),
    "adamw_amsgrad": lambda m, p: m.optim.AdamW(p, lr=0.02, betas=(0.8, 0.99), amsgrad=True),
    "adagrad": lambda m, p: m.optim.Adagrad(p, lr=0.1),
    "adagrad_decay": lambda m, p: m.optim.Adagrad(p, lr=0.1, lr_decay=0.01, weight_decay=0.01,
                                                  initial_accumulator_value=0.1),
    "rmsprop": lambda m, p: m.optim.RMSprop(p, lr=0.01),
    "rmsprop_centered_momentum": lambda m, p: m.optim.RMSprop(p, lr=0.01, momentum=0.5,
                                                              centered=True, weight_decay=0.01),
    "adamax": lambda m, p: m.optim.Adamax(p, lr=0.02),
    "adamax_wd_maximize": lambda m, p: m.optim.Adamax(p, lr=0.01, weight_decay=0.05,
                                                      maximize=True),
    "nadam": lambda m, p: m.optim.NAdam(p, lr=0.01),
    "nadam_decoupled": lambda m, p: m.optim.NAdam(p, lr=0.01, weight_decay=0.1,
                                                  decoupled_weight_decay=True),
    "nadam_wd": lambda m, p: m.optim.NAdam(p, lr=0.01, weight_decay=0.1, momentum_decay=0.01),
    "radam": lambda m, p: m.optim.RAdam(p, lr=0.01),
    "radam_decoupled": lambda m, p: m.optim.RAdam(p, lr=0.01, weight_decay=0.1,
                                                  decoupled_weight_decay=True),
    "radam_wd_maximize": lambda m, p: m.optim.RAdam(p, lr=0.01, weight_decay=0.1,
                                                    maximize=True),
    "adadelta": lambda m, p: m.optim.Adadelta(p),
    "adadelta_wd": lambda m, p: m.optim.Adadelta(p, lr=0.5, rho=0.8, weight_decay=0.05),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_matches_torch_over_50_steps(name):
    ours, _, _ = _train(engine, OPTIMIZERS[name])
    theirs, _, _ = _train(torch, OPTIMIZERS[name])
    assert_params_close(ours, theirs)


@pytest.mark.parametrize("name", ["sgd_momentum_dampening", "adam", "rmsprop"])
def test_param_groups_with_their_own_lr(name):
    ours, _, opt = _train(engine, OPTIMIZERS[name], groups=True)
    theirs, _, _ = _train(torch, OPTIMIZERS[name], groups=True)
    assert_params_close(ours, theirs)
    assert [g["lr"] for g in opt.param_groups][1] == 0.05


SCHEDULERS = {
    "step": lambda m, o: m.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.5),
    "multistep": lambda m, o: m.optim.lr_scheduler.MultiStepLR(o, [5, 20, 20, 40], gamma=0.3),
    "exponential": lambda m, o: m.optim.lr_scheduler.ExponentialLR(o, gamma=0.95),
    "cosine": lambda m, o: m.optim.lr_scheduler.CosineAnnealingLR(o, T_max=15, eta_min=0.001),
    "lambda": lambda m, o: m.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + e)),
    "onecycle": lambda m, o: m.optim.lr_scheduler.OneCycleLR(o, max_lr=0.5, total_steps=60),
    "onecycle_linear_3phase": lambda m, o: m.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.3, epochs=6, steps_per_epoch=10, anneal_strategy="linear",
        three_phase=True),
    "constant": lambda m, o: m.optim.lr_scheduler.ConstantLR(o, factor=0.4, total_iters=6),
    "linear": lambda m, o: m.optim.lr_scheduler.LinearLR(o, 0.2, 0.9, total_iters=12),
    "polynomial": lambda m, o: m.optim.lr_scheduler.PolynomialLR(o, total_iters=30, power=2),
    "multiplicative": lambda m, o: m.optim.lr_scheduler.MultiplicativeLR(
        o, lambda e: 0.97 if e % 2 else 1.01),
    "warm_restarts": lambda m, o: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        o, T_0=7, T_mult=2, eta_min=0.001),
    "sequential_warmup_cosine": lambda m, o: m.optim.lr_scheduler.SequentialLR(
        o, [m.optim.lr_scheduler.LinearLR(o, 0.1, total_iters=5),
            m.optim.lr_scheduler.CosineAnnealingLR(o, T_max=20),
            m.optim.lr_scheduler.StepLR(o, 4, 0.5)], milestones=[5, 30]),
    "chained": lambda m, o: m.optim.lr_scheduler.ChainedScheduler(
        [m.optim.lr_scheduler.ConstantLR(o, 0.5, total_iters=8),
         m.optim.lr_scheduler.ExponentialLR(o, gamma=0.96)]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
@pytest.mark.parametrize("opt", ["sgd_momentum_dampening", "adam"])
def test_scheduler_matches_torch_over_50_steps(name, opt):
    ours, lrs_e, opt_e = _train(engine, OPTIMIZERS[opt], make_sched=SCHEDULERS[name])
    theirs, lrs_t, opt_t = _train(torch, OPTIMIZERS[opt], make_sched=SCHEDULERS[name])
    np.testing.assert_allclose(lrs_e, lrs_t, rtol=1e-12)
    assert_params_close(ours, theirs)
    for key in ("momentum", "betas"):
        if key in opt_t.param_groups[0]:
            assert opt_e.param_groups[0][key] == pytest.approx(opt_t.param_groups[0][key])


def test_reduce_lr_on_plateau_matches_torch():
    metrics = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.5, 0.5, 0.51, 0.6, 0.7, 0.8, 0.9] * 3
    lrs = {}
    for m in (engine, torch):
        opt = m.optim.SGD([m.nn.Parameter(m.zeros(2))], lr=1.0)
        sched = m.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=0.5, patience=2, cooldown=1,
                                                        min_lr=0.01, threshold=0.01)
        lrs[m.__name__] = []
        for value in metrics:
            sched.step(value)
            lrs[m.__name__].append(opt.param_groups[0]["lr"])
    assert lrs["engine"] == lrs["torch"]


def test_state_dict_resumes_training_exactly():
    params, loss = _problem(engine)
    opt = engine.optim.Adam(params, lr=0.01, amsgrad=True)
    for _ in range(50):
        opt.zero_grad()
        loss().backward()
        opt.step()
    straight = [p.detach().numpy().copy() for p in params]

    params, loss = _problem(engine)
    opt = engine.optim.Adam(params, lr=0.01, amsgrad=True)
    for _ in range(20):
        opt.zero_grad()
        loss().backward()
        opt.step()
    saved_params = [p.detach().clone() for p in params]
    saved_state = opt.state_dict()
    params2, loss2 = _problem(engine)
    with engine.no_grad():
        for p, q in zip(params2, saved_params):
            p.copy_(q)
    opt2 = engine.optim.Adam(params2, lr=0.5)
    opt2.load_state_dict(saved_state)
    assert opt2.param_groups[0]["lr"] == 0.01
    for _ in range(30):
        opt2.zero_grad()
        loss2().backward()
        opt2.step()
    for a, b in zip(params2, straight):
        assert a.detach().numpy().tolist() == b.tolist()


def test_state_dict_layout_matches_torch():
    for m in (engine, torch):
        params, loss = _problem(m)
        opt = m.optim.SGD(params, lr=0.1, momentum=0.9)
        loss().backward()
        opt.step()
        sd = opt.state_dict()
        assert list(sd) == ["state", "param_groups"]
        assert sorted(sd["state"]) == [0, 1, 2, 3]
        assert list(sd["state"][0]) == ["momentum_buffer"]
        assert sd["param_groups"][0]["params"] == [0, 1, 2, 3]


def test_load_state_dict_mismatch_is_refused_and_changes_nothing():
    params, _ = _problem(engine)
    opt = engine.optim.SGD(params, lr=0.1)
    other = engine.optim.SGD(params[:2], lr=0.3)
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(other.state_dict())
    assert opt.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("make", [
    lambda m, p: m.optim.SGD(p, lr=-1),
    lambda m, p: m.optim.SGD(p, lr=0.1, momentum=-0.5),
    lambda m, p: m.optim.SGD(p, lr=0.1, weight_decay=-1),
    lambda m, p: m.optim.SGD(p, lr=0.1, nesterov=True),
    lambda m, p: m.optim.Adam(p, betas=(1.0, 0.9)),
    lambda m, p: m.optim.Adam(p, betas=(0.9, -0.1)),
    lambda m, p: m.optim.Adam(p, eps=-1),
    lambda m, p: m.optim.AdamW(p, lr=-0.1),
    lambda m, p: m.optim.Adagrad(p, lr_decay=-1),
    lambda m, p: m.optim.RMSprop(p, alpha=-1),
    lambda m, p: m.optim.SGD([], lr=0.1),
])
def test_argument_checks_match_torch(make):
    with pytest.raises(ValueError) as ours:
        make(engine, [engine.nn.Parameter(engine.zeros(2))])
    with pytest.raises(ValueError) as theirs:
        make(torch, [torch.nn.Parameter(torch.zeros(2))])
    assert str(ours.value) == str(theirs.value)


def test_optimizer_rejects_non_leaf_and_duplicates():
    p = engine.nn.Parameter(engine.zeros(2))
    with pytest.raises(ValueError, match="non-leaf"):
        engine.optim.SGD([p * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        engine.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)


@pytest.mark.parametrize("make", [
    lambda m, o: m.optim.lr_scheduler.StepLR(o, 3, 0.5),
    lambda m, o: m.optim.lr_scheduler.MultiStepLR(o, [2, 5, 5], 0.5),
    lambda m, o: m.optim.lr_scheduler.ExponentialLR(o, 0.9),
    lambda m, o: m.optim.lr_scheduler.CosineAnnealingLR(o, 10, 0.01),
    lambda m, o: m.optim.lr_scheduler.LinearLR(o, 0.25, total_iters=4),
    lambda m, o: m.optim.lr_scheduler.ConstantLR(o, 0.5, total_iters=3),
    lambda m, o: m.optim.lr_scheduler.PolynomialLR(o, 8, 0.5),
    lambda m, o: m.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, 3, 2),
])
@needs_torch
def test_stepping_to_an_epoch_uses_the_closed_form_as_torch(make):
    import warnings

    lrs = {}
    for m in (engine, torch):
        opt = m.optim.SGD([m.nn.Parameter(m.zeros(2))], lr=1.0)
        sched = make(m, opt)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # both frameworks deprecate the epoch argument
            lrs[m.__name__] = []
            for epoch in (6, 2, 9, 9, 4.5 if "Warm" in type(sched).__name__ else 4):
                sched.step(epoch)
                lrs[m.__name__].append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs["engine"], lrs["torch"], rtol=1e-12)


@needs_torch
def test_a_sequential_schedule_resumes_from_its_state_dict():
    def make(m, opt):
        return m.optim.lr_scheduler.SequentialLR(
            opt, [m.optim.lr_scheduler.ConstantLR(opt, 0.1, total_iters=2),
                  m.optim.lr_scheduler.ExponentialLR(opt, 0.9)], milestones=[2])

    opt = engine.optim.SGD([engine.nn.Parameter(engine.zeros(2))], lr=1.0)
    first = make(engine, opt)
    for _ in range(4):
        opt.step()
        first.step()
    saved, lr = first.state_dict(), opt.param_groups[0]["lr"]
    opt2 = engine.optim.SGD([engine.nn.Parameter(engine.zeros(2))], lr=1.0)
    second = make(engine, opt2)
    second.load_state_dict(saved)
    opt2.param_groups[0]["lr"] = lr
    first.step()
    second.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(opt.param_groups[0]["lr"])
    assert first.get_last_lr() == second.get_last_lr()


@pytest.mark.parametrize("make, message", [
    (lambda o: engine.optim.lr_scheduler.LinearLR(o, start_factor=0), "greater than 0"),
    (lambda o: engine.optim.lr_scheduler.ConstantLR(o, factor=2), "between 0 and 1"),
    (lambda o: engine.optim.lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0),
     "positive integer T_0"),
    (lambda o: engine.optim.lr_scheduler.SequentialLR(
        o, [engine.optim.lr_scheduler.StepLR(o, 2)], milestones=[3]),
     "one more than the number of milestone points"),
    (lambda o: engine.optim.lr_scheduler.SequentialLR(o, [], milestones=[]),
     "at least one scheduler"),
])
def test_scheduler_refusals(make, message):
    opt = engine.optim.SGD([engine.nn.Parameter(engine.zeros(2))], lr=1.0)
    with pytest.raises(ValueError, match=message):
        make(opt)
