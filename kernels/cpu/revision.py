"""Cache keys for compiled loops that inline code from another file.

numba revalidates a cached kernel against the one file that defines it. The flat loops
in `elementwise.py` inline scalar bodies from `kernels/scalar.py`, and the loops in
`optim.py` inline rules from `kernels/update_rules.py`; after an edit to either, numba
would go on loading the old machine code. numba does put the pickled values of a
closure's cells in its cache key, so each such loop closes over `of(module)`, a digest
of the inlined file's source: an edit changes the key, and the loop compiles afresh.
"""
import functools
import hashlib


@functools.cache
def of(module):
    """A short digest of the module's source file."""
    with open(module.__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]
