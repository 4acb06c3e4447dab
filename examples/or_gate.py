"""The OR-gate perceptron: one Linear layer and a sigmoid, BCELoss, SGD, 1000 epochs."""
import sys

import engine as torch
from engine import nn

DEFAULTS = dict(epochs=1000, batch_size=4, lr=0.1)
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


def train(model, epochs=1000, lr=0.1):
    """Returns the loss of every epoch."""
    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for epoch in range(epochs):
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def accuracy(model):
    with torch.no_grad():
        predictions = (model(X) > 0.5).float()
    return (predictions == y).float().mean().item()


def run(config):
    from engine.cli import progress

    model = make_model()
    criterion = nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    losses = []
    epochs = progress(range(config.epochs), desc="or_gate", enabled=config.progress)
    for _ in epochs:
        optimizer.zero_grad()
        loss = criterion(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        epochs.note(loss=losses[-1])
    return {"loss": losses[-1], "accuracy": accuracy(model), "losses": losses, "graph": loss,
            "params": dict(model.named_parameters()),
            "explain": lambda: criterion(model(X), y)}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    main()
