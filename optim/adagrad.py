"""Adagrad and RMSprop (momentum, centered)."""
import engine
from engine.ops.update import adagrad_, rmsprop_

from .optimizer import Optimizer, first_state, require, state_tensor, step_count


class Adagrad(Optimizer):
    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0,
                 initial_accumulator_value=0, eps=1e-10, foreach=None, *, maximize=False,
                 differentiable=False, fused=None):
        require(lr >= 0.0, f"Invalid learning rate: {lr}")
        require(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        require(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        require(initial_accumulator_value >= 0.0,
                f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        require(eps >= 0.0, f"Invalid epsilon value: {eps}")
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps,
                                      weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, fused=fused))
        for group in self.param_groups:  # PyTorch creates Adagrad's state up front
            for p in group["params"]:
                self.state[p]["step"] = engine.tensor(0.0)
                self.state[p]["sum"] = engine.full_like(p, initial_accumulator_value)

    def _update(self, group, p, state):
        total = state_tensor(state, "sum", p)
        step = step_count(state)
        adagrad_(p, p.grad, total, lr=group["lr"], lr_decay=group["lr_decay"],
                 weight_decay=group["weight_decay"], eps=group["eps"],
                 maximize=group["maximize"], step=step)


class RMSprop(Optimizer):
    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, capturable=False, foreach=None, maximize=False,
                 differentiable=False):
        require(lr >= 0.0, f"Invalid learning rate: {lr}")
        require(eps >= 0.0, f"Invalid epsilon value: {eps}")
        require(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        require(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        require(alpha >= 0.0, f"Invalid alpha value: {alpha}")
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps,
                                      centered=centered, weight_decay=weight_decay,
                                      capturable=capturable, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable))

    def _update(self, group, p, state):
        first_state(state, p, "square_avg")
        square_avg = state_tensor(state, "square_avg", p)
        grad_avg = state_tensor(state, "grad_avg", p, create=True) if group["centered"] else None
        buf = state_tensor(state, "momentum_buffer", p, create=True) \
            if group["momentum"] > 0 else None
        step_count(state)
        rmsprop_(p, p.grad, square_avg, grad_avg, buf, lr=group["lr"], alpha=group["alpha"],
                 eps=group["eps"], weight_decay=group["weight_decay"],
                 momentum=group["momentum"], centered=group["centered"],
                 maximize=group["maximize"])
