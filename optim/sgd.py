"""SGD with momentum, dampening, Nesterov momentum, weight decay and maximize."""
from engine.ops.update import sgd_

from .optimizer import Optimizer, require, state_tensor


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                 nesterov=False, *, maximize=False, foreach=None, differentiable=False,
                 fused=None):
        require(lr >= 0.0, f"Invalid learning rate: {lr}")
        require(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        require(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        require(not nesterov or (momentum > 0 and dampening == 0),
                "Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _update(self, group, p, state):
        first = state.get("momentum_buffer") is None  # PyTorch's test: None starts afresh
        if group["momentum"] != 0 and first:
            state["momentum_buffer"] = p.grad.detach().clone()
        buf = None if first and group["momentum"] == 0 else \
            state_tensor(state, "momentum_buffer", p)
        sgd_(p, p.grad, buf, lr=group["lr"], momentum=group["momentum"],
             dampening=group["dampening"], weight_decay=group["weight_decay"],
             nesterov=group["nesterov"], maximize=group["maximize"], first_step=first)
