"""What the 28x28 grayscale datasets share: finding (or downloading) their files, and
samples served from uint8 tensors."""
import os

from ..dataset import Dataset


class GrayscaleImages(Dataset):
    """Subclasses define `download()`, `_check_exists()` and `data_folder`, then fill
    `data` (N, 28, 28 uint8) and `targets` (N int64); samples come out as
    (PIL image, int), then through `transform` and `target_transform`."""

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        self.root, self.train = os.fspath(root), train
        self.transform, self.target_transform = transform, target_transform
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError(f"Dataset not found in {self.data_folder}. You can use "
                               f"download=True to download it")

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        from PIL import Image

        img = Image.fromarray(self.data[index].numpy(), mode="L")
        target = int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target
