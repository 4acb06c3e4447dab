"""NotMNIST: download the letters A-J (about 8 MB), then train an MLP with Adam.

An MLP like this one reaches about 90% on the held-out tenth of notMNIST_small.
"""
import sys

import engine as torch
from engine import nn
from engine.data import DataLoader
from engine.data.datasets import NotMNIST
from engine.data.transforms import Compose, Normalize, ToTensor

DEFAULTS = dict(epochs=3, batch_size=128, lr=1e-3, data_root=None)
GOAL = ("accuracy", 0.85)


def run(config):
    from engine.cli import progress

    transform = Compose([ToTensor(), Normalize((0.5,), (0.5,))])
    train = NotMNIST(config.data_root, train=True, download=True, transform=transform)
    test = NotMNIST(config.data_root, train=False, transform=transform)
    train_loader = DataLoader(train, batch_size=config.batch_size, shuffle=True)
    test_loader = DataLoader(test, batch_size=256)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Dropout(0.2),
                          nn.Linear(256, 10))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses = []
    for epoch in range(config.epochs):
        batches = progress(train_loader, desc=f"epoch {epoch + 1}/{config.epochs}",
                           enabled=config.progress)
        for X, y in batches:
            optimizer.zero_grad()
            loss = loss_fn(model(X), y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            batches.note(loss=losses[-1])
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for X, y in test_loader:
            correct += (model(X).argmax(1) == y).float().sum().item()
            total += len(y)
    X, y = next(iter(test_loader))
    return {"loss": losses[-1], "accuracy": correct / total, "losses": losses, "graph": loss,
            "params": dict(model.named_parameters()), "explain": lambda: loss_fn(model(X), y)}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
