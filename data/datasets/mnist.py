"""MNIST, FashionMNIST and KMNIST: 28x28 grayscale digits, clothes and kana in IDX files.

The folder layout is torchvision's (`root/<ClassName>/raw/`), so an existing
torchvision download is found and used as it is.
"""
import gzip
import os

import numpy as np

import engine

from .images import GrayscaleImages
from .download import check_integrity, download_url

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
              0x0E: ">f8"}


# No IDX file of these datasets unpacks to more (MNIST's largest is 47 MB): a gzip
# member that does is refused rather than inflated without bound.
MAX_UNPACKED = 1 << 28


def read_idx(path):
    """An IDX file (optionally gzipped) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read(MAX_UNPACKED + 1)
    if len(raw) > MAX_UNPACKED:
        raise RuntimeError(f"{path} unpacks to more than {MAX_UNPACKED} bytes")
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise RuntimeError(f"{path} is not an IDX file (bad magic {raw[:4]!r})")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    start = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - start != expected:
        raise RuntimeError(f"{path} holds {len(raw) - start} bytes of data; shape {shape} "
                           f"needs {expected}")
    return np.frombuffer(raw, dtype, offset=start).reshape(shape).astype(dtype.newbyteorder("="))


class MNIST(GrayscaleImages):
    """Images as PIL images (or what `transform` makes of them), targets as ints."""

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, train, transform, target_transform, download)
        prefix = "train" if train else "t10k"
        self.data = engine.from_numpy(read_idx(self._file(f"{prefix}-images-idx3-ubyte")))
        self.targets = engine.from_numpy(read_idx(self._file(f"{prefix}-labels-idx1-ubyte"))
                                         .astype(np.int64))
        if len(self.data) != len(self.targets):
            raise RuntimeError(f"{self.raw_folder}: {len(self.data)} images but "
                               f"{len(self.targets)} labels")

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    data_folder = raw_folder

    def _file(self, stem):
        for name in (stem, stem + ".gz"):
            path = os.path.join(self.raw_folder, name)
            if os.path.exists(path):
                return path
        raise RuntimeError(f"{stem} is missing from {self.raw_folder}")

    def _check_exists(self):
        return all(os.path.exists(os.path.join(self.raw_folder, name)) or
                   os.path.exists(os.path.join(self.raw_folder, name[:-3]))
                   for name, _ in self.resources)

    def download(self):
        """Fetch, verify and unpack whatever is missing from `raw_folder`."""
        for filename, md5 in self.resources:
            if check_integrity(os.path.join(self.raw_folder, filename[:-3])):
                continue
            path = download_url([m + filename for m in self.mirrors], self.raw_folder,
                                filename, md5)
            _gunzip(path)


    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"

    def __repr__(self):
        lines = [f"Number of datapoints: {len(self)}", f"Root location: {self.root}",
                 self.extra_repr()]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform}")
        return f"Dataset {type(self).__name__}\n" + "\n".join("    " + ln for ln in lines)


def _gunzip(path, limit=MAX_UNPACKED):
    """Unpack `x.gz` to `x` atomically (write a temporary file, then rename), refusing
    to write more than `limit` bytes."""
    target = path[:-3]
    written = 0
    try:
        with gzip.open(path, "rb") as src, open(target + ".tmp", "wb") as dst:
            while block := src.read(1 << 20):
                written += len(block)
                if written > limit:
                    raise RuntimeError(f"{path} unpacks to more than {limit} bytes")
                dst.write(block)
    except BaseException:
        if os.path.exists(target + ".tmp"):
            os.remove(target + ".tmp")
        raise
    os.replace(target + ".tmp", target)


class FashionMNIST(MNIST):
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
