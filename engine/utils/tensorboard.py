"""`torch.utils.tensorboard`: SummaryWriter, writing TensorBoard's event files through the
tensorboard package's own writer and message types, so TensorBoard reads them as it
reads PyTorch's. Tensors are accepted wherever PyTorch's writer takes them.
"""
import datetime
import math
import os
import socket
import time

import numpy as np

try:
    from tensorboard.compat.proto.attr_value_pb2 import AttrValue
    from tensorboard.compat.proto.event_pb2 import Event, SessionLog
    from tensorboard.compat.proto.graph_pb2 import GraphDef
    from tensorboard.compat.proto.node_def_pb2 import NodeDef
    from tensorboard.compat.proto.versions_pb2 import VersionDef
    from tensorboard.plugins.pr_curve.plugin_data_pb2 import PrCurvePluginData
    from tensorboard.plugins.projector.projector_config_pb2 import \
        ProjectorConfig as _ProjectorConfig
    from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.summary.writer.event_file_writer import EventFileWriter
except ImportError as e:  # the same condition and advice as PyTorch's
    raise ImportError("TensorBoard logging requires the tensorboard package: "
                      "pip install tensorboard") from e


def _number(value):
    return float(value.item() if hasattr(value, "item") else value)


def _array(values):
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _tensorflow_bins():
    """TensorFlow's default histogram edges: +-1e-12 growing by 10% to +-1e20, and 0."""
    edges, v = [], 1e-12
    while v < 1e20:
        edges.append(v)
        v *= 1.1
    return [-e for e in reversed(edges)] + [0.0] + edges


def _hwc(image, dataformats):
    """An image as (H, W, C) uint8, as PyTorch's writer makes it: floats are taken as
    [0, 1] and scaled by 255 (uint8 as it is), clipped; one channel stays grey; a batch
    (N first) is tiled into a grid eight images wide."""
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    formats = dataformats.upper()
    if len(set(formats)) != len(formats) or not set(formats) <= set("NCHW") or \
            image.ndim != len(formats):
        raise ValueError(f"add_image: dataformats {dataformats!r} does not describe an image "
                         f"of shape {image.shape} (use letters of NCHW, one per dimension)")
    for letter in "NCHW":
        if letter not in formats:
            image = image[None] if letter != "C" else image[..., None]
            formats = letter + formats if letter != "C" else formats + letter
    image = image.transpose([formats.index(letter) for letter in "NHWC"])
    scale = 1 if image.dtype == np.uint8 else 255
    image = np.clip(image.astype(np.float32) * scale, 0, 255).astype(np.uint8)
    if image.shape[0] > 1 or formats.startswith("N"):
        return _grid(image, min(image.shape[0], 8))
    return image[0]


def _grid(images, columns):
    """(N, H, W, C) uint8 images tiled `columns` wide, row by row, in colour."""
    n, h, w, c = images.shape
    if c == 1:
        images, c = np.repeat(images, 3, axis=3), 3
    rows = -(-n // columns)
    grid = np.zeros((rows * h, columns * w, c), np.uint8)
    for k in range(n):
        r, col = divmod(k, columns)
        grid[r * h:(r + 1) * h, col * w:(col + 1) * w] = images[k]
    return grid


def _rendered(figure, close):
    """A matplotlib figure's RGB pixels (H, W, 3), drawn by its Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    width, height = figure.canvas.get_width_height()
    pixels = np.frombuffer(canvas.buffer_rgba(), np.uint8).reshape(height, width, 4)[..., :3]
    if close:
        import matplotlib.pyplot as plt

        plt.close(figure)
    return pixels


def _write(folder, name, text):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(text.encode("utf-8"))


def _png(hwc):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(hwc[..., 0] if hwc.shape[2] == 1 else hwc).save(buffer, format="PNG")
    return buffer.getvalue()


class SummaryWriter:
    """Scalars, groups of scalars, histograms, text, images and model graphs, as event
    files in log_dir (default runs/<date>_<host><comment>, as PyTorch names it)."""

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10,
                 flush_secs=120, filename_suffix=""):
        if not log_dir:
            stamp = datetime.datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = log_dir
        self.max_queue, self.flush_secs, self.filename_suffix = \
            max_queue, flush_secs, filename_suffix
        self._writer = EventFileWriter(log_dir, max_queue, flush_secs, filename_suffix)
        self._groups = {}
        self._projector = _ProjectorConfig()
        if purge_step is not None:  # TensorBoard drops what an earlier run wrote from here
            self._writer.add_event(Event(step=purge_step, wall_time=time.time(),
                                         session_log=SessionLog(status=SessionLog.START)))

    def get_logdir(self):
        return self.log_dir

    def _add(self, value, global_step, walltime, writer=None):
        event = Event(summary=Summary(value=[value]),
                      wall_time=time.time() if walltime is None else walltime)
        if global_step is not None:
            event.step = int(global_step)
        (writer or self._writer).add_event(event)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        if new_style or double_precision:
            raise NotImplementedError("add_scalar: new_style and double_precision tensors are "
                                      "not written yet; the classic simple_value is")
        self._add(Summary.Value(tag=tag, simple_value=_number(scalar_value)), global_step,
                  walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Each scalar in a run of its own, log_dir/<main_tag>_<tag>, as PyTorch writes
        them, so TensorBoard draws them on one chart."""
        for tag, value in tag_scalar_dict.items():
            folder = os.path.join(self.log_dir, f"{main_tag.replace('/', '_')}_{tag}")
            writer = self._groups.get(folder)
            if writer is None:
                writer = self._groups[folder] = EventFileWriter(
                    folder, self.max_queue, self.flush_secs, self.filename_suffix)
            self._add(Summary.Value(tag=main_tag, simple_value=_number(value)), global_step,
                      walltime, writer)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins=None):
        """bins: "tensorflow" (its default edges), a number, or a numpy bin rule."""
        values = _array(values)
        if values.size == 0:
            raise ValueError("The histogram is empty, please file a bug report.")
        edges = _tensorflow_bins() if bins == "tensorflow" else bins
        counts, limits = np.histogram(values, bins=edges)
        if max_bins is not None and len(counts) > max_bins:
            raise ValueError(f"add_histogram: {len(counts)} bins, more than max_bins="
                             f"{max_bins}")
        first, last = np.nonzero(counts)[0][[0, -1]] if counts.any() else (0, 0)
        counts, limits = counts[first:last + 1], limits[first + 1:last + 2]
        proto = HistogramProto(min=float(values.min()), max=float(values.max()),
                               num=int(values.size), sum=float(values.sum()),
                               sum_squares=float((values * values).sum()),
                               bucket_limit=limits.tolist(), bucket=counts.astype(float))
        self._add(Summary.Value(tag=tag, histo=proto), global_step, walltime)

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
        tensor = TensorProto(dtype="DT_STRING", string_val=[text_string.encode("utf-8")],
                             tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]))
        self._add(Summary.Value(tag=tag + "/text_summary", metadata=metadata, tensor=tensor),
                  global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        """One image (CHW by default; HWC, HW and the like by `dataformats`), as PNG."""
        hwc = _hwc(img_tensor, dataformats)
        image = Summary.Image(height=hwc.shape[0], width=hwc.shape[1],
                              colorspace=hwc.shape[2], encoded_image_string=_png(hwc))
        self._add(Summary.Value(tag=tag, image=image), global_step, walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None,
                   dataformats="NCHW"):
        """A batch of images, tiled into one grid eight wide."""
        if "N" not in dataformats.upper():
            raise ValueError(f"add_images: dataformats {dataformats!r} has no batch (N)")
        self.add_image(tag, img_tensor, global_step, walltime, dataformats)

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127,
                     weights=None, walltime=None):
        """A precision-recall curve: `predictions` (probabilities in [0, 1]) against the
        0/1 `labels`, at num_thresholds (at most 127) evenly spaced thresholds, as
        TensorBoard's PR-curves tab reads it."""
        thresholds = min(int(num_thresholds), 127)
        curve = _pr_curve(_array(labels), _array(predictions), thresholds,
                          1.0 if weights is None else _array(weights))
        content = PrCurvePluginData(version=0, num_thresholds=thresholds).SerializeToString()
        metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
            plugin_name="pr_curves", content=content))
        tensor = TensorProto(dtype="DT_FLOAT", float_val=curve.reshape(-1).tolist(),
                             tensor_shape=TensorShapeProto(dim=[
                                 TensorShapeProto.Dim(size=n) for n in curve.shape]))
        self._add(Summary.Value(tag=tag, metadata=metadata, tensor=tensor), global_step,
                  walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        """A matplotlib figure (or a list of them, as one grid) rendered to pixels, as an
        image; `close` closes the figures after."""
        figures = figure if isinstance(figure, list) else [figure]
        pixels = np.stack([_rendered(f, close) for f in figures])
        if isinstance(figure, list):
            self.add_images(tag, pixels, global_step, walltime, dataformats="NHWC")
        else:
            self.add_image(tag, pixels[0], global_step, walltime, dataformats="HWC")

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None,
                      tag="default", metadata_header=None):
        """Points for TensorBoard's projector: log_dir/<step>/<tag>/tensors.tsv (one row
        per point), metadata.tsv (a label, or a row under metadata_header, per point),
        sprite.png (label_img, NCHW in [0, 1], tiled in a square), and the run's
        projector_config.pbtxt listing every embedding added so far."""
        from google.protobuf import text_format
        from tensorboard.plugins.projector.projector_config_pb2 import EmbeddingInfo

        mat = np.asarray(mat.detach().cpu().numpy() if hasattr(mat, "detach") else mat)
        if mat.ndim != 2:
            raise ValueError(f"add_embedding: mat must be 2-d (points, features), got shape "
                             f"{mat.shape}")
        step = 0 if global_step is None else int(global_step)
        # the tag as a folder name, as PyTorch's writer names it: %, / and \ escaped
        escaped = "".join(f"%{ord(ch):02x}" if ch in "%/\\" else ch for ch in tag)
        subdir = f"{str(step).zfill(5)}/{escaped}"
        folder = os.path.join(self.log_dir, subdir)
        os.makedirs(folder, exist_ok=True)
        info = EmbeddingInfo(tensor_name=f"{tag}:{str(step).zfill(5)}",
                             tensor_path=f"{subdir}/tensors.tsv")
        if metadata is not None:
            if len(metadata) != mat.shape[0]:
                raise ValueError(f"add_embedding: {len(metadata)} labels for "
                                 f"{mat.shape[0]} points")
            if metadata_header:
                lines = ["\t".join(str(e) for e in row)
                         for row in [metadata_header] + list(metadata)]
            else:
                lines = [str(label) for label in metadata]
            _write(folder, "metadata.tsv", "\n".join(lines) + "\n")
            info.metadata_path = f"{subdir}/metadata.tsv"
        if label_img is not None:
            images = np.asarray(label_img.detach().cpu().numpy()
                                if hasattr(label_img, "detach") else label_img)
            if images.ndim != 4 or images.shape[0] != mat.shape[0]:
                raise ValueError(f"add_embedding: label_img must be (points, C, H, W) with "
                                 f"{mat.shape[0]} points, got shape {images.shape}")
            side = math.ceil(images.shape[0] ** 0.5)
            scaled = np.clip(images.transpose(0, 2, 3, 1).astype(np.float64) * 255, 0, 255)
            grid = _grid(scaled.astype(np.uint8), side)
            square = np.zeros((grid.shape[1], grid.shape[1], 3), np.uint8)
            square[:grid.shape[0]] = grid
            with open(os.path.join(folder, "sprite.png"), "wb") as f:
                f.write(_png(square))
            info.sprite.image_path = f"{subdir}/sprite.png"
            info.sprite.single_image_dim.extend([images.shape[3], images.shape[2]])
        _write(folder, "tensors.tsv", "".join(
            "\t".join(str(v.item()) for v in row) + "\n" for row in mat))
        self._projector.embeddings.extend([info])
        _write(self.log_dir, "projector_config.pbtxt",
               text_format.MessageToString(self._projector))

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """The model's forward graph, traced as engine.compile traces it: one node per
        primitive, named inside the scopes of the modules that ran it, with its output's
        shape; TensorBoard's Graphs tab draws it."""
        from .graph_def import graph_def

        inputs = input_to_model if isinstance(input_to_model, (tuple, list)) \
            else (input_to_model,)
        nodes = graph_def(model, tuple(inputs))
        if verbose:
            for node in nodes:
                print(node)
        graph = GraphDef(node=[NodeDef(name=n["name"], op=n["op"], input=n["inputs"],
                                       attr={"_output_shapes": _shapes_attr(n["shape"]),
                                             "attr": AttrValue(s=n["attrs"].encode())})
                               for n in nodes], versions=VersionDef(producer=22))
        self._writer.add_event(Event(graph_def=graph.SerializeToString(),
                                     wall_time=time.time()))

    def flush(self):
        for writer in (self._writer, *self._groups.values()):
            writer.flush()

    def close(self):
        for writer in (self._writer, *self._groups.values()):
            writer.flush()
            writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _pr_curve(labels, predictions, thresholds, weights):
    """Rows true positives, false positives, true negatives, false negatives, precision
    and recall, one column per threshold: each prediction counted in its threshold's
    bucket, then summed from the top bucket down (a prediction passes every threshold
    below it)."""
    buckets = np.floor(predictions * (thresholds - 1)).astype(np.int32)
    positive = np.histogram(buckets, bins=thresholds, range=(0, thresholds - 1),
                            weights=labels * weights)[0]
    negative = np.histogram(buckets, bins=thresholds, range=(0, thresholds - 1),
                            weights=(1.0 - labels) * weights)[0]
    tp, fp = np.cumsum(positive[::-1])[::-1], np.cumsum(negative[::-1])[::-1]
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(1e-7, tp + fp)
    recall = tp / np.maximum(1e-7, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))


def _shapes_attr(shape):
    dims = [TensorShapeProto.Dim(size=n) for n in shape]
    return AttrValue(list=AttrValue.ListValue(shape=[TensorShapeProto(dim=dims)]))


__all__ = ["SummaryWriter"]
