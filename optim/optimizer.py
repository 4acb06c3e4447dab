"""`Optimizer`: parameter groups, per-parameter state and state dicts, as in PyTorch."""
import collections
import copy

import engine
from engine import Tensor


class Optimizer:
    """Base class: subclasses set defaults and implement `_update(group, param, state)`."""

    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = collections.defaultdict(dict)
        self.param_groups = []
        if isinstance(params, Tensor):
            raise TypeError(f"params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group):
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.detach_()
                        p.grad.zero_()

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure() if given."""
        loss = None
        if closure is not None:
            with engine.enable_grad():
                loss = closure()
        with engine.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        self._update(group, p, self.state[p])
        return loss

    def _update(self, group, param, state):
        raise NotImplementedError

    # ---- state dicts -------------------------------------------------------------------

    def state_dict(self):
        """{'state': {index: state}, 'param_groups': [...]}: parameters become indices."""
        index, groups = {}, []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore state saved by `state_dict`; checked fully before anything changes."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(groups)}) than the optimizer ({len(self.param_groups)})")
        for saved, current in zip(groups, self.param_groups):
            if len(saved["params"]) != len(current["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group ({len(saved['params'])} "
                                 f"vs {len(current['params'])} parameters)")
        by_index = {i: p for saved, current in zip(groups, self.param_groups)
                    for i, p in zip(saved["params"], current["params"])}
        for i, values in state_dict["state"].items():
            p = by_index.get(int(i))
            for key, value in values.items():
                if p is not None and isinstance(value, Tensor) and value.dim() \
                        and value.shape != p.shape:
                    raise ValueError(f"loaded state '{key}' for parameter {i} has shape "
                                     f"{tuple(value.shape)}, the parameter has "
                                     f"{tuple(p.shape)}")
        self.state = collections.defaultdict(dict)
        for i, values in state_dict["state"].items():
            p = by_index.get(int(i))
            if p is not None:
                self.state[p] = {k: _cast_state(v, p) for k, v in values.items()}
        for saved, current in zip(groups, self.param_groups):
            current.update({k: copy.deepcopy(v) for k, v in saved.items() if k != "params"})

    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _cast_state(value, param):
    if isinstance(value, Tensor):
        out = value.detach().clone()
        if value.is_floating_point() and value.dim():
            out = out.to(param.dtype)
        return out.to(param.device)
    return copy.deepcopy(value)


def require(condition, message):
    if not condition:
        raise ValueError(message)


def step_count(state):
    """Advance and return the per-parameter step (a float tensor, as PyTorch keeps it)."""
    step = state.get("step")
    if step is None:
        step = state["step"] = engine.tensor(0.0)
    step.add_(1)
    return step.item()
