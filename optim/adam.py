"""Adam (with amsgrad) and AdamW (decoupled weight decay), PyTorch's update rules."""
from engine.ops.update import adam_

from .optimizer import Optimizer, first_state, require, state_tensor, step_count


class Adam(Optimizer):
    decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False, fused=None):
        require(lr >= 0.0, f"Invalid learning rate: {lr}")
        require(eps >= 0.0, f"Invalid epsilon value: {eps}")
        require(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        require(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        require(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                                      capturable=capturable, differentiable=differentiable,
                                      fused=fused))

    def _update(self, group, p, state):
        amsgrad = group["amsgrad"]
        first_state(state, p, "exp_avg", "exp_avg_sq")
        exp_avg = state_tensor(state, "exp_avg", p)
        exp_avg_sq = state_tensor(state, "exp_avg_sq", p)
        vmax = state_tensor(state, "max_exp_avg_sq", p, create=True) if amsgrad else None
        step = step_count(state)
        beta1, beta2 = group["betas"]
        adam_(p, p.grad, exp_avg, exp_avg_sq, vmax, lr=group["lr"], beta1=beta1, beta2=beta2,
              eps=group["eps"], weight_decay=group["weight_decay"], decoupled=self.decoupled,
              amsgrad=amsgrad, maximize=group["maximize"], step=step)


class AdamW(Adam):
    decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, foreach=None, capturable=False,
                 differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable,
                         differentiable=differentiable, fused=fused)
