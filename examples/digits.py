"""Real data, offline: scikit-learn's bundled 8x8 handwritten digits, an MLP and Adam.

Needs scikit-learn (`pip install -e ".[examples]"` in a checkout); the data ships inside it, so
nothing is downloaded. The first 1500 images train, the other 297 (written by other
people) test; this MLP reaches about 92% on them, as PyTorch's does from the same start.

`numbagrad run digits --nproc 2` trains it data-parallel on two MPI ranks: each takes
its half of every batch, DistributedDataParallel averages the gradients, and the
weights come out as one process training on whole batches would make them.
`--save FILE` writes the trained weights, from rank 0 only.
"""
import sys

import engine as torch
from engine import nn

DEFAULTS = dict(epochs=30, batch_size=100, lr=0.01, nproc=1, save=None)
GOAL = ("accuracy", 0.9)  # the test images are by other writers; PyTorch gets the same


def make_data():
    from sklearn.datasets import load_digits

    digits = load_digits()
    X = torch.tensor(digits.data / 16.0, dtype=torch.float32)
    y = torch.tensor(digits.target, dtype=torch.int64)
    return (X[:1500], y[:1500]), (X[1500:], y[1500:])


def make_model():
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def my_share(start, stop):
    """This rank's part of the rows start:stop: all of them in one process, an equal
    slice of them on each of several ranks."""
    if not torch.distributed.is_initialized():
        return slice(start, stop)
    rank, size = torch.distributed.get_rank(), torch.distributed.get_world_size()
    if (stop - start) % size:
        raise ValueError(f"digits: a batch of {stop - start} does not split evenly over "
                         f"{size} ranks; choose a --batch-size that does")
    share = (stop - start) // size
    return slice(start + rank * share, start + (rank + 1) * share)


def train(model, epochs, lr, batch_size=100, show=False):
    from engine.cli import progress

    (X, y), (Xt, yt) = make_data()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    steps = progress(range(epochs), desc="digits", enabled=show)
    for _ in steps:
        for start in range(0, len(X), batch_size):
            rows = my_share(start, min(start + batch_size, len(X)))
            optimizer.zero_grad()
            loss = loss_fn(model(X[rows]), y[rows])
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        steps.note(loss=losses[-1])
    with torch.no_grad():
        accuracy = (model(Xt).argmax(1) == yt).float().mean().item()
    return losses, accuracy, loss


def run(config):
    model = make_model()
    if torch.distributed.is_initialized():
        model = nn.parallel.DistributedDataParallel(model)
    losses, accuracy, loss = train(model, config.epochs, config.lr, config.batch_size,
                                   config.progress)
    if config.save and (not torch.distributed.is_initialized()
                        or torch.distributed.get_rank() == 0):
        torch.save(getattr(model, "module", model).state_dict(), config.save)
    (X, y), _ = make_data()
    return {"loss": losses[-1], "accuracy": accuracy, "losses": losses, "graph": loss,
            "params": dict(model.named_parameters()),
            "explain": lambda: nn.CrossEntropyLoss()(model(X[:32]), y[:32])}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
