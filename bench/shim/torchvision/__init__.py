"""torchvision's datasets as synthetic data of the same shapes (the programs' own code
runs unchanged; only their data is made up)."""
import sys, types
import numpy as np
import engine

D = engine.utils.data
transforms = D.transforms
sys.modules["torchvision.transforms"] = transforms


class _Synthetic(D.Dataset):
    shape, classes, n = (28, 28), 10, 512

    def __init__(self, root=None, train=True, download=False, transform=None,
                 target_transform=None, **kw):
        rng = np.random.default_rng(0 if train else 1)
        self.images = (rng.random((self.n,) + self.shape) * 255).astype(np.uint8)
        self.data = engine.tensor(self.images)
        self.targets = engine.tensor(rng.integers(0, self.classes, self.n))
        self.transform, self.target_transform = transform, target_transform

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        from PIL import Image
        img = Image.fromarray(self.images[i])
        if self.transform:
            img = self.transform(img)
        t = int(self.targets[i].item())
        return img, (self.target_transform(t) if self.target_transform else t)


class MNIST(_Synthetic):
    pass


class FashionMNIST(_Synthetic):
    pass


class CIFAR10(_Synthetic):
    shape = (32, 32, 3)


class FakeData(D.Dataset):
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
        img = Image.fromarray((rng.random((h, w, c)) * 255).astype(np.uint8).squeeze())
        return (self.transform(img) if self.transform else img), int(rng.integers(self.num_classes))


datasets = types.ModuleType("torchvision.datasets")
datasets.MNIST, datasets.FashionMNIST, datasets.CIFAR10, datasets.FakeData = \
    MNIST, FashionMNIST, CIFAR10, FakeData
utils = types.ModuleType("torchvision.utils")
utils.save_image = lambda *a, **k: None
sys.modules["torchvision.datasets"], sys.modules["torchvision.utils"] = datasets, utils
