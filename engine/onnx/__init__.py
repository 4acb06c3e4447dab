"""torch.onnx: `export` writes a model's recorded graph as an ONNX file (with the `onnx`
package, `pip install onnx`), which onnxruntime and other ONNX tools can run."""
from .export import TrainingMode, export, is_in_onnx_export  # noqa: F401
