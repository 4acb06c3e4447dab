"""data against PyTorch: datasets, samplers, collate rules and DataLoader batches."""
import collections

import numpy as np
import pytest

import data
import engine
from conftest import needs_torch, torch

Point = collections.namedtuple("Point", ["x", "label"])


class Samples:
    """A dataset returning one kind of sample, built the same for engine and torch."""

    def __init__(self, kind, n=10, tensor=None):
        self.kind, self.n, self.tensor = kind, n, tensor

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        t = self.tensor
        rng = np.random.default_rng(i)
        return {
            "tensor": lambda: t(rng.standard_normal(3).astype(np.float32)),
            "numpy": lambda: rng.integers(0, 9, (2, 2)),
            "float": lambda: float(i) / 3,
            "int": lambda: i,
            "bool": lambda: i % 2 == 0,
            "numpy_scalar": lambda: np.float32(i) * 1.5,
            "string": lambda: f"sample {i}",
            "dict": lambda: {"x": t(np.full(2, i, np.float32)), "name": f"n{i}", "y": i},
            "tuple": lambda: (t(np.array([i, i + 1])), i * 0.5),
            "namedtuple": lambda: Point(t(np.array([i])), i),
            "nested": lambda: [{"a": (i, f"s{i}")}, np.ones(2) * i],
        }[self.kind]()


def _to_numpy(batch):
    """A framework-free view of a batch, for comparing engine's with torch's."""
    if hasattr(batch, "detach"):
        return ("tensor", str(batch.dtype), batch.detach().numpy().tolist())
    if isinstance(batch, dict):
        return {k: _to_numpy(v) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return (type(batch).__name__,) + tuple(_to_numpy(v) for v in batch)
    if isinstance(batch, (list, tuple)):
        return [type(batch).__name__] + [_to_numpy(v) for v in batch]
    return batch


def _batches(m, dataset_args, **loader_args):
    dataset = Samples(*dataset_args, tensor=m.tensor)
    return [_to_numpy(b) for b in m.utils.data.DataLoader(dataset, **loader_args)] \
        if m is torch else [_to_numpy(b) for b in data.DataLoader(dataset, **loader_args)]


KINDS = ["tensor", "numpy", "float", "int", "bool", "numpy_scalar", "string", "dict", "tuple",
         "namedtuple", "nested"]


@needs_torch
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("options", [dict(batch_size=3), dict(batch_size=3, drop_last=True),
                                     dict(batch_size=None), dict(batch_size=4)])
def test_collate_rules_match_torch(kind, options):
    assert _batches(engine, (kind,), **options) == _batches(torch, (kind,), **options)


@needs_torch
def test_sampler_and_batch_sampler_match_torch():
    for m_ours, m_theirs in [(data, torch.utils.data)]:
        ours = _batches(engine, ("int", 12), sampler=[5, 3, 11, 0], batch_size=3)
        theirs = _batches(torch, ("int", 12), sampler=[5, 3, 11, 0], batch_size=3)
        assert ours == theirs
        batches = [[0, 1], [7, 2, 9], [4]]
        assert _batches(engine, ("int", 12), batch_sampler=batches) == \
            _batches(torch, ("int", 12), batch_sampler=batches)
        sequential = m_ours.BatchSampler(m_ours.SequentialSampler(range(10)), 4, False)
        assert list(sequential) == list(m_theirs.BatchSampler(
            m_theirs.SequentialSampler(range(10)), 4, False))
        assert len(sequential) == 3


@needs_torch
@pytest.mark.parametrize("kind", ["tensor", "dict", "tuple"])
def test_workers_give_the_same_batches(kind):
    single = _batches(engine, (kind, 23), batch_size=4)
    assert _batches(engine, (kind, 23), batch_size=4, num_workers=2) == single
    assert _batches(torch, (kind, 23), batch_size=4, num_workers=2) == single


@needs_torch
def test_collate_shape_mismatch_names_both_shapes():
    batch = [engine.zeros(3), engine.zeros(4)]
    with pytest.raises(RuntimeError, match=r"\[3\] at entry 0 and \[4\] at entry 1"):
        data.default_collate(batch)
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal "
                                           "size"):
        data.default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        data.default_collate([object(), object()])


@needs_torch
def test_default_convert_matches_torch():
    sample = {"a": np.arange(3), "b": [np.float64(2.5), "x"], "c": (np.ones(2), 1)}
    ours = data.default_convert(sample)
    theirs = torch.utils.data.default_convert(sample)
    assert _to_numpy(ours) == _to_numpy(theirs)


class TextDataset(data.Dataset):
    """The tutorial's custom text dataset: dict samples of strings."""

    def __init__(self, text, labels):
        self.labels, self.text = labels, text

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, idx):
        return {"Text": self.text[idx], "Class": self.labels[idx]}


def test_custom_text_dataset_yields_lists_of_strings_once_per_epoch():
    text = ["Happy", "Amazing", "Sad", "Unhappy", "Glum"]
    labels = ["Positive", "Positive", "Negative", "Negative", "Negative"]
    loader = data.DataLoader(TextDataset(text, labels), batch_size=2, shuffle=True)
    for _ in range(3):
        batches = list(loader)
        assert [len(b["Text"]) for b in batches] == [2, 2, 1]
        assert all(isinstance(b["Text"], list) and isinstance(b["Class"], list) for b in batches)
        seen = [t for b in batches for t in b["Text"]]
        assert sorted(seen) == sorted(text)
        for b in batches:
            for t, c in zip(b["Text"], b["Class"]):
                assert labels[text.index(t)] == c


def test_shuffle_is_repeatable_with_a_generator_and_differs_without():
    ds = data.TensorDataset(engine.arange(50))

    def order(gen):
        return [b[0].tolist() for b in data.DataLoader(ds, batch_size=7, shuffle=True,
                                                        generator=gen)]

    a = order(engine.Generator().manual_seed(7))
    assert a == order(engine.Generator().manual_seed(7))
    assert a != order(engine.Generator().manual_seed(8))
    assert sorted(x for b in a for x in b) == list(range(50))
    engine.manual_seed(1)
    first = order(None)
    engine.manual_seed(1)
    assert order(None) == first


def test_datasets_and_splits():
    ds = data.TensorDataset(engine.arange(10), engine.arange(10) * 2)
    assert ds[3][1].item() == 6 and len(ds) == 10
    both = data.ConcatDataset([ds, ds])
    assert len(both) == 20 and both[12][0].item() == 2 and both[-1][0].item() == 9
    sub = data.Subset(ds, [9, 0])
    assert [s[0].item() for s in sub] == [9, 0]
    parts = data.random_split(ds, [0.7, 0.3], generator=engine.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [7, 3]
    assert sorted(i for p in parts for i in p.indices) == list(range(10))
    with pytest.raises(ValueError, match="Sum of input lengths"):
        data.random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="Size mismatch"):
        data.TensorDataset(engine.zeros(3), engine.zeros(4))


def test_samplers():
    gen = engine.Generator().manual_seed(0)
    draws = list(data.RandomSampler(range(5), replacement=True, num_samples=200, generator=gen))
    assert len(draws) == 200 and set(draws) <= set(range(5))
    more = list(data.RandomSampler(range(6), num_samples=9, generator=gen))
    assert len(more) == 9 and sorted(more[:6]) == list(range(6))  # a full pass, then more
    assert sorted(data.SubsetRandomSampler([4, 8, 15])) == [4, 8, 15]
    weighted = list(data.WeightedRandomSampler([0.0, 1.0, 3.0], 400, generator=gen))
    assert weighted.count(0) == 0 and 2.0 < weighted.count(2) / weighted.count(1) < 4.5
    assert sorted(data.WeightedRandomSampler([1, 1, 0, 1], 3, replacement=False)) == [0, 1, 3]


class Stream(data.IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = data.get_worker_info()
        start, step = (0, 1) if info is None else (info.id, info.num_workers)
        return iter(range(start, self.n, step))

    def __len__(self):
        return self.n


def test_iterable_dataset_single_and_with_workers():
    assert [b.tolist() for b in data.DataLoader(Stream(7), batch_size=3)] == \
        [[0, 1, 2], [3, 4, 5], [6]]
    got = [x for b in data.DataLoader(Stream(20), batch_size=3, num_workers=2) for x in b.tolist()]
    assert sorted(got) == list(range(20))
    assert len(data.DataLoader(Stream(7), batch_size=3, drop_last=True)) == 2


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_workers=-1), "num_workers option should be non-negative"),
    (dict(timeout=-1), "timeout option should be non-negative"),
    (dict(sampler=[0, 1], shuffle=True), "sampler option is mutually exclusive with shuffle"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler option is mutually exclusive"),
    (dict(persistent_workers=True), "persistent_workers option needs num_workers > 0"),
    (dict(prefetch_factor=2), "prefetch_factor option could only be specified"),
    (dict(batch_size=None, drop_last=True), "batch_size=None option disables auto-batching"),
    (dict(batch_size=0), "batch_size should be a positive integer value"),
])
def test_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        data.DataLoader(data.TensorDataset(engine.arange(4)), **kwargs)
    if torch is not None:
        with pytest.raises(ValueError, match=message):
            torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.arange(4)),
                                        **kwargs)
