"""Logistic regression with the backward pass and the update written by hand.

The gradient of the mean binary cross-entropy with respect to the logits is
(sigmoid(z) - y) / N, so dw = X^T dz and db = sum(dz): no autograd involved. At the
end autograd computes the same gradients, and the example reports how close they are.
"""
import sys

import engine as torch

DEFAULTS = dict(epochs=200, lr=0.5)
GOAL = ("accuracy", 0.95)


def make_data(n=200):
    """Two classes around (-1, -1) and (1, 1), jittered by sines: no random draws."""
    t = torch.arange(n, dtype=torch.float32)
    label = (t % 2).float()
    centre = label * 2 - 1
    X = torch.stack([centre + 0.6 * torch.sin(t * 1.7), centre + 0.6 * torch.cos(t * 2.3)], 1)
    return X, label


def bce(p, y):
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()


def run(config):
    from engine.cli import progress

    X, y = make_data()
    n = X.shape[0]
    w = torch.zeros(2)
    b = torch.zeros(1)
    losses = []
    epochs = progress(range(config.epochs), desc="logistic_regression",
                      enabled=config.progress)
    for _ in epochs:
        p = torch.sigmoid(X @ w + b)
        losses.append(bce(p, y).item())
        dz = (p - y) / n          # d loss / d logits, by hand
        dw = X.T @ dz             # chain rule through z = X w + b
        db = dz.sum()
        w -= config.lr * dw       # the update, by hand
        b -= config.lr * db
        epochs.note(loss=losses[-1])
    accuracy = ((torch.sigmoid(X @ w + b) > 0.5).float() == y).float().mean().item()

    # The same gradients from autograd, to show the hand-written ones are right.
    wa, ba = w.clone().requires_grad_(), b.clone().requires_grad_()
    loss = bce(torch.sigmoid(X @ wa + ba), y)
    loss.backward()
    p = torch.sigmoid(X @ w + b)
    gap = max((wa.grad - X.T @ ((p - y) / n)).abs().max().item(),
              (ba.grad - ((p - y) / n).sum()).abs().max().item())
    print(f"largest difference between hand-written and autograd gradients: {gap:.2e}")
    return {"loss": losses[-1], "accuracy": accuracy, "losses": losses, "graph": loss,
            "params": {"w": wa, "b": ba}, "gradient_gap": gap,
            "explain": lambda: bce(torch.sigmoid(X @ wa + ba), y)}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
