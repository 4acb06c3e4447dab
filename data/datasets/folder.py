"""ImageFolder: one sub-folder per class, images inside (torchvision's layout)."""
import os

from ..dataset import Dataset

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path):
    from PIL import Image

    with open(path, "rb") as f:
        img = Image.open(f)
        img.load()
    return img


def _files(folder):
    """Every file below `folder` in torchvision's order (folders sorted, then the files
    in each), following symbolic links as torchvision does but entering each real
    folder once: a link back up the tree is an endless walk otherwise."""
    seen, walked = set(), []
    for dirpath, dirnames, files in os.walk(folder, followlinks=True):
        info = os.stat(dirpath)
        if (info.st_dev, info.st_ino) in seen:
            dirnames.clear()
            continue
        seen.add((info.st_dev, info.st_ino))
        walked.append((dirpath, sorted(files)))
    return [os.path.join(dirpath, f) for dirpath, files in sorted(walked) for f in files]


class ImageFolder(Dataset):
    """Samples are (image, class index); classes are the sorted sub-folder names."""

    def __init__(self, root, transform=None, target_transform=None, loader=pil_loader,
                 is_valid_file=None):
        self.root = os.fspath(root)
        self.transform, self.target_transform, self.loader = transform, target_transform, loader
        self.classes = sorted(e.name for e in os.scandir(self.root) if e.is_dir())
        if not self.classes:
            raise FileNotFoundError(f"Couldn't find any class folder in {self.root}.")
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}
        valid = is_valid_file or (lambda p: p.lower().endswith(IMG_EXTENSIONS))
        self.samples = []
        for name in self.classes:
            for path in _files(os.path.join(self.root, name)):
                if valid(path):
                    self.samples.append((path, self.class_to_idx[name]))
        self.targets = [t for _, t in self.samples]
        self.imgs = self.samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target
