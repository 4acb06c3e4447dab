"""The process group: MPI's COMM_WORLD, how a job starts, and how it ends when a rank fails."""
import datetime
import os
import sys
import time
import traceback

from . import mpi
from .watchdog import Watchdog

DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)  # PyTorch's default for CPU backends
ABORT_GRACE_SECONDS = 0.5


class ProcessGroup:
    """The ranks a collective runs over (only the world, here) and its MPI communicator.

    `debug` is NUMBAGRAD_DISTRIBUTED_DEBUG as it was when the group was made (PyTorch
    also reads TORCH_DISTRIBUTED_DEBUG once): then every collective first checks that
    all ranks are running the same one on the same shapes. `watchdog` watches the
    collectives that block inside MPI (see watchdog.py)."""

    def __init__(self, MPI, comm, timeout, debug):
        self.MPI, self.comm, self.timeout, self.debug = MPI, comm, timeout, debug
        self.watchdog = Watchdog(timeout.total_seconds(), abort)

    def rank(self):
        return self.comm.Get_rank()

    def size(self):
        return self.comm.Get_size()

    def __repr__(self):
        return f"ProcessGroup(backend='mpi', rank={self.rank()}, size={self.size()})"


class _World:
    """`group.WORLD` / `GroupMember.WORLD`: stands for the default group once it exists."""

    WORLD = None


group = GroupMember = _World
_state = {"group": None, "excepthook": None,
          "fast": None}  # what a blocking CPU SUM all_reduce calls, bound once (collectives)


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Join the MPI job this process was started in (by mpiexec, srun, or alone).

    MPI itself says which rank this is and how many there are, so `world_size` and
    `rank` are only checked against it; there is no rendezvous to configure, hence no
    `init_method` or `store` beyond PyTorch's default ("env://").
    """
    if _state["group"] is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"init_process_group: backend={backend!r} is not available; "
                         f"numbagrad's only backend is 'mpi' (start the ranks with mpiexec "
                         f"instead of torch.multiprocessing or torchrun)")
    if init_method not in (None, "env://") or store is not None:
        raise ValueError("init_process_group: MPI finds the other ranks itself; "
                         "init_method (other than 'env://') and store cannot be used")
    if pg_options is not None or device_id is not None:
        raise ValueError("init_process_group: pg_options and device_id are options of "
                         "NCCL's backend, not MPI's")
    if timeout is None:
        timeout = DEFAULT_TIMEOUT
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(f"init_process_group: timeout must be a datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    MPI = mpi.load()
    comm = MPI.COMM_WORLD
    for name, given, actual in (("world_size", world_size, comm.Get_size()),
                                ("rank", rank, comm.Get_rank())):
        if given not in (-1, None) and given != actual:
            raise ValueError(f"init_process_group: {name}={given}, but MPI started this "
                             f"process with {name} {actual}")
    debug = os.environ.get("NUMBAGRAD_DISTRIBUTED_DEBUG", "OFF").upper() not in ("", "0",
                                                                              "OFF")
    _state["group"] = _World.WORLD = ProcessGroup(MPI, comm, timeout, debug)
    if not debug:  # debug mode compares every collective's signature first
        _state["fast"] = (comm.Allreduce, MPI.IN_PLACE, _World.WORLD.watchdog)
    if comm.Get_size() > 1:
        _abort_on_uncaught_exception()
        _World.WORLD.watchdog.start()


def destroy_process_group(group=None):
    """Leave the group; MPI itself is finalized when the process exits."""
    _resolve(group).watchdog.stop()
    _state["group"] = _World.WORLD = _state["fast"] = None
    if _state["excepthook"] is not None:
        sys.excepthook, _state["excepthook"] = _state["excepthook"], None


def _abort_on_uncaught_exception():
    """A rank that dies of an exception takes the job down (MPI_Abort) instead of
    leaving the others blocked in their next collective for ever."""
    previous = _state["excepthook"] = sys.excepthook

    def hook(kind, value, tb):
        sys.stderr.write("".join(traceback.format_exception(kind, value, tb)))
        abort(f"{kind.__name__}: {value}")
        previous(kind, value, tb)  # only reached without a group of several ranks

    sys.excepthook = hook


def abort(reason):
    """End the whole job from this rank, saying which rank failed and why. Nothing happens
    outside a group of several ranks (the caller's own error handling then applies)."""
    pg = _state["group"]
    if pg is None or pg.size() < 2:
        return
    sys.stdout.flush()
    sys.stderr.write(f"engine.distributed: rank {pg.rank()} of {pg.size()} failed with "
                     f"{reason}; aborting all ranks\n")
    sys.stderr.flush()
    # MPI_Abort kills every process at once; the launcher forwards output asynchronously,
    # and without this pause the message above was lost in about one job of six.
    time.sleep(ABORT_GRACE_SECONDS)
    pg.comm.Abort(1)


def is_available():
    """True where mpi4py and an MPI library can be loaded."""
    return mpi.available()


is_mpi_available = is_available


def is_initialized():
    return _state["group"] is not None


def _resolve(group):
    """The process group a call runs over; only the world exists."""
    default = _state["group"]
    if default is None:
        raise RuntimeError("Default process group has not been initialized, please make "
                           "sure to call init_process_group.")
    if group is not None and group is not default and group is not _World:
        raise ValueError(f"engine.distributed has only the world group; got {group!r}")
    return default


def get_rank(group=None):
    return _resolve(group).rank()


def get_world_size(group=None):
    return _resolve(group).size()


def get_backend(group=None):
    _resolve(group)
    return "mpi"

