"""torch.multiprocessing: shared tensors across forked and spawned processes (Hogwild),
bounded in time; tensors not shared travel as copies."""
import numpy as np
import pytest

import engine
import engine.multiprocessing as mp
from engine import nn

METHODS = ["fork", "spawn", "forkserver"]


def _add_one(model, queue, done):
    with engine.no_grad():
        model.weight.add_(1.0)
    queue.put((model.bias, engine.ones(2)))
    done.wait(30)  # the receiver takes the descriptor from this process


@pytest.mark.parametrize("method", METHODS)
def test_shared_parameters_are_one_memory_across_processes(method):
    ctx = mp.get_context(method)
    model = nn.Linear(3, 2).share_memory()
    assert model.weight.is_shared() and model.bias.is_shared()
    before = model.weight.detach().numpy().copy()
    queue, done = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=_add_one, args=(model, queue, done))
    child.start()
    bias, plain = queue.get(timeout=60)
    done.set()
    child.join(60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(model.weight.detach().numpy(), before + 1.0)
    assert type(bias) is nn.Parameter and bias.requires_grad and bias.is_shared()
    with engine.no_grad():
        bias.add_(5.0)  # the child's Parameter, received: the same memory as ours
    np.testing.assert_array_equal(model.bias.detach().numpy(), bias.detach().numpy())
    assert not plain.is_shared() and plain.tolist() == [1.0, 1.0]


def _train(model, rank, steps):
    engine.manual_seed(rank)
    opt = engine.optim.SGD(model.parameters(), lr=0.05)
    x = engine.randn(64, 4)
    y = x @ engine.tensor([[1.0], [-2.0], [0.5], [3.0]])
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_hogwild_training_updates_the_parents_model(method):
    """Two processes train one shared model, as PyTorch's mnist_hogwild does; the
    parent's model is the trained one."""
    ctx = mp.get_context(method)
    engine.manual_seed(0)
    model = nn.Linear(4, 1)
    model.share_memory()
    x = engine.randn(64, 4)
    y = x @ engine.tensor([[1.0], [-2.0], [0.5], [3.0]])
    with engine.no_grad():
        before = nn.functional.mse_loss(model(x), y).item()
    workers = [ctx.Process(target=_train, args=(model, rank, 60)) for rank in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    with engine.no_grad():
        after = nn.functional.mse_loss(model(x), y).item()
    assert after < before / 20


def test_sharing_strategy_and_views():
    assert mp.get_sharing_strategy() == "file_descriptor"
    with pytest.raises(ValueError, match="file_system"):
        mp.set_sharing_strategy("file_system")
    t = engine.arange(6.0).reshape(2, 3)
    assert not t.is_shared()
    assert t.share_memory_() is t and t.is_shared() and t[1].is_shared()
    assert t.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    empty = engine.zeros(0).share_memory_()
    assert empty.is_shared() and empty.shape == (0,)
