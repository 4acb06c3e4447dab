"""`torch.backends`: the switches programs set or read for libraries PyTorch links.

numbagrad links none of them (no cuDNN, MPS, MKL-DNN or OpenMP), so each says it is
not available; its flags keep the values programs set, and the kernels they govern in
PyTorch do not exist here to change. What numbagrad computes already meets what the
flags ask for: its GEMMs never use TF32 (allow_tf32 permits, it does not require) and
its CPU kernels are deterministic.
"""
import sys
import types


def submodule(parent, name, doc, **attributes):
    """A module `parent.name` holding `attributes`, importable as such (`import
    torch.backends.cudnn as cudnn` is how programs reach these)."""
    module = types.ModuleType(f"{parent}.{name}", doc)
    module.__dict__.update(attributes)
    sys.modules[module.__name__] = module
    return module


def _unavailable(name, **flags):
    return submodule(__name__, name, f"{name}: not linked by numbagrad.",
                     is_available=lambda: False, is_built=lambda: False, **flags)


cudnn = _unavailable("cudnn", enabled=True, benchmark=False, deterministic=False,
                     allow_tf32=True, version=lambda: None)
mps = _unavailable("mps")
mkldnn = _unavailable("mkldnn", enabled=True)
openmp = _unavailable("openmp")
mkl = _unavailable("mkl")

cuda = submodule(__name__, "cuda", "CUDA matmul flags.")
cuda.matmul = types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                    allow_bf16_reduced_precision_reduction=True)
cuda.is_built = lambda: True  # numbagrad's CUDA backend ships with it (numba.cuda)
cuda.flash_sdp_enabled = cuda.mem_efficient_sdp_enabled = lambda: False
cuda.math_sdp_enabled = lambda: True
