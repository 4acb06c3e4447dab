"""`Optimizer`: parameter groups, per-parameter state and state dicts, as in PyTorch."""
import collections
import contextlib
import copy

import engine
from engine import Tensor, tracing
from engine.autograd.gradients import zero_grads
from engine.ops.update import together as updates_together


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
        tracing.opaque("optimizer.zero_grad()",
                       lambda: zero_grads(self._all_params(), set_to_none), self._touched)

    def step(self, closure=None):
        """One update of every parameter that has a gradient; returns closure() if given.
        In a compiled training step, the whole update is one step its replay repeats."""
        if closure is not None:
            with engine.enable_grad():
                loss = closure()
            self._step()
            return loss
        return tracing.opaque("optimizer.step()", self._step, self._touched)

    def _step(self):
        """Each group's updates run together (multi-tensor kernels, PyTorch's foreach
        implementation) unless its `foreach` is False: then one by one, as PyTorch's
        for-loop implementation. The results are the same."""
        with engine.no_grad():
            for group in self.param_groups:
                with (contextlib.nullcontext() if group.get("foreach") is False
                      else updates_together()):
                    for p in group["params"]:
                        if p._grad is not None:
                            self._update(group, p, self.state[p])

    def _all_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def _touched(self):
        """What a step may change in place: parameters, gradients, state tensors."""
        tensors = self._all_params()
        tensors += [p._grad for p in tensors if p._grad is not None]
        return tensors + [v for state in self.state.values() for v in state.values()
                          if isinstance(v, Tensor)]

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
        """Restore state saved by `state_dict`; checked fully before anything changes, so
        that an edited or mismatched file is refused here rather than at a later step."""
        groups, states = _parts(state_dict)
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
        for i, values in states.items():
            p = by_index.get(i)
            for key, value in values.items():
                if p is not None and isinstance(value, Tensor):
                    _check_loaded(key, value, p, i)
        self.state = collections.defaultdict(dict)
        for i, values in states.items():
            p = by_index.get(i)
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


def _parts(state_dict):
    """The param_groups and the state (keyed by int) of a state dict, its form checked."""
    if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
        raise ValueError("an optimizer state dict is a dict with 'state' and 'param_groups'")
    groups, states = state_dict["param_groups"], state_dict["state"]
    if not isinstance(groups, list) or not all(
            isinstance(g, dict) and isinstance(g.get("params"), list) for g in groups):
        raise ValueError("loaded state dict's 'param_groups' must be a list of dicts, each "
                         "with a list of 'params'")
    if not isinstance(states, dict) or not all(isinstance(v, dict) for v in states.values()):
        raise ValueError("loaded state dict's 'state' must map parameter indices to dicts")
    try:
        return groups, {int(i): values for i, values in states.items()}
    except (TypeError, ValueError):
        raise ValueError(f"loaded state dict's 'state' has a key that is not a parameter "
                         f"index: {sorted(map(repr, states))[:4]}") from None


def _check_loaded(key, value, param, index):
    """A loaded state tensor is a one-element count (step) or a float tensor of its
    parameter's shape, which loading casts to the parameter's dtype."""
    if value.numel() == 1 and value.dim() == 0:
        return
    if value.shape != param.shape:
        raise ValueError(f"loaded state '{key}' for parameter {index} has shape "
                         f"{tuple(value.shape)}, the parameter has {tuple(param.shape)}")
    if not value.is_floating_point():
        raise ValueError(f"loaded state '{key}' for parameter {index} is {value.dtype}, a "
                         f"floating-point state was expected for a {param.dtype} parameter")


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


# ---- per-parameter state, checked before a fused kernel writes through it ---------------

def first_state(state, param, *names):
    """PyTorch's lazy start: on a parameter's first step (empty state), a step count of
    0 and a zero tensor like the parameter for each name."""
    if not state:
        state["step"] = engine.tensor(0.0)
        for name in names:
            state[name] = engine.zeros_like(param)


def state_tensor(state, key, param, *, create=False):
    """state[key] as the update kernels need it: a tensor of the parameter's shape, dtype
    and device. With `create`, a missing entry is made zero: the state of a flag turned
    on after the first step (amsgrad, RMSprop's centered or momentum). Anything else
    missing or edited is an error naming the entry, before any kernel runs."""
    value = state.get(key)
    if value is None and create and key not in state:
        value = state[key] = engine.zeros_like(param)
    if not isinstance(value, Tensor):
        found = "missing" if key not in state else f"{type(value).__name__}, not a tensor"
        raise RuntimeError(f"optimizer state '{key}' of a parameter of shape "
                           f"{tuple(param.shape)} is {found}: the state was edited or "
                           f"loaded from an incomplete state dict")
    if value.shape != param.shape or value.dtype is not param.dtype \
            or value.device != param.device:
        raise RuntimeError(f"optimizer state '{key}' is {value.dtype} of shape "
                           f"{tuple(value.shape)} on {value.device}, but its parameter is "
                           f"{param.dtype} of shape {tuple(param.shape)} on {param.device}")
    return value


def scalar_state(state, key):
    """state[key] as a one-element tensor (PyTorch before 1.12 saved `step` as a
    number, which is converted)."""
    value = state.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = state[key] = engine.tensor(float(value))
    if not isinstance(value, Tensor) or value.numel() != 1:
        found = "missing" if key not in state else repr(value)[:80]
        raise RuntimeError(f"optimizer state '{key}' must be a one-element tensor, but it is "
                           f"{found}")
    return value


def step_count(state):
    """Advance and return the per-parameter step (a float tensor, as PyTorch keeps it)."""
    step = scalar_state(state, "step")
    step.add_(1)
    return step.item()
