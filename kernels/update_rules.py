"""The optimizer update rules, written once for all backends.

Each rule updates element i of a parameter and its state in place from the gradient;
a backend runs it over every element (`kernels.cpu.optim` in a loop that LLVM
vectorises, `kernels.cuda.optim` as a device function in a grid-stride loop), so the
CPU and the GPU cannot disagree about an update. States and scalars arrive as tuples,
so that one loop shape serves every rule; once the rule is inlined, LLVM unpacks
them outside the loop.

The `*_step` functions are the backend interface: they pick a rule, compute once the
factors that do not change per element (bias corrections, Adagrad's decayed rate),
cast the scalars to the parameter's dtype (a float32 model is updated in float32
arithmetic, as PyTorch does) and call the backend's `run(rule, param, grad, states,
scalars)`. `update_many` runs a list of such steps together, as PyTorch's foreach
updates do: the parameters that share a rule and its scalars go to the backend's
`run_many` in chunks of CHUNK, one loop (or one GPU launch) per chunk.
"""
import functools
import math


def sgd(i, p, g, states, scalars):
    (buf,) = states
    lr, momentum, dampening, weight_decay, nesterov, maximize, first_step = scalars
    d = -g[i] if maximize else g[i]
    if weight_decay != 0.0:
        d = d + weight_decay * p[i]
    if momentum != 0.0:
        b = d if first_step else momentum * buf[i] + (1.0 - dampening) * d
        buf[i] = b
        d = d + momentum * b if nesterov else b
    p[i] = p[i] - lr * d


def sgd_lean(i, p, g, states, scalars):
    """SGD without momentum, weight decay or maximize: no branches, so the CPU loop
    vectorises (the general rule's per-element branches kept it scalar, 3x slower)."""
    (lr,) = scalars
    p[i] = p[i] - lr * g[i]


def sgd_momentum_lean(i, p, g, states, scalars):
    """Heavy-ball SGD after its first step, without nesterov, weight decay or maximize:
    no branches, so the CPU loop vectorises (5x faster than the general rule)."""
    (buf,) = states
    lr, momentum, take = scalars
    b = momentum * buf[i] + take * g[i]
    buf[i] = b
    p[i] = p[i] - lr * b


def adam(i, p, g, states, scalars):
    m, v, vmax = states
    (lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, maximize, step_size,
     root_bias2) = scalars
    d = -g[i] if maximize else g[i]
    if weight_decay != 0.0:
        if decoupled:  # AdamW: shrink the weight itself
            p[i] = p[i] * (1.0 - lr * weight_decay)
        else:
            d = d + weight_decay * p[i]
    m[i] = m[i] + (1.0 - beta1) * (d - m[i])
    v[i] = v[i] * beta2 + (1.0 - beta2) * d * d
    if amsgrad:
        vmax[i] = v[i] if v[i] > vmax[i] else vmax[i]
        denom = math.sqrt(vmax[i]) / root_bias2 + eps
    else:
        denom = math.sqrt(v[i]) / root_bias2 + eps
    p[i] = p[i] - step_size * m[i] / denom


def adam_lean(i, p, g, states, scalars):
    """Adam / AdamW without amsgrad, maximize or coupled decay: no branches, so the CPU
    loop vectorises. shrink is 1 - lr * weight_decay for AdamW (1 for Adam)."""
    m, v = states
    shrink, keep1, take1, keep2, take2, eps, step_size, root_bias2 = scalars
    d = g[i]
    mi = keep1 * m[i] + take1 * d
    vi = keep2 * v[i] + take2 * d * d
    m[i] = mi
    v[i] = vi
    p[i] = shrink * p[i] - step_size * mi / (math.sqrt(vi) / root_bias2 + eps)


def adagrad(i, p, g, states, scalars):
    (total,) = states
    clr, weight_decay, eps, maximize = scalars
    d = -g[i] if maximize else g[i]
    if weight_decay != 0.0:
        d = d + weight_decay * p[i]
    total[i] = total[i] + d * d
    p[i] = p[i] - clr * d / (math.sqrt(total[i]) + eps)


def rmsprop(i, p, g, states, scalars):
    square_avg, grad_avg, buf = states
    lr, alpha, eps, weight_decay, momentum, centered, maximize = scalars
    d = -g[i] if maximize else g[i]
    if weight_decay != 0.0:
        d = d + weight_decay * p[i]
    square_avg[i] = square_avg[i] * alpha + (1.0 - alpha) * d * d
    if centered:
        grad_avg[i] = grad_avg[i] + (1.0 - alpha) * (d - grad_avg[i])
        avg = math.sqrt(square_avg[i] - grad_avg[i] * grad_avg[i]) + eps
    else:
        avg = math.sqrt(square_avg[i]) + eps
    if momentum > 0.0:
        buf[i] = buf[i] * momentum + d / avg
        p[i] = p[i] - lr * buf[i]
    else:
        p[i] = p[i] - lr * d / avg


def adamax(i, p, g, states, scalars):
    m, inf = states
    clr, beta1, beta2, eps, weight_decay, maximize = scalars
    d = -g[i] if maximize else g[i]
    if weight_decay != 0.0:
        d = d + weight_decay * p[i]
    m[i] = m[i] + (1.0 - beta1) * (d - m[i])
    scaled, size = inf[i] * beta2, abs(d) + eps
    inf[i] = scaled if scaled > size else size
    p[i] = p[i] - clr * m[i] / inf[i]


def nadam(i, p, g, states, scalars):
    """Adam with Nesterov momentum: this step's gradient and the momentum each get their
    own factor (now_factor, ahead_factor), from the running product of the mus."""
    m, v = states
    (shrink, beta1, beta2, eps, weight_decay, maximize, bias2, now_factor,
     ahead_factor) = scalars
    d = -g[i] if maximize else g[i]
    if weight_decay != 0.0:
        d = d + weight_decay * p[i]
    p[i] = p[i] * shrink
    m[i] = m[i] + (1.0 - beta1) * (d - m[i])
    v[i] = v[i] * beta2 + (1.0 - beta2) * d * d
    denom = math.sqrt(v[i] / bias2) + eps
    p[i] = p[i] + now_factor * d / denom + ahead_factor * m[i] / denom


def radam(i, p, g, states, scalars):
    """Adam whose adaptive step is rectified: plain momentum SGD until the variance of
    the adaptive rate is tractable (rectified is False), then Adam scaled by `rect`."""
    m, v = states
    (shrink, beta1, beta2, eps, weight_decay, maximize, lr, bias1, root_bias2, rectified,
     rect) = scalars
    d = -g[i] if maximize else g[i]
    if weight_decay != 0.0:
        d = d + weight_decay * p[i]
    p[i] = p[i] * shrink
    m[i] = m[i] + (1.0 - beta1) * (d - m[i])
    v[i] = v[i] * beta2 + (1.0 - beta2) * d * d
    step = m[i] / bias1 * lr
    if rectified:
        step = step * (root_bias2 / (math.sqrt(v[i]) + eps)) * rect
    p[i] = p[i] - step


def adadelta(i, p, g, states, scalars):
    square_avg, acc_delta = states
    lr, rho, eps, weight_decay, maximize = scalars
    d = -g[i] if maximize else g[i]
    if weight_decay != 0.0:
        d = d + weight_decay * p[i]
    square_avg[i] = square_avg[i] * rho + (1.0 - rho) * d * d
    delta = math.sqrt(acc_delta[i] + eps) / math.sqrt(square_avg[i] + eps) * d
    acc_delta[i] = acc_delta[i] * rho + (1.0 - rho) * delta * delta
    p[i] = p[i] - lr * delta


RULES = (sgd, sgd_lean, sgd_momentum_lean, adam, adam_lean, adagrad, rmsprop, adamax, nadam,
         radam, adadelta)


# ---- the backend interface, over a backend's run(rule, param, grad, states, scalars) ----

def _apply(run, rule, param, grad, states, *scalars):
    """Check, then run. The loops index every array they are given by the parameter's
    index, unchecked, so each array must have the parameter's shape and dtype: a
    smaller one (an empty placeholder, a state edited in a file) would be read and
    written out of bounds. A state that this call's flags leave unread is `_UNREAD`
    (see `_used`); the backend is given None for it, and passes the parameter there."""
    for name, array in (("gradient", grad), *zip(_STATE_NAMES, states)):
        if array is _UNREAD:
            continue
        if array is None:
            raise ValueError(f"{rule.__name__} update: the {name} is missing")
        if array.shape != param.shape or array.dtype != param.dtype:
            raise ValueError(f"{rule.__name__} update: the {name} has shape {array.shape} "
                             f"and dtype {array.dtype}, the parameter {param.shape} and "
                             f"{param.dtype}")
    kind = param.dtype.type
    run(rule, param, grad, tuple(None if s is _UNREAD else s for s in states),
        tuple(bool(x) if isinstance(x, bool) else kind(x) for x in scalars))


_STATE_NAMES = ("first state", "second state", "third state")
_UNREAD = object()


def _used(state, flag, name):
    """`state` when the rule's `flag` makes it read the state, else _UNREAD. This ties
    the flag a rule branches on to the array it then touches, so that no flag can send
    a loop into an array it was not given."""
    if not flag:
        return _UNREAD
    if state is None:
        raise ValueError(f"the update reads {name} but none was given")
    return state


def sgd_step(run, param, grad, momentum_buffer, lr, momentum, dampening, weight_decay,
             nesterov, maximize, first_step):
    if weight_decay == 0.0 and not maximize:
        if momentum == 0.0:
            _apply(run, sgd_lean, param, grad, (), lr)
            return
        if not nesterov and not first_step:
            _apply(run, sgd_momentum_lean, param, grad, (momentum_buffer,), lr, momentum,
                   1.0 - dampening)
            return
    buffer = _used(momentum_buffer, momentum != 0.0, "a momentum buffer")
    _apply(run, sgd, param, grad, (buffer,), lr, momentum, dampening, weight_decay,
           bool(nesterov), bool(maximize), bool(first_step))


def adam_step(run, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
              weight_decay, decoupled, amsgrad, maximize, step):
    step_size = lr / (1.0 - beta1 ** step)
    root_bias2 = math.sqrt(1.0 - beta2 ** step)
    if not amsgrad and not maximize and (decoupled or weight_decay == 0.0):
        _apply(run, adam_lean, param, grad, (exp_avg, exp_avg_sq), 1.0 - lr * weight_decay,
               beta1, 1.0 - beta1, beta2, 1.0 - beta2, eps, step_size, root_bias2)
        return
    vmax = _used(max_exp_avg_sq, amsgrad, "max_exp_avg_sq (amsgrad)")
    _apply(run, adam, param, grad, (exp_avg, exp_avg_sq, vmax), lr, beta1, beta2, eps,
           weight_decay, bool(decoupled), bool(amsgrad), bool(maximize), step_size, root_bias2)


def adagrad_step(run, param, grad, state_sum, lr, lr_decay, weight_decay, eps, maximize,
                 step):
    clr = lr / (1.0 + (step - 1.0) * lr_decay)
    _apply(run, adagrad, param, grad, (state_sum,), clr, weight_decay, eps, bool(maximize))


def rmsprop_step(run, param, grad, square_avg, grad_avg, momentum_buffer, lr, alpha, eps,
                 weight_decay, momentum, centered, maximize):
    states = (square_avg, _used(grad_avg, centered, "grad_avg (centered)"),
              _used(momentum_buffer, momentum > 0.0, "a momentum buffer"))
    _apply(run, rmsprop, param, grad, states, lr, alpha, eps, weight_decay, momentum,
           bool(centered), bool(maximize))


def adamax_step(run, param, grad, exp_avg, exp_inf, lr, beta1, beta2, eps, weight_decay,
                maximize, step):
    _apply(run, adamax, param, grad, (exp_avg, exp_inf), lr / (1.0 - beta1 ** step), beta1,
           beta2, eps, weight_decay, bool(maximize))


def nadam_step(run, param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
               decoupled, maximize, step, mu, mu_next, mu_product):
    """mu_product is the product of the mus up to and including this step's."""
    shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    _apply(run, nadam, param, grad, (exp_avg, exp_avg_sq), shrink, beta1, beta2, eps,
           0.0 if decoupled else weight_decay, bool(maximize), 1.0 - beta2 ** step,
           -lr * (1.0 - mu) / (1.0 - mu_product),
           -lr * mu_next / (1.0 - mu_product * mu_next))


def radam_step(run, param, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weight_decay,
               decoupled, maximize, step):
    shrink = 1.0 - lr * weight_decay if decoupled else 1.0
    bias2 = 1.0 - beta2 ** step
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * step * beta2 ** step / bias2
    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                     / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) if rho_t > 5.0 else 0.0
    _apply(run, radam, param, grad, (exp_avg, exp_avg_sq), shrink, beta1, beta2, eps,
           0.0 if decoupled else weight_decay, bool(maximize), lr, 1.0 - beta1 ** step,
           math.sqrt(bias2), bool(rho_t > 5.0), rect)


def adadelta_step(run, param, grad, square_avg, acc_delta, lr, rho, eps, weight_decay,
                  maximize):
    _apply(run, adadelta, param, grad, (square_avg, acc_delta), lr, rho, eps, weight_decay,
           bool(maximize))


STEPS = (sgd_step, adam_step, adagrad_step, rmsprop_step, adamax_step, nadam_step,
         radam_step, adadelta_step)


def steps(run):
    """The interface functions (STEPS, in order), bound to one backend's run."""
    return tuple(functools.partial(step, run) for step in STEPS)


CHUNK = 8  # parameters per run_many call: one compiled loop or kernel serves any count


def many(run, run_many):
    """The backend's `update_many(calls)`, each call a (step name, arguments) pair.

    Every step computes its scalars and checks its arrays first, so a bad call changes
    nothing; then the parameters that share a rule, its scalars and a dtype are updated
    together by `run_many(rule, items, scalars)`, at most CHUNK at a time, each item a
    (param, grad, states) triple checked as `_apply` checks it. A non-contiguous
    parameter is updated on its own, by `run`, through a copy."""
    by_name = {step.__name__: step for step in STEPS}

    def update_many(calls):
        alone, groups = [], {}

        def collect(rule, param, grad, states, scalars):
            if param.flags.c_contiguous:
                groups.setdefault((rule, scalars, param.dtype), []).append(
                    (param, grad, states))
            else:
                alone.append((rule, param, grad, states, scalars))

        for name, args in calls:
            by_name[name](collect, *args)
        for call in alone:
            run(*call)
        for (rule, scalars, _), items in groups.items():
            for start in range(0, len(items), CHUNK):
                run_many(rule, items[start:start + CHUNK], scalars)

    return update_many
