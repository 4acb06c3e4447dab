"""Shared test helpers: the torch oracle (skipped cleanly when absent) and conversions.

The CUDA tests run on numba's CUDA simulator unless NUMBA_ENABLE_CUDASIM is set
otherwise (=0 on a machine with a GPU runs them on the GPU). numba reads the
variable when it is first imported, so it is set here, before anything imports it.
"""
import os

os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from numba import config  # noqa: E402

if config.ENABLE_CUDASIM != int(os.environ["NUMBA_ENABLE_CUDASIM"]):
    # Something (a plugin, a warning filter naming a numba class) imported numba first:
    # the CUDA suite would silently skip instead of running on the simulator.
    pytest.exit("numba was imported before tests/conftest.py could set "
                "NUMBA_ENABLE_CUDASIM; set it in the environment instead", returncode=3)

import engine  # noqa: E402

if config.ENABLE_CUDASIM:  # the launches test_cuda_ptx.py compiles for a real GPU
    import cuda_ptx  # noqa: E402

    cuda_ptx.start_recording()

try:
    import torch
except ImportError:  # the suite runs without the oracle; comparisons skip
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch (the test oracle) is not installed")

FLOAT = {np.float32: (engine.float32, "float32"), np.float64: (engine.float64, "float64")}


def twin_modules(name, *args, **kwargs):
    """(ours, torch's) float64 `nn.<name>(*args, **kwargs)`, ours loaded with torch's
    weights, after checking that both print and name their state alike."""
    import nn

    theirs = getattr(torch.nn, name)(*args, **kwargs).double()
    ours = getattr(nn, name)(*args, **kwargs, dtype=engine.float64)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: engine.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})
    return ours, theirs


def to_torch(array, requires_grad=False):
    t = torch.tensor(array)
    return t.requires_grad_(requires_grad) if requires_grad else t


def to_engine(array, requires_grad=False):
    return engine.tensor(array, requires_grad=requires_grad)


def assert_close(ours, theirs, rtol=1e-5, atol=1e-6, what=""):
    a = np.asarray(ours.detach().numpy() if hasattr(ours, "detach") else ours, dtype=np.float64)
    b = np.asarray(theirs.detach().numpy() if hasattr(theirs, "detach") else theirs,
                   dtype=np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)
