"""Adam's relatives (Adamax, NAdam, RAdam) and Adadelta, with PyTorch's defaults, checks
and update rules; each step is one fused kernel per parameter, as for Adam."""
import engine
from engine.ops.update import adadelta_, adamax_, nadam_, radam_

from .optimizer import Optimizer, first_state, require, scalar_state, state_tensor, step_count


def _check_adam_args(lr, betas, eps, weight_decay):
    require(lr >= 0.0, f"Invalid learning rate: {lr}")
    require(eps >= 0.0, f"Invalid epsilon value: {eps}")
    require(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
    require(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
    require(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")


def _moments(state, p, second="exp_avg_sq"):
    """The two running moments, created on the first step and checked on every one."""
    first_state(state, p, "exp_avg", second)
    return state_tensor(state, "exp_avg", p), state_tensor(state, second, p)


class Adamax(Optimizer):
    """Adam with the infinity norm: the step divides by a decaying maximum of |g|."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 foreach=None, *, maximize=False, differentiable=False, capturable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _update(self, group, p, state):
        exp_avg, exp_inf = _moments(state, p, "exp_inf")
        step = step_count(state)
        beta1, beta2 = group["betas"]
        adamax_(p, p.grad, exp_avg, exp_inf, lr=group["lr"], beta1=beta1,
                beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                maximize=group["maximize"], step=step)


class NAdam(Optimizer):
    """Adam with Nesterov momentum, its momentum warmed up by momentum_decay."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 momentum_decay=4e-3, decoupled_weight_decay=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        require(momentum_decay >= 0.0, f"Invalid momentum_decay value: {momentum_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      capturable=capturable, differentiable=differentiable))

    def _update(self, group, p, state):
        fresh = not state
        exp_avg, exp_avg_sq = _moments(state, p)
        if fresh:
            state["mu_product"] = engine.tensor(1.0)
        mu_product = scalar_state(state, "mu_product")
        step = step_count(state)
        beta1, beta2 = group["betas"]
        decay = group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * decay))
        mu_product.mul_(mu)
        nadam_(p, p.grad, exp_avg, exp_avg_sq, lr=group["lr"], beta1=beta1,
               beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
               decoupled=group["decoupled_weight_decay"], maximize=group["maximize"],
               step=step, mu=mu, mu_next=mu_next, mu_product=mu_product.item())


class RAdam(Optimizer):
    """Adam with its adaptive rate rectified: SGD with momentum for the first steps."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False,
                 capturable=False, differentiable=False):
        _check_adam_args(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay,
                                      foreach=foreach, maximize=maximize,
                                      capturable=capturable, differentiable=differentiable))

    def _update(self, group, p, state):
        exp_avg, exp_avg_sq = _moments(state, p)
        step = step_count(state)
        beta1, beta2 = group["betas"]
        radam_(p, p.grad, exp_avg, exp_avg_sq, lr=group["lr"], beta1=beta1,
               beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
               decoupled=group["decoupled_weight_decay"], maximize=group["maximize"],
               step=step)


class Adadelta(Optimizer):
    """Steps sized by the ratio of running RMS of past updates to that of gradients."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *,
                 capturable=False, maximize=False, differentiable=False):
        require(lr >= 0.0, f"Invalid learning rate: {lr}")
        require(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        require(eps >= 0.0, f"Invalid epsilon value: {eps}")
        require(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay,
                                      foreach=foreach, capturable=capturable,
                                      maximize=maximize, differentiable=differentiable))

    def _update(self, group, p, state):
        first_state(state, p, "square_avg", "acc_delta")
        square_avg = state_tensor(state, "square_avg", p)
        acc_delta = state_tensor(state, "acc_delta", p)
        step_count(state)
        adadelta_(p, p.grad, square_avg, acc_delta, lr=group["lr"],
                  rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                  maximize=group["maximize"])
