"""The OR-gate perceptron: one Linear layer and a sigmoid, BCELoss, SGD, 1000 epochs."""
import sys

import engine as torch
from engine import nn

DEFAULTS = dict(epochs=1000, lr=0.1)
GOAL = ("accuracy", 1.0)

X = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
y = torch.tensor([[0.0], [1.0], [1.0], [1.0]])


class Perceptron(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 1)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))


def make_model():
    return Perceptron()


def train(model, epochs=1000, lr=0.1, show=False):
    """Returns the loss of every epoch."""
    from engine.cli import progress

    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    steps = progress(range(epochs), desc="or_gate", enabled=show)
    for _ in steps:
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        steps.note(loss=losses[-1])
    return losses


def accuracy(model):
    with torch.no_grad():
        predictions = (model(X) > 0.5).float()
    return (predictions == y).float().mean().item()


def run(config):
    model = make_model()
    losses = train(model, config.epochs, config.lr, show=config.progress)

    def loss():
        return nn.BCELoss()(model(X), y)

    return {"loss": losses[-1], "accuracy": accuracy(model), "losses": losses, "graph": loss(),
            "params": dict(model.named_parameters()), "explain": loss}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
