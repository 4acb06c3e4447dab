"""The custom text dataset tutorial: dict samples of strings through a shuffling DataLoader.

Prints each batch (lists of strings), and checks that every epoch visits every sample
exactly once.
"""
import sys

from engine.data import DataLoader, Dataset

DEFAULTS = dict(epochs=2, batch_size=2)
GOAL = ("accuracy", 1.0)  # here: the share of epochs that saw every sample exactly once


class CustomTextDataset(Dataset):
    def __init__(self, txt, labels):
        self.labels = labels
        self.text = txt

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return {"Text": self.text[idx], "Class": self.labels[idx]}


text = ["Happy", "Amazing", "Sad", "Unhappy", "Glum"]
labels = ["Positive", "Positive", "Negative", "Negative", "Negative"]


def run(config):
    dataset = CustomTextDataset(text, labels)
    loader = DataLoader(dataset, batch_size=config.batch_size, shuffle=True)
    complete = 0
    for epoch in range(config.epochs):
        seen = []
        for idx, batch in enumerate(loader):
            print(f"epoch {epoch} batch {idx}: {batch}")
            seen += batch["Text"]
        complete += sorted(seen) == sorted(text)
    return {"loss": 0.0, "accuracy": complete / config.epochs, "losses": [0.0],
            "graph": None}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
