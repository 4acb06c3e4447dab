"""The bench's bare-autograd floor does the tiny graph's real work: its gradients are
numbagrad's, so its time is a fair lower bound and not a shortcut."""
import numpy as np

import engine
from bench import bare_autograd


def test_bare_autograd_gradients_match_numbagrad():
    a = engine.tensor(np.linspace(0.1, 1.0, 16).astype(np.float32), requires_grad=True)
    b = engine.tensor(np.linspace(1.0, 2.0, 16).astype(np.float32), requires_grad=True)
    c = a * b
    for _ in range(9):
        c = (c + a).tanh() * b
    c.sum().backward()
    step = bare_autograd.tiny_graph()
    for _ in range(2):  # the second step starts from cleared gradients
        grad_a, grad_b = step()
        np.testing.assert_allclose(grad_a, a.grad.numpy(), rtol=1e-5)
        np.testing.assert_allclose(grad_b, b.grad.numpy(), rtol=1e-5)
