"""A custom `MyLinear` module (its own Parameters) trained with CrossEntropyLoss."""
import sys

import engine as torch
from engine import nn

DEFAULTS = dict(epochs=200, lr=0.1)
GOAL = ("accuracy", 0.9)


class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units))

    def forward(self, X):
        return torch.matmul(X, self.weight) + self.bias


def make_data(n=90):
    """Three interleaved classes on a ring: made from ranges, so no random draws."""
    t = torch.linspace(0, 6.283185307179586, n)
    X = torch.stack([torch.cos(t), torch.sin(t), torch.cos(3 * t) * 0.5], dim=1)
    y = torch.arange(n) * 3 // n
    return X, y


def make_model():
    return nn.Sequential(MyLinear(3, 16), nn.ReLU(), MyLinear(16, 3))


def train(model, epochs=200, lr=0.1, show=False):
    """Returns the loss of every epoch."""
    from engine.cli import progress

    X, y = make_data()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    losses = []
    steps = progress(range(epochs), desc="my_linear", enabled=show)
    for _ in steps:
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        steps.note(loss=losses[-1])
    return losses


def run(config):
    model = make_model()
    losses = train(model, config.epochs, config.lr, show=config.progress)
    X, y = make_data()
    with torch.no_grad():
        acc = (model(X).argmax(dim=1) == y).float().mean().item()

    def loss():
        return nn.CrossEntropyLoss()(model(X), y)

    return {"loss": losses[-1], "accuracy": acc, "losses": losses, "graph": loss(),
            "params": dict(model.named_parameters()), "explain": loss}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
