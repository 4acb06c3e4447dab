"""A character-level GPT, written out head by head: embeddings, causal self-attention with
a `tril` mask, layer norms, a feed-forward block, AdamW, then sampling with `multinomial`.

The text is short and ships in this file, so nothing is downloaded. It is repeated to
make the data, so the validation windows hold sentences the model has trained on: the
goal measures how well it learns the text's spelling, not how it generalises. Every line
is plain PyTorch code: the tests run this file with `import torch` too and check that
the losses agree from the same start.
"""
import sys

import engine as torch
from engine import nn

F = nn.functional

DEFAULTS = dict(epochs=6, batch_size=16, lr=3e-3)
GOAL = ("loss", 1.5)  # validation cross-entropy in nats; a uniform guess is ln(25) = 3.2

TEXT = """\
a small engine keeps a record of every step it takes. when the answer comes out wrong, \
it walks the record backwards, one step at a time, and asks each step how much it was \
to blame. the steps that were most to blame move the most. then it takes the same path \
again, a little wiser. small steps, taken many times, find their way down the hill. \
"""
CHARS = sorted(set(TEXT))
BLOCK = 32  # the longest context the model sees
STEPS_PER_EPOCH = 50


def encode(text):
    return torch.tensor([CHARS.index(c) for c in text], dtype=torch.long)


def decode(ids):
    return "".join(CHARS[i] for i in ids)


DATA = encode(TEXT * 8)
SPLIT = int(0.9 * len(DATA))


def get_batch(split, batch_size):
    """Random windows of BLOCK characters and, for targets, the same windows one later."""
    data = DATA[:SPLIT] if split == "train" else DATA[SPLIT:]
    starts = torch.randint(len(data) - BLOCK, (batch_size,))
    x = torch.stack([data[i:i + BLOCK] for i in starts])
    y = torch.stack([data[i + 1:i + BLOCK + 1] for i in starts])
    return x, y


class Head(nn.Module):
    """One head of causal self-attention: each position mixes the values of the positions
    before it, weighted by how well its query matches their keys."""

    def __init__(self, width, head_width, dropout):
        super().__init__()
        self.key = nn.Linear(width, head_width, bias=False)
        self.query = nn.Linear(width, head_width, bias=False)
        self.value = nn.Linear(width, head_width, bias=False)
        self.register_buffer("causal", torch.tril(torch.ones(BLOCK, BLOCK)))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        T = x.shape[1]
        k, q = self.key(x), self.query(x)
        scores = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
        scores = scores.masked_fill(self.causal[:T, :T] == 0, float("-inf"))
        weights = self.dropout(F.softmax(scores, dim=-1))
        return weights @ self.value(x)


class Block(nn.Module):
    """Attention (communication between positions), then a feed-forward layer
    (computation at each position), each around a residual connection."""

    def __init__(self, width, heads, dropout):
        super().__init__()
        self.heads = nn.ModuleList([Head(width, width // heads, dropout)
                                    for _ in range(heads)])
        self.proj = nn.Linear(width, width)
        self.ffwd = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(),
                                  nn.Linear(4 * width, width), nn.Dropout(dropout))
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)

    def forward(self, x):
        h = self.ln1(x)
        x = x + self.proj(torch.cat([head(h) for head in self.heads], dim=-1))
        return x + self.ffwd(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, width=48, heads=4, layers=2, dropout=0.1):
        super().__init__()
        self.token = nn.Embedding(len(CHARS), width)
        self.position = nn.Embedding(BLOCK, width)
        self.blocks = nn.Sequential(*[Block(width, heads, dropout) for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, len(CHARS))

    def forward(self, ids, targets=None):
        T = ids.shape[1]
        x = self.token(ids) + self.position(torch.arange(T))
        logits = self.head(self.ln(self.blocks(x)))
        if targets is None:
            return logits, None
        B, T, C = logits.shape
        return logits, F.cross_entropy(logits.view(B * T, C), targets.view(B * T))

    @torch.no_grad()
    def generate(self, ids, length):
        for _ in range(length):
            logits, _ = self(ids[:, -BLOCK:])
            probs = F.softmax(logits[:, -1, :], dim=-1)
            ids = torch.cat((ids, torch.multinomial(probs, num_samples=1)), dim=1)
        return ids


def make_model(dropout=0.1):
    return GPT(dropout=dropout)


def train(model, steps, lr, batch_size=16, batches=None, show=False):
    """`steps` AdamW steps on random batches (or on `batches`); the loss of each step."""
    from engine.cli import progress

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    bar = progress(range(steps), desc="char_gpt", enabled=show)
    for step in bar:
        x, y = batches[step] if batches else get_batch("train", batch_size)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        bar.note(loss=losses[-1])
    return losses


@torch.no_grad()
def validation_loss(model, batch_size, rounds=10):
    model.eval()
    total = 0.0
    for _ in range(rounds):
        _, loss = model(*get_batch("val", batch_size))
        total += loss.item()
    model.train()
    return total / rounds


def run(config):
    model = make_model()
    losses = train(model, config.epochs * STEPS_PER_EPOCH, config.lr, config.batch_size,
                   show=config.progress)
    model.eval()
    sample = decode(model.generate(encode("a small ")[None], 60)[0].tolist())
    print(f"sample: {sample!r}")
    x, y = get_batch("val", 4)
    return {"loss": validation_loss(model, config.batch_size), "accuracy": None,
            "losses": losses, "graph": model(x, y)[1], "params": dict(model.named_parameters()),
            "explain": lambda: model(x[:1, :4], y[:1, :4])[1]}


def main(argv=None):
    from engine.cli import standalone

    return standalone(sys.modules[__name__], argv)


if __name__ == "__main__":
    sys.exit(main())
