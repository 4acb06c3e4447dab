"""NotMNIST: 28x28 grayscale renderings of the letters A-J in many fonts.

The archive (`notMNIST_small.tar.gz`, a folder of PNGs per letter) has no published
checksum; the size the original course checked it against (8,458,043 bytes) is what
`download` verifies. A few files in the real archive are unreadable; they are skipped.
`train=False` takes every tenth image of each letter (sorted by name), `train=True` the
rest, so the split is the same everywhere.
"""
import os
import shutil
import tarfile
import tempfile

import numpy as np

import engine

from .images import GrayscaleImages
from .download import check_integrity, download_url


# The real archive unpacks to about 40 MB: anything claiming far more is refused.
MAX_UNPACKED = 1 << 29
COMPLETE = ".complete"  # written last into an extracted folder: it is whole


def safe_extract(archive, folder, limit=MAX_UNPACKED):
    """Extract a tar archive, refusing members that would land outside `folder`, that
    are not plain files or folders, or that add up to more than `limit` bytes."""
    root = os.path.realpath(folder)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        total = sum(m.size for m in members)
        if total > limit:
            raise RuntimeError(f"{archive}: its members add up to {total} bytes, more than "
                               f"the {limit} expected")
        for member in members:
            target = os.path.realpath(os.path.join(folder, member.name))
            if not (target == root or target.startswith(root + os.sep)):
                raise RuntimeError(f"{archive}: member {member.name!r} would be extracted "
                                   f"outside {folder}")
            if not (member.isfile() or member.isdir()):
                raise RuntimeError(f"{archive}: member {member.name!r} is not a plain file")
        tar.extractall(folder)


def extract_whole(archive, folder, limit=MAX_UNPACKED):
    """Extract `archive`'s top folder as `folder`, all or nothing: into a temporary
    folder beside it, marked complete, then renamed into place. A process killed
    half-way leaves only the temporary folder, never a partial dataset."""
    parent = os.path.dirname(folder)
    os.makedirs(parent, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix=".extract-", dir=parent)
    try:
        safe_extract(archive, scratch, limit)
        extracted = os.path.join(scratch, os.path.basename(folder))
        if not os.path.isdir(extracted):
            raise RuntimeError(f"{archive} has no top folder {os.path.basename(folder)!r}")
        open(os.path.join(extracted, COMPLETE), "w").close()
        if os.path.exists(folder):  # a partial extraction left by an earlier version
            shutil.rmtree(folder)
        os.rename(extracted, folder)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class NotMNIST(GrayscaleImages):
    mirrors = ["http://yaroslavvb.com/upload/notMNIST/"]
    archive = ("notMNIST_small.tar.gz", None, 8458043)  # (name, md5, size in bytes)
    classes = list("ABCDEFGHIJ")

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, train, transform, target_transform, download)
        images, targets = [], []
        for label, letter in enumerate(self.classes):
            names = sorted(os.listdir(os.path.join(self.image_folder, letter)))
            chosen = [n for i, n in enumerate(names) if (i % 10 == 0) != train]
            for name in chosen:
                pixels = self._read(os.path.join(self.image_folder, letter, name))
                if pixels is not None:
                    images.append(pixels)
                    targets.append(label)
        self.data = engine.from_numpy(np.stack(images) if images
                                      else np.zeros((0, 28, 28), np.uint8))
        self.targets = engine.tensor(targets, dtype=engine.int64)

    @property
    def raw_folder(self):
        return os.path.join(self.root, type(self).__name__, "raw")

    @property
    def image_folder(self):
        return os.path.join(self.root, type(self).__name__, self.archive[0].split(".")[0])

    data_folder = image_folder

    def _complete(self):
        return os.path.isfile(os.path.join(self.image_folder, COMPLETE))

    def _check_exists(self):
        if self._complete():
            return True
        if os.path.isdir(self.image_folder):
            raise RuntimeError(f"{self.image_folder} has no {COMPLETE} marker, so it may be "
                               f"an interrupted extraction: use download=True to extract it "
                               f"again, or create the empty file {COMPLETE} there if you "
                               f"extracted the archive yourself")
        return False

    @staticmethod
    def _read(path):
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as img:
                return np.asarray(img.convert("L"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError, SyntaxError):
            return None  # the real archive holds a few broken files

    def download(self):
        if self._complete():
            return
        name, md5, size = self.archive
        path = download_url([m + name for m in self.mirrors], self.raw_folder, name, md5, size)
        if not check_integrity(path, md5, size):
            raise RuntimeError(f"{path} failed verification")
        extract_whole(path, self.image_folder)

