"""Where each op is declared public: engine.<name>, and on request Tensor.<name>, the
in-place Tensor.<name>_ and the out= spelling. The op's own file says so, beside its
definition; engine/ops/__init__.py derives the module's names and the Tensor methods
from this table, so adding an op touches its file and nothing central."""
import collections

Entry = collections.namedtuple("Entry", "fn method out inplace")
OPS = {}  # public name -> Entry, in the order declared


def public(*aliases, method=False, out=False, inplace=None):
    """Declare fn public under its own name and each alias.

    method: also Tensor.<name> (the op itself, no wrapper, so a method costs nothing).
    out: the functional spelling engine.<name> takes PyTorch's out=.
    inplace: Tensor.<name>_ too: "unary" for fn(x, *args), or, for a binary op, the
    backend's in-place kernel ("add_") or True where there is none.
    """
    def register(fn):
        for name in (fn.__name__, *aliases):
            if name in OPS:
                raise ValueError(f"op {name!r} is declared public twice")
            OPS[name] = Entry(fn, method, out, inplace if name == fn.__name__ else None)
        return fn

    return register
