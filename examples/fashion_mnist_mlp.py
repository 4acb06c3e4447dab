"""PyTorch's quickstart: FashionMNIST, Flatten + Linear/ReLU MLP, CrossEntropyLoss, SGD.

Downloads FashionMNIST into --data-root on first use (about 30 MB). The tutorial's
settings (batch 64, lr 1e-3, 5 epochs) reach about 65% test accuracy.
"""
import sys

import engine as torch
from engine import nn
from engine.data import DataLoader
from engine.data.datasets import FashionMNIST
from engine.data.transforms import ToTensor

DEFAULTS = dict(epochs=5, batch_size=64, lr=1e-3, device="cpu", data_root=None)
GOAL = ("accuracy", 0.6)


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
            nn.Linear(512, 10))

    def forward(self, x):
        return self.linear_relu_stack(self.flatten(x))


def test_accuracy(model, loader, loss_fn):
    model.eval()
    correct, total, loss = 0, 0, 0.0
    with torch.no_grad():
        for X, y in loader:
            pred = model(X)
            loss += loss_fn(pred, y).item() * len(y)
            correct += (pred.argmax(1) == y).float().sum().item()
            total += len(y)
    model.train()
    return correct / total, loss / total


def run(config):
    from engine.cli import progress

    training_data = FashionMNIST(config.data_root, train=True, download=True,
                                 transform=ToTensor())
    test_data = FashionMNIST(config.data_root, train=False, download=True,
                             transform=ToTensor())
    train_loader = DataLoader(training_data, batch_size=config.batch_size, shuffle=True)
    test_loader = DataLoader(test_data, batch_size=config.batch_size)
    model = NeuralNetwork().to(config.device)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr)
    losses = []
    for epoch in range(config.epochs):
        batches = progress(train_loader, desc=f"epoch {epoch + 1}/{config.epochs}",
                           enabled=config.progress)
        for X, y in batches:
            loss = loss_fn(model(X), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            losses.append(loss.item())
            batches.note(loss=losses[-1])
    accuracy, test_loss = test_accuracy(model, test_loader, loss_fn)
    X, y = next(iter(test_loader))
    return {"loss": test_loss, "accuracy": accuracy, "losses": losses, "graph": loss,
            "params": dict(model.named_parameters()), "explain": lambda: loss_fn(model(X), y)}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
