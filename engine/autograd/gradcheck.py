"""Numerical gradient checks in float64: analytic vector-Jacobian products against
central differences, and the same one order up (`gradgradcheck`)."""
import numpy as np


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _flat_outputs(fn, inputs):
    return [o for o in _as_tuple(fn(*inputs))]


def numerical_jacobian(fn, inputs, eps):
    """d(outputs)/d(input) by central differences: an (input size, output size) array each."""
    # fn runs with grad mode on: gradgradcheck's fn calls autograd.grad itself.
    n_out = sum(o.numel() for o in _flat_outputs(fn, inputs))
    columns = []
    for x in inputs:
        if not getattr(x, "requires_grad", False):
            columns.append(None)
            continue
        flat = x._data.reshape(-1)
        jac = np.zeros((flat.size, n_out))
        for k in range(flat.size):
            saved = flat[k]
            flat[k] = saved + eps
            plus = _concat(_flat_outputs(fn, inputs))
            flat[k] = saved - eps
            minus = _concat(_flat_outputs(fn, inputs))
            flat[k] = saved
            jac[k] = (plus - minus) / (2 * eps)
        columns.append(jac)
    return columns


def _concat(outputs):
    return np.concatenate([o._data.astype(np.float64).ravel() for o in outputs])


def analytical_jacobian(fn, inputs):
    """The same Jacobians from autograd, one vector-Jacobian product per output element."""
    from .gradients import grad
    from ..creation import zeros_like

    outputs = _flat_outputs(fn, inputs)
    diff = [x for x in inputs if getattr(x, "requires_grad", False)]
    n_out = sum(o.numel() for o in outputs)
    jacobians = [np.zeros((x.numel(), n_out)) for x in diff]
    used = [o for o in outputs if o.requires_grad]
    row = 0
    for out in outputs:
        position = next((j for j, o in enumerate(used) if o is out), None)
        for k in range(out.numel()):
            if position is not None:
                seeds = [zeros_like(o) for o in used]
                seeds[position]._data.reshape(-1)[k] = 1
                grads = grad(used, diff, seeds, retain_graph=True, allow_unused=True)
                for jac, g in zip(jacobians, grads):
                    if g is not None:
                        jac[:, row] = g._data.astype(np.float64).ravel()
            row += 1
    return jacobians


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              **unused):
    """True when autograd's gradients of `func` match central differences at `inputs`.

    Use float64 inputs: float32 differences are too coarse for the tolerances.
    """
    inputs = _as_tuple(inputs)
    numeric = [c for c in numerical_jacobian(func, inputs, eps) if c is not None]
    analytic = analytical_jacobian(func, inputs)
    for j, (n, a) in enumerate(zip(numeric, analytic)):
        if not np.allclose(a, n, atol=atol, rtol=rtol):
            if raise_exception:
                worst = np.unravel_index(np.argmax(np.abs(a - n)), a.shape)
                raise GradcheckError(
                    f"Jacobian mismatch for output 0 with respect to input {j},\n"
                    f"numerical:{n}\nanalytical:{a}\nlargest difference at {worst}: "
                    f"{a[worst]} vs {n[worst]}")
            return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True, **unused):
    """gradcheck of the gradient itself: checks create_graph=True second derivatives."""
    from .gradients import grad
    from ..creation import randn

    inputs = _as_tuple(inputs)
    outputs = _flat_outputs(func, inputs)
    if grad_outputs is None:
        grad_outputs = [randn(o.shape, dtype=o.dtype) for o in outputs]
    diff = [x for x in inputs if getattr(x, "requires_grad", False)]

    def first_derivative(*args):
        outs = _flat_outputs(func, args)
        chosen = [a for a in args if getattr(a, "requires_grad", False)][:len(diff)]
        return grad(outs, chosen, grad_outputs, create_graph=True, allow_unused=True,
                    materialize_grads=True)

    return gradcheck(first_derivative, inputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)


class GradcheckError(RuntimeError):
    """Raised by gradcheck when the analytic and numerical Jacobians disagree."""
