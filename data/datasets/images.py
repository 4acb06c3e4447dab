"""What the 28x28 grayscale datasets share: samples served from uint8 tensors."""
from ..dataset import Dataset


class GrayscaleImages(Dataset):
    """Subclasses fill `data` (N, 28, 28 uint8) and `targets` (N int64); samples come
    out as (PIL image, int), then through `transform` and `target_transform`."""

    transform = target_transform = None

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
