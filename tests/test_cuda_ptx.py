"""Every kernel the CUDA suite launches compiles for a real GPU (sm_90), not only in the
simulator. Skips unless NVVM is installed (`pip install nvidia-nvvm`, as
requirements-test.txt does, or a CUDA toolkit named by CUDA_HOME)."""
import glob
import os
import subprocess
import sys

import pytest

import cuda_ptx

HERE = os.path.dirname(os.path.abspath(__file__))


def _cuda_home(tmp_path):
    """A directory laid out as numba expects a CUDA toolkit: nvvm/lib64 and libdevice."""
    home = os.environ.get("CUDA_HOME")
    if home and os.path.exists(os.path.join(home, "nvvm")):
        return home
    try:
        import nvidia
    except ImportError:
        return None
    for root in nvidia.__path__:
        libs = glob.glob(os.path.join(root, "*", "lib", "libnvvm.so*"))
        devices = glob.glob(os.path.join(root, "*", "nvvm", "libdevice"))
        if libs and devices:
            (tmp_path / "nvvm" / "lib64").mkdir(parents=True)
            os.symlink(libs[0], tmp_path / "nvvm" / "lib64" / "libnvvm.so")
            os.symlink(devices[0], tmp_path / "nvvm" / "libdevice")
            return str(tmp_path)
    return None


@pytest.mark.slow
def test_every_launched_kernel_compiles_to_ptx(tmp_path):
    """The kernels this session's CUDA tests launched (conftest.py records them; when
    this test runs alone, test_cuda.py runs first in a child to record them), each
    signature compiled once, by two processes sharing the list."""
    home = _cuda_home(tmp_path)
    if home is None:
        pytest.skip("NVVM is not installed (pip install nvidia-nvvm)")
    record = tmp_path / "kernels.json"
    script = os.path.join(HERE, "cuda_ptx.py")
    root = os.path.dirname(HERE)  # importable as the suite sees it, installed or not
    path = os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, CUDA_HOME=home, PYTHONPATH=path)
    if cuda_ptx.save_recording(record) < 100:  # the CUDA tests did not run before this
        ran = subprocess.run([sys.executable, script, "record", str(record), "--", "-q",
                              "-p", "no:cacheprovider", os.path.join(HERE, "test_cuda.py")],
                             env=env, capture_output=True, text=True, cwd=root)
        assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    halves = [subprocess.Popen([sys.executable, script, "compile", str(record), "--part",
                                f"{i}/2"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, cwd=root) for i in (0, 1)]
    for half in halves:
        out, err = half.communicate(timeout=600)
        assert half.returncode == 0, out[-5000:] + err[-3000:]
        assert "compiled" in out
