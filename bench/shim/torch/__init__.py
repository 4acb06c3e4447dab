"""`import torch` gives numbagrad: this package replaces itself in sys.modules by engine
and makes every engine.X module importable as torch.X."""
import importlib, importlib.abc, importlib.util, sys
import engine


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.startswith("torch."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        module = importlib.import_module("engine" + spec.name[len("torch"):])
        return module

    def exec_module(self, module):
        pass


for name, module in list(sys.modules.items()):
    if name.startswith("engine."):
        sys.modules["torch" + name[len("engine"):]] = module
for name in ("nn", "optim", "utils", "backends"):
    sys.modules.setdefault(f"torch.{name}", getattr(engine, name))
    if not hasattr(sys.modules[f"torch.{name}"], "__path__"):
        sys.modules[f"torch.{name}"].__path__ = []
sys.meta_path.insert(0, _Alias())
sys.modules["torch"] = engine
