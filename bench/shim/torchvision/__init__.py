"""torchvision for bench/public_programs.py: its datasets as synthetic data of the real
shapes (a program's own code runs unchanged; only its data is made up), its transforms
as numbagrad's, and `utils.save_image` writing nothing."""
import sys
import types

import numpy as np

import engine

transforms = engine.utils.data.transforms
sys.modules["torchvision.transforms"] = transforms
_Dataset = engine.utils.data.Dataset


class _Synthetic(_Dataset):
    """Random images (PIL, as torchvision's) with random labels, train and test apart."""

    shape, classes, size = (28, 28), 10, 512

    def __init__(self, root=None, train=True, download=False, transform=None,
                 target_transform=None, **options):
        rng = np.random.default_rng(0 if train else 1)
        self.images = (rng.random((self.size,) + self.shape) * 255).astype(np.uint8)
        self.data = engine.tensor(self.images)
        self.targets = engine.tensor(rng.integers(0, self.classes, self.size))
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        from PIL import Image

        image = Image.fromarray(self.images[i])
        target = int(self.targets[i].item())
        if self.transform:
            image = self.transform(image)
        return image, self.target_transform(target) if self.target_transform else target


class MNIST(_Synthetic):
    pass


class FashionMNIST(_Synthetic):
    pass


class CIFAR10(_Synthetic):
    shape = (32, 32, 3)


class FakeData(_Dataset):
    """torchvision's own random dataset: an image and a label per index."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        self.size, self.image_size, self.num_classes = size, image_size, num_classes
        self.transform = transform

    def __len__(self):
        return self.size

    def __getitem__(self, i):
        from PIL import Image

        rng = np.random.default_rng(i)
        c, h, w = self.image_size
        image = Image.fromarray((rng.random((h, w, c)) * 255).astype(np.uint8).squeeze())
        label = int(rng.integers(self.num_classes))
        return (self.transform(image) if self.transform else image), label


datasets = types.ModuleType("torchvision.datasets")
datasets.MNIST, datasets.FashionMNIST, datasets.CIFAR10, datasets.FakeData = \
    MNIST, FashionMNIST, CIFAR10, FakeData
utils = types.ModuleType("torchvision.utils")
utils.save_image = lambda *args, **kwargs: None
sys.modules["torchvision.datasets"], sys.modules["torchvision.utils"] = datasets, utils
