"""`import torch` gives numbagrad, for bench/public_programs.py: this package puts engine
in its place in sys.modules and makes every engine.X module importable as torch.X."""
import importlib
import importlib.abc
import importlib.util
import sys

import engine


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """torch.X is engine.X, imported on first use."""

    def find_spec(self, fullname, path, target=None):
        if fullname.startswith("torch."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module("engine" + spec.name[len("torch"):])

    def exec_module(self, module):
        pass


for _name, _module in list(sys.modules.items()):
    if _name.startswith("engine."):
        sys.modules["torch" + _name[len("engine"):]] = _module
for _name in ("nn", "optim", "utils", "backends"):  # packages here, modules there
    _module = sys.modules.setdefault(f"torch.{_name}", getattr(engine, _name))
    if not hasattr(_module, "__path__"):
        _module.__path__ = []
sys.meta_path.insert(0, _Alias())
sys.modules["torch"] = engine
