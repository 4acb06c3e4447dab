"""L-BFGS with PyTorch's arguments and update, and its optional strong-Wolfe line search.

A quasi-Newton method: the last `history_size` steps s and gradient changes y stand in
for the inverse Hessian, applied by the two-loop recursion (Nocedal & Wright,
Algorithm 7.4), so each direction costs O(history x parameters). All parameters are
treated as one flat vector, and the closure is evaluated as often as the iterations
and the line search need, up to max_eval times per step().
"""
import engine

from .optimizer import Optimizer


class LBFGS(Optimizer):
    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")
        max_eval = max_iter * 5 // 4 if max_eval is None else max_eval
        super().__init__(params, dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                                      tolerance_grad=tolerance_grad,
                                      tolerance_change=tolerance_change,
                                      history_size=history_size,
                                      line_search_fn=line_search_fn))
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]

    # ---- the parameters as one flat vector ------------------------------------------------

    def _flat_grad(self):
        return engine.cat([p.grad.reshape(-1) if p.grad is not None
                           else engine.zeros(p.numel(), dtype=p.dtype, device=p.device)
                           for p in self._params])

    def _add_to_params(self, step, direction):
        """params += step * direction, the flat direction cut back into each shape."""
        start = 0
        for p in self._params:
            n = p.numel()
            p.add_(direction[start:start + n].reshape(p.shape), alpha=step)
            start += n

    def _values(self):
        return [p.detach().clone() for p in self._params]

    def _restore(self, values):
        for p, v in zip(self._params, values):
            p.copy_(v)

    def _evaluate_at(self, closure, start, step, direction):
        """loss and flat gradient at start + step * direction (parameters put back)."""
        self._add_to_params(step, direction)
        with engine.enable_grad():
            loss = float(closure())
        grad = self._flat_grad()
        self._restore(start)
        return loss, grad

    # ---- one step: up to max_iter iterations -------------------------------------------

    @engine.no_grad()
    def step(self, closure):
        """Minimise the closure's loss for up to max_iter iterations; returns the loss the
        first evaluation gave."""
        if closure is None:
            raise RuntimeError("LBFGS needs a closure that re-evaluates the model and "
                               "returns the loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = group["lr"], group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with engine.enable_grad():
            first_loss = closure()
        loss = float(first_loss)
        evals = 1
        state["func_evals"] += 1
        grad = self._flat_grad()
        if grad.abs().max() <= tolerance_grad:
            return first_loss

        direction, step = state.get("d"), state.get("t")
        old_dirs, old_steps = state.get("old_dirs"), state.get("old_stps")
        rho, h_diag = state.get("ro"), state.get("H_diag")
        prev_grad, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                direction, old_dirs, old_steps, rho, h_diag = -grad, [], [], [], 1
            else:
                y, s = grad - prev_grad, direction * step
                ys = y.dot(s)
                if ys > 1e-10:  # keep only pairs that preserve positive curvature
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0), old_steps.pop(0), rho.pop(0)
                    old_dirs.append(y)
                    old_steps.append(s)
                    rho.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                direction = _two_loop(-grad, old_dirs, old_steps, rho, h_diag)
            prev_grad = grad.clone()
            prev_loss = loss
            # The first step is scaled down to at most lr in every coordinate.
            step = min(1.0, 1.0 / float(grad.abs().sum())) * lr if state["n_iter"] == 1 \
                else lr
            slope = float(grad.dot(direction))
            if slope > -tolerance_change:  # no longer a descent direction
                break
            spent = 0
            if group["line_search_fn"] == "strong_wolfe":
                start = self._values()
                loss, grad, step, spent = _strong_wolfe(
                    lambda t: self._evaluate_at(closure, start, t, direction),
                    step, direction, loss, grad, slope, tolerance_change)
                self._add_to_params(step, direction)
                converged = grad.abs().max() <= tolerance_grad
            else:
                self._add_to_params(step, direction)
                converged = False
                if iteration != max_iter:
                    with engine.enable_grad():
                        loss = float(closure())
                    grad = self._flat_grad()
                    converged = grad.abs().max() <= tolerance_grad
                    spent = 1
            evals += spent
            state["func_evals"] += spent
            if iteration == max_iter or evals >= max_eval or converged:
                break
            if (direction * step).abs().max() <= tolerance_change:
                break
            if abs(loss - prev_loss) < tolerance_change:
                break

        state.update(d=direction, t=step, old_dirs=old_dirs, old_stps=old_steps, ro=rho,
                     H_diag=h_diag, prev_flat_grad=prev_grad, prev_loss=prev_loss)
        return first_loss


def _two_loop(q, old_dirs, old_steps, rho, h_diag):
    """H q for the inverse-Hessian estimate H the stored pairs define."""
    alphas = [None] * len(old_dirs)
    for i in range(len(old_dirs) - 1, -1, -1):
        alphas[i] = old_steps[i].dot(q) * rho[i]
        q = q - alphas[i] * old_dirs[i]
    r = q * h_diag
    for i in range(len(old_dirs)):
        beta = old_dirs[i].dot(r) * rho[i]
        r = r + (alphas[i] - beta) * old_steps[i]
    return r


# ---- the strong-Wolfe line search (Nocedal & Wright, Algorithms 3.5 and 3.6) -------------

def _cubic_minimum(x1, f1, g1, x2, f2, g2, bounds=None):
    """The minimiser of the cubic through (x1, f1, slope g1) and (x2, f2, slope g2),
    kept within bounds (default: between x1 and x2); their midpoint if it has none.
    Written from whichever end lies to the right, as PyTorch writes it, so that the
    two agree to the last bit."""
    low, high = bounds if bounds is not None else sorted((x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    square = d1 * d1 - g1 * g2
    if square < 0:
        return (low + high) / 2.0
    d2 = square ** 0.5
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(x, low), high)


def _strong_wolfe(evaluate, t, direction, loss, grad, slope, tolerance_change, c1=1e-4,
                  c2=0.9, max_ls=25):
    """A step t along `direction` with sufficient decrease (c1) and curvature (c2):
    bracket such a step, then zoom into the bracket by cubic interpolation. Returns
    (loss, flat gradient, t, evaluations)."""
    d_norm = float(direction.abs().max())
    new_loss, new_grad = evaluate(t)
    evals, new_slope = 1, float(new_grad.dot(direction))
    t_prev, f_prev, g_prev, gtd_prev = 0.0, loss, grad, slope
    done, tries = False, 0
    while tries < max_ls:
        if new_loss > loss + c1 * t * slope or (tries > 1 and new_loss >= f_prev):
            bracket = [t_prev, t]
            values, grads, slopes = [f_prev, new_loss], [g_prev, new_grad], [gtd_prev, new_slope]
            break
        if abs(new_slope) <= -c2 * slope:
            bracket, values, grads = [t], [new_loss], [new_grad]
            done = True
            break
        if new_slope >= 0:
            bracket = [t_prev, t]
            values, grads, slopes = [f_prev, new_loss], [g_prev, new_grad], [gtd_prev, new_slope]
            break
        # extrapolate: a longer step, between 1.01 t and 10 t
        reach = t + 0.01 * (t - t_prev), t * 10
        t_next = _cubic_minimum(t_prev, f_prev, gtd_prev, t, new_loss, new_slope, reach)
        t_prev, f_prev, g_prev, gtd_prev = t, new_loss, new_grad.clone(), new_slope
        t = t_next
        new_loss, new_grad = evaluate(t)
        evals, new_slope = evals + 1, float(new_grad.dot(direction))
        tries += 1
    if tries == max_ls:
        bracket, values, grads = [0.0, t], [loss, new_loss], [grad, new_grad]
        slopes = [slope, new_slope]

    # zoom: shrink the bracket until a point meets both conditions
    insufficient = False
    low, high = (0, 1) if len(values) == 1 or values[0] <= values[-1] else (1, 0)
    while not done and tries < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break
        t = _cubic_minimum(bracket[0], values[0], slopes[0], bracket[1], values[1], slopes[1])
        # Keep away from the bracket's ends: a point too close to one is moved inward,
        # unless the last try was already there, then the end is accepted.
        top, bottom = max(bracket), min(bracket)
        eps = 0.1 * (top - bottom)
        if min(top - t, t - bottom) < eps:
            if insufficient or t >= top or t <= bottom:
                t = top - eps if abs(t - top) < abs(t - bottom) else bottom + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        new_loss, new_grad = evaluate(t)
        evals, new_slope = evals + 1, float(new_grad.dot(direction))
        tries += 1
        if new_loss > loss + c1 * t * slope or new_loss >= values[low]:
            bracket[high], values[high], grads[high], slopes[high] = \
                t, new_loss, new_grad.clone(), new_slope
            low, high = (0, 1) if values[0] <= values[1] else (1, 0)
        else:
            if abs(new_slope) <= -c2 * slope:
                done = True
            elif new_slope * (bracket[high] - bracket[low]) >= 0:
                bracket[high], values[high], grads[high], slopes[high] = \
                    bracket[low], values[low], grads[low], slopes[low]
            bracket[low], values[low], grads[low], slopes[low] = \
                t, new_loss, new_grad.clone(), new_slope
    return values[low], grads[low], bracket[low], evals
