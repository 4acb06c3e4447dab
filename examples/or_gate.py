"""The OR-gate perceptron: one Linear layer and a sigmoid, BCELoss, SGD, 1000 epochs."""
import engine as torch
from engine import nn

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


def main(epochs=1000):
    torch.manual_seed(0)
    model = make_model()
    losses = train(model, epochs)
    print(f"final loss {losses[-1]:.4f}, accuracy {accuracy(model):.2f}")
    return {"loss": losses[-1], "accuracy": accuracy(model)}


if __name__ == "__main__":
    main()
