"""`torch.nn.modules`: PyTorch's file layout for its layers, which programs import from
(`from torch.nn.modules.loss import _Loss`, `torch.nn.modules.batchnorm._BatchNorm`).
Each submodule here is a name for the classes this package defines elsewhere, so a
class is the same object whichever path imported it."""
import sys
import types

from .. import activation, containers, conv, layers, loss, module, normalization, pooling
from .. import rnn, sparse, transformer, upsampling

_LAYOUT = {  # PyTorch's submodule: where its classes live here
    "module": (module,), "linear": (layers,), "conv": (conv,), "activation": (activation,),
    "loss": (loss,), "container": (containers,), "dropout": (layers,),
    "batchnorm": (layers, normalization), "normalization": (layers, normalization),
    "instancenorm": (normalization,), "pooling": (pooling,), "rnn": (rnn,),
    "sparse": (sparse,), "transformer": (transformer,), "flatten": (layers,),
    "upsampling": (upsampling,), "pixelshuffle": (),
}


def _alias(name, sources):
    alias = types.ModuleType(f"{__name__}.{name}", f"torch.nn.modules.{name}'s classes")
    for source in sources:
        alias.__dict__.update({k: v for k, v in vars(source).items()
                               if isinstance(v, type)})
    sys.modules[alias.__name__] = alias
    return alias


# Classes PyTorch keeps in another file than their kin here (checkpoints name them there).
_MOVED = {"activation": (transformer, ("MultiheadAttention",)),
          "linear": (transformer, ("NonDynamicallyQuantizableLinear",)),
          "pixelshuffle": (upsampling, ("PixelShuffle", "PixelUnshuffle"))}

for _name, _sources in _LAYOUT.items():
    globals()[_name] = _alias(_name, _sources)
    _home, _classes = _MOVED.get(_name, (None, ()))
    for _cls in _classes:
        setattr(globals()[_name], _cls, getattr(_home, _cls))
    globals().update({k: v for k, v in vars(globals()[_name]).items()
                      if isinstance(v, type) and not k.startswith("_")})
