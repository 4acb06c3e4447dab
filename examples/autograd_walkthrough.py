"""PyTorch's autograd tutorial: z = x @ w + b, BCE on logits, w.grad, no_grad, detach.

The tutorial's code with only the import changed; `run` gives the CLI its result.
"""
import sys

import engine as torch

DEFAULTS = {}
GOAL = ("loss", 10.0)  # a finite loss with gradients for w and b


def walkthrough():
    x = torch.ones(5)  # input tensor
    y = torch.zeros(3)  # expected output
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)

    print(f"Gradient function for z = {z.grad_fn}")
    print(f"Gradient function for loss = {loss.grad_fn}")

    loss.backward()
    print(w.grad)
    print(b.grad)

    z = torch.matmul(x, w) + b
    print(z.requires_grad)
    with torch.no_grad():
        z = torch.matmul(x, w) + b
    print(z.requires_grad)

    z = torch.matmul(x, w) + b
    z_det = z.detach()
    print(z_det.requires_grad)
    return loss, w, b, x, y


def run(config):
    loss, w, b, x, y = walkthrough()

    def fresh_loss():
        return torch.nn.functional.binary_cross_entropy_with_logits(torch.matmul(x, w) + b, y)

    return {"loss": loss.item(), "accuracy": None, "losses": [loss.item()], "graph": loss,
            "params": {"w": w, "b": b}, "explain": fresh_loss}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
