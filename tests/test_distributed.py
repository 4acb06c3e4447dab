"""engine.distributed and DistributedDataParallel, on real MPI ranks started by mpiexec.

Each job runs a script from tests/ranks/ in 2 or 3 processes on this machine (loopback);
a check failing in a rank aborts the job with that rank's error, which fails the test.
Every job is bounded in time: a hang is a failure, not a stuck suite.
"""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import needs_torch, torch

import engine
from engine.data import DistributedSampler
from engine.distributed.mpi import find_mpiexec

HERE = os.path.dirname(os.path.abspath(__file__))
RANKS = os.path.join(HERE, "ranks")
MPIEXEC = find_mpiexec()
needs_mpi = pytest.mark.skipif(
    MPIEXEC is None or not engine.distributed.is_available(),
    reason="MPI is not installed (pip install mpi4py mpich)")


def mpiexec(n, script, *args, timeout=120, env=None):
    """Run tests/ranks/<script> on n ranks; (exit status, stdout + stderr)."""
    command = [MPIEXEC, "-n", str(n), sys.executable, os.path.join(RANKS, script), *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return done.returncode, done.stdout + done.stderr


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_every_collective_matches_numpy(n):
    status, output = mpiexec(n, "collectives.py", env={"NUMBAGRAD_TEST_DESTROY": "1"})
    assert status == 0, output
    assert output.count("collectives ok") == n, output


@needs_mpi
def test_collectives_stage_cuda_tensors_through_host_memory():
    status, output = mpiexec(2, "collectives.py", "cuda", env={"NUMBA_ENABLE_CUDASIM": "1"})
    assert status == 0, output
    assert output.count("on cuda: collectives ok") == 2, output


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_ddp_on_n_ranks_equals_one_process_on_whole_batches(n):
    """20 SGD steps on B/n per rank == 20 steps on B alone (1e-5), for several bucket
    layouts; plus overlap, no_sync, unused parameters, buffers and mismatched models."""
    status, output = mpiexec(n, "ddp.py", "cpu", "20")
    assert status == 0, output
    assert output.count("DistributedDataParallel ok") == n, output


@needs_mpi
def test_compiled_ddp_steps_average_at_every_replay():
    """engine.compile of a whole DDP step, of the DDP module, of steps inside no_sync, with
    buffers and with unused parameters, each several calls past its trace, against one
    process on whole batches; a graph break fails the job. (3 ranks pass too; the eager
    test above covers their bucket order.)"""
    status, output = mpiexec(2, "ddp_compiled.py")
    assert status == 0, output
    assert output.count("compiled DistributedDataParallel ok") == 2, output


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_sync_batchnorm_on_n_ranks_trains_as_batchnorm_on_whole_batches(n):
    status, output = mpiexec(n, "sync_batchnorm.py")
    assert status == 0, output
    assert output.count("SyncBatchNorm ok") == n, output


@needs_mpi
@pytest.mark.parametrize("script, args, says", [
    ("ddp.py", ["2"], "DistributedDataParallel ok"),
    ("ddp_compiled.py", [], "compiled DistributedDataParallel ok"),
    ("sync_batchnorm.py", [], "the differentiable allreduce ok"),  # eager and compiled
])
def test_on_cuda_tensors(script, args, says):
    """Each rank script's CUDA part (tensors staged through host memory), on numba's CUDA
    simulator: DDP, a compiled DDP step, the differentiable allreduce."""
    status, output = mpiexec(2, script, "cuda", *args, timeout=300,
                             env={"NUMBA_ENABLE_CUDASIM": "1"})
    assert status == 0, output
    assert output.count(f"on cuda: {says}") == 2, output


@needs_mpi
def test_a_raising_rank_ends_the_job_naming_itself():
    status, output = mpiexec(2, "failures.py", "raise", timeout=60)
    assert status != 0
    assert "rank 1 of 2 failed with ValueError: rank 1 met bad data" in output, output


@needs_mpi
def test_a_rank_that_never_arrives_ends_the_job_after_the_timeout():
    status, output = mpiexec(2, "failures.py", "timeout", timeout=60)
    assert status != 0
    assert "barrier: not finished after 2 s" in output, output
    assert "rank 0 of 2 failed" in output, output


@needs_mpi
def test_a_rank_that_never_joins_a_blocking_all_reduce_ends_the_job_after_the_timeout():
    started = time.monotonic()
    status, output = mpiexec(2, "failures.py", "blocked", timeout=60)
    assert status != 0
    assert ("rank 0 of 2 failed with RuntimeError: all_reduce: not finished after 2 s"
            in output), output
    assert time.monotonic() - started < 25  # the watchdog, not rank 1 waking up at 30 s


@needs_mpi
def test_debug_mode_names_mismatched_shapes_on_every_rank():
    status, output = mpiexec(2, "failures.py", "mismatch", timeout=60,
                             env={"NUMBAGRAD_DISTRIBUTED_DEBUG": "1"})
    assert status == 0, output
    for rank in (0, 1):
        assert (f"rank {rank} refused: all_reduce: the ranks disagree" in output), output
    assert "rank 0: all_reduce((3,), float32, cpu, SUM); rank 1: all_reduce((4,)" in output


@needs_mpi
def test_misuse_is_refused_in_words():
    done = subprocess.run([sys.executable, os.path.join(RANKS, "errors.py")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "errors ok" in done.stdout


def test_missing_mpi_gives_the_install_hint():
    program = ("import sys; sys.modules['mpi4py'] = None\n"
               "import engine.distributed as dist\n"
               "assert not dist.is_available()\n"
               "try:\n"
               "    dist.init_process_group('mpi')\n"
               "except RuntimeError as e:\n"
               "    print(e)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install mpi4py mpich" in done.stdout, done.stdout


def test_importing_engine_does_not_start_mpi():
    done = subprocess.run([sys.executable, "-c", "import sys, engine, engine.distributed, "
                           "engine.nn.parallel; print('mpi4py.MPI' in sys.modules)"],
                          capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stdout + done.stderr


# ---- DistributedSampler: no MPI needed when num_replicas and rank are given ------------

@needs_torch
@pytest.mark.parametrize("n", [0, 1, 7, 10, 64, 101])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("shuffle, drop_last", [(True, False), (False, False), (True, True),
                                                (False, True)])
def test_distributed_sampler_shards_equal_pytorchs(n, replicas, shuffle, drop_last):
    from torch.utils.data.distributed import DistributedSampler as TorchSampler

    data = list(range(n))
    for seed, epoch in ((0, 0), (5, 3), (2 ** 40 + 1, 1)):
        for rank in range(replicas):
            ours = DistributedSampler(data, replicas, rank, shuffle=shuffle, seed=seed,
                                      drop_last=drop_last)
            theirs = TorchSampler(data, replicas, rank, shuffle=shuffle, seed=seed,
                                  drop_last=drop_last)
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs), (seed, epoch, rank)
            assert len(ours) == len(theirs)


def test_distributed_sampler_shards_cover_the_data_once_per_epoch():
    shards = [list(DistributedSampler(range(10), 3, r, seed=1)) for r in range(3)]
    everything = sum(shards, [])
    assert len(everything) == 12 and set(everything) == set(range(10))  # 2 repeated as pad
    orders = set()
    for epoch in range(4):
        sampler = DistributedSampler(range(10), 2, 0)
        sampler.set_epoch(epoch)
        orders.add(tuple(sampler))
    assert len(orders) > 1, "set_epoch must change the order"


def test_distributed_sampler_refuses_bad_ranks_and_needs_a_group():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval "
                                         r"\[0, 2\]"):
        DistributedSampler(range(4), num_replicas=3, rank=3)
    with pytest.raises(RuntimeError, match="pass num_replicas and rank, or call "
                                           "engine.distributed.init_process_group"):
        DistributedSampler(range(4))


def test_distributed_sampler_feeds_a_dataloader():
    loader = engine.data.DataLoader(engine.data.TensorDataset(engine.arange(10)),
                                    batch_size=2,
                                    sampler=DistributedSampler(range(10), 2, 1, shuffle=False))
    assert [b[0].tolist() for b in loader] == [[1, 3], [5, 7], [9]]


# ---- SyncBatchNorm without a group, and its conversion (no MPI) --------------------------

@needs_torch
def test_sync_batchnorm_without_a_group_is_batchnorm_as_in_pytorch():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    ours, theirs = engine.nn.SyncBatchNorm(3, momentum=0.2), torch.nn.SyncBatchNorm(3, momentum=0.2)
    assert repr(ours) == repr(theirs)
    for training in (True, False):
        ours.train(training)
        theirs.train(training)
        a = engine.tensor(x, requires_grad=True)
        b = torch.tensor(x, requires_grad=True)
        (ours(a) * engine.tensor(x)).sum().backward()
        (theirs(b) * torch.tensor(x)).sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(),
                                   rtol=1e-6)
    for bad, words in ((engine.ones(3), "expected at least 2D input \\(got 1D input\\)"),
                       (engine.ones(2, 0), "number of input channels should be non-zero")):
        with pytest.raises(ValueError, match=words):
            ours(bad)
    with pytest.raises(ValueError, match="only ReduceOp.SUM is differentiable here, got MAX"):
        engine.distributed.nn.functional.all_reduce(engine.ones(2),
                                                    engine.distributed.ReduceOp.MAX)


@needs_torch
def test_convert_sync_batchnorm_keeps_parameters_buffers_and_flags_as_pytorch_does():
    def build(m):
        m.manual_seed(0)
        inner = m.nn.Sequential(m.nn.Conv2d(1, 2, 3), m.nn.BatchNorm2d(2))
        return m.nn.Sequential(m.nn.Linear(3, 4), m.nn.BatchNorm1d(4, affine=False), inner)

    ours, theirs = build(engine), build(torch)
    ours[2][1].eval()
    theirs[2][1].eval()
    params, buffers = list(ours.parameters()), list(ours.buffers())
    keys = list(ours.state_dict())
    converted = engine.nn.SyncBatchNorm.convert_sync_batchnorm(ours)
    theirs = torch.nn.SyncBatchNorm.convert_sync_batchnorm(theirs)
    assert converted is ours and repr(converted) == repr(theirs)
    assert [type(m).__name__ for m in converted.modules()] == [
        type(m).__name__ for m in theirs.modules()]
    assert all(a is b for a, b in zip(converted.parameters(), params))
    assert all(a is b for a, b in zip(converted.buffers(), buffers))
    assert list(converted.state_dict()) == keys == list(theirs.state_dict())
    assert [m.training for m in converted.modules()] == [m.training for m in theirs.modules()]
    alone = engine.nn.BatchNorm1d(4)
    assert type(engine.nn.SyncBatchNorm.convert_sync_batchnorm(alone)) is engine.nn.SyncBatchNorm


# ---- the hooks DistributedDataParallel rests on (no MPI) --------------------------------

def test_post_accumulate_grad_hook_sees_the_finished_gradient():
    w = engine.ones(3, requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda p: seen.append(p.grad.tolist()))
    (w * 2).sum().backward()
    (w * 3).sum().backward()
    assert seen == [[2.0] * 3, [5.0] * 3]
    handle.remove()
    (w * 1).sum().backward()
    assert len(seen) == 2


@needs_torch
def test_queue_callback_runs_once_when_backward_ends():
    from engine.autograd.graph import queue_callback

    order = []
    w = engine.ones(2, requires_grad=True)
    v = engine.ones(2, requires_grad=True)
    w.register_post_accumulate_grad_hook(
        lambda p: (order.append("w"), queue_callback(lambda: order.append("end"))))
    v.register_post_accumulate_grad_hook(lambda p: order.append("v"))
    (w * v).sum().backward()
    assert sorted(order[:2]) == ["v", "w"] and order[2:] == ["end"]
    order.clear()
    (w * v).sum().backward()
    assert order.count("end") == 1  # one queued per walk, not kept for the next
    tw = torch.ones(2, requires_grad=True)
    calls = []
    tw.register_post_accumulate_grad_hook(lambda p: calls.append(p.grad.tolist()))
    (tw * 2).sum().backward()
    assert calls == [[2.0, 2.0]]  # PyTorch's hook sees the same


# ---- the CLI's --nproc ------------------------------------------------------------------

@needs_mpi
@pytest.mark.slow
def test_cli_trains_digits_data_parallel_like_one_process(tmp_path):
    pytest.importorskip("sklearn")
    outputs = {}
    for run in ("1", "2", "2 --compile"):  # compiled, every replay must average too
        path = tmp_path / f"w{len(outputs)}.pt"
        done = subprocess.run([sys.executable, "-m", "engine", "run", "digits", "--quiet",
                               "--epochs", "3", "--nproc", *run.split(), "--save", str(path)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode in (0, 3), done.stdout + done.stderr
        assert done.stdout.count("digits: loss") == 1, done.stdout  # rank 0 only
        outputs[run] = engine.load(str(path))
    for run in ("2", "2 --compile"):
        for key, value in outputs["1"].items():
            np.testing.assert_allclose(outputs[run][key].numpy(), value.numpy(), rtol=1e-5,
                                       atol=1e-6, err_msg=f"--nproc {run}: {key}")


@needs_mpi
@pytest.mark.slow
def test_cli_all_ranks_prints_every_rank():
    pytest.importorskip("sklearn")
    done = subprocess.run([sys.executable, "-m", "engine", "run", "digits", "--quiet",
                           "--epochs", "1", "--nproc", "2", "--all-ranks"],
                          capture_output=True, text=True, timeout=300)
    assert done.stdout.count("digits: loss") == 2, done.stdout + done.stderr


def test_cli_nproc_refusals(tmp_path):
    def run(*args, env=None):
        done = subprocess.run([sys.executable, "-m", "engine", "run", *args],
                              capture_output=True, text=True, timeout=120,
                              env={**os.environ, **(env or {})})
        return done.returncode, done.stderr

    status, err = run("or_gate", "--nproc", "2")
    assert status == 2 and "--nproc does not apply to or_gate" in err, err
    fake_python = tmp_path / "python"  # a Python with no mpiexec beside it or on PATH
    fake_python.symlink_to(sys.executable)
    done = subprocess.run([str(fake_python), "-m", "engine", "run", "digits", "--nproc", "2"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PATH": "/nonexistent"})
    status, err = done.returncode, done.stderr
    assert status == 2 and "pip install mpi4py mpich" in err, err
    status, err = run("digits", "--nproc", "0")
    assert status == 2 and "expected a positive integer" in err, err
