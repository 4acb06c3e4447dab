"""numba's disk cache must never serve a loop compiled from code that has since changed.

numba checks a cached kernel against the file that defines it only; the loops that
inline a scalar body (kernels/scalar.py) or an optimizer rule (kernels/update_rules.py)
carry those files' digests in their cache keys (kernels/cpu/revision.py). This edits a
copy of the package between two fresh processes sharing one cache.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

PROBE = """
import numpy as np
import kernels.cpu as K
assert K.__file__.startswith({root!r}), K.__file__
x = np.full(8192, 3.0, np.float32)  # large and contiguous: the flat loop, not the ufunc
p = np.ones(4, np.float32)
K.sgd_step(p, np.ones(4, np.float32), None, 0.25, 0.0, 0.0, 0.0, False, False, False)
print(K.add(x, x)[0], p[0])
"""


def _edit(path, old, new):
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not found once in {path}"
    path.write_text(text.replace(old, new))


def test_editing_an_inlined_body_recompiles_the_loops_that_inline_it(tmp_path):
    package = tmp_path / "kernels"
    shutil.copytree(Path(__file__).parents[1] / "kernels", package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.nb[ic]"))
    env = dict(os.environ, PYTHONPATH=str(tmp_path), NUMBA_CACHE_DIR=str(tmp_path / "cache"))

    def run():
        done = subprocess.run([sys.executable, "-c", PROBE.format(root=str(package))],
                              env=env, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    assert run() == ["6.0", "0.75"]
    assert run() == ["6.0", "0.75"]  # now from the cache
    _edit(package / "scalar.py", "def add(a, b):\n    return a + b\n",
          "def add(a, b):\n    return a + b + 1\n")
    _edit(package / "update_rules.py", "p[i] = p[i] - lr * g[i]\n",
          "p[i] = p[i] - 2 * lr * g[i]\n")
    assert run() == ["7.0", "0.5"]
