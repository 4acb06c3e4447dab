"""`torch.utils.tensorboard`: SummaryWriter, writing TensorBoard's event files through the
tensorboard package's own writer and message types, so TensorBoard reads them as it
reads PyTorch's. Tensors are accepted wherever PyTorch's writer takes them.
"""
import datetime
import os
import socket
import time

import numpy as np

try:
    from tensorboard.compat.proto.event_pb2 import Event, SessionLog
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


class SummaryWriter:
    """Scalars, groups of scalars, histograms and text, as event files in log_dir
    (default runs/<date>_<host><comment>, as PyTorch names it)."""

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


__all__ = ["SummaryWriter"]
