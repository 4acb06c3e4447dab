"""`data.transforms`: image preprocessing as in torchvision, for PIL images and tensors.

Random transforms draw from the engine's generator, so `engine.manual_seed` (and the
per-worker seeding of DataLoader workers) makes them repeatable.
"""
import numpy as np

import engine
from engine import Tensor


class Compose:
    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self):
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class Lambda:
    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)

    def __repr__(self):
        return f"{type(self).__name__}()"


def _is_pil(x):
    return type(x).__module__.startswith("PIL.")


class ToTensor:
    """HWC uint8 image (PIL or numpy) to a CHW float tensor in [0, 1]."""

    def __call__(self, pic):
        array = np.asarray(pic)
        if array.ndim == 2:
            array = array[:, :, None]
        if array.ndim != 3:
            raise ValueError(f"ToTensor expects an HxW or HxWxC image, got shape {array.shape}")
        t = engine.tensor(np.ascontiguousarray(array.transpose(2, 0, 1)))
        if array.dtype == np.uint8:
            return t.float() / 255
        return t

    def __repr__(self):
        return "ToTensor()"


class Normalize:
    """(x - mean) / std per channel, for CHW tensors."""

    def __init__(self, mean, std, inplace=False):
        self.mean, self.std = tuple(mean), tuple(std)
        if any(s == 0 for s in self.std):
            raise ValueError(f"std evaluated to zero after conversion to {self.std}, leading "
                             f"to division by zero.")

    def __call__(self, t):
        if not isinstance(t, Tensor) or t.dim() < 3:
            raise TypeError(f"Normalize expects a CxHxW tensor, got "
                            f"{tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__}")
        shape = (-1, 1, 1)
        mean = engine.tensor(self.mean, dtype=t.dtype).reshape(shape)
        std = engine.tensor(self.std, dtype=t.dtype).reshape(shape)
        return (t - mean) / std

    def __repr__(self):
        return f"{type(self).__name__}(mean={list(self.mean)}, std={list(self.std)})"


def _size_of(x):
    """(height, width) of a PIL image or a ...HW tensor."""
    if _is_pil(x):
        return x.size[1], x.size[0]
    return x.shape[-2], x.shape[-1]


class Resize:
    """Bilinear resize to (h, w), or the shorter side to `size` keeping the aspect ratio."""

    def __init__(self, size):
        self.size = size

    def _target(self, h, w):
        if isinstance(self.size, int):
            if h <= w:
                return self.size, int(self.size * w / h)
            return int(self.size * h / w), self.size
        return tuple(self.size)

    def __call__(self, img):
        th, tw = self._target(*_size_of(img))
        if _is_pil(img):
            from PIL import Image

            return img.resize((tw, th), Image.BILINEAR)
        return _bilinear(img, th, tw)

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


def _source_coords(out_size, in_size):
    """Half-pixel centres (align_corners=False): lower index, upper index, weight."""
    x = (engine.arange(out_size, dtype=engine.float64) + 0.5) * (in_size / out_size) - 0.5
    x = x.clamp(0, in_size - 1)
    low = x.long()
    high = (low + 1).clamp(max=in_size - 1)
    return low, high, (x - low.double())


def _bilinear(t, th, tw):
    h, w = t.shape[-2], t.shape[-1]
    y0, y1, wy = _source_coords(th, h)
    x0, x1, wx = _source_coords(tw, w)
    wy = wy.to(t.dtype).reshape(-1, 1)
    wx = wx.to(t.dtype)
    top = t[..., y0, :] * (1 - wy) + t[..., y1, :] * wy
    return top[..., x0] * (1 - wx) + top[..., x1] * wx


class CenterCrop:
    """The central (h, w) window, its corner at round((H - h) / 2), round((W - w) / 2) as
    torchvision places it; an image smaller than the window is zero-padded around it
    first (the odd pixel after)."""

    def __init__(self, size):
        self.size = (size, size) if isinstance(size, int) else tuple(size) * (
            2 if len(size) == 1 else 1)

    def __call__(self, img):
        th, tw = self.size
        h, w = _size_of(img)
        pads = (max(tw - w, 0) // 2, max(th - h, 0) // 2, max(tw - w + 1, 0) // 2,
                max(th - h + 1, 0) // 2)  # left, top, right, bottom
        if _is_pil(img):
            if any(pads):
                from PIL import ImageOps

                img = ImageOps.expand(img, pads, fill=0)
                h, w = h + pads[1] + pads[3], w + pads[0] + pads[2]
            top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
            return img.crop((left, top, left + tw, top + th))
        if any(pads):
            padded = engine.zeros((*img.shape[:-2], h + pads[1] + pads[3],
                                   w + pads[0] + pads[2]), dtype=img.dtype)
            padded[..., pads[1]:pads[1] + h, pads[0]:pads[0] + w] = img
            img, h, w = padded, h + pads[1] + pads[3], w + pads[0] + pads[2]
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        return img[..., top:top + th, left:left + tw]

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size})"


class RandomHorizontalFlip:
    def __init__(self, p=0.5):
        self.p = p

    def __call__(self, img):
        if engine.rand(1).item() >= self.p:
            return img
        if _is_pil(img):
            from PIL import Image

            return img.transpose(Image.FLIP_LEFT_RIGHT)
        w = img.shape[-1]
        return img[..., engine.arange(w - 1, -1, -1)]

    def __repr__(self):
        return f"{type(self).__name__}(p={self.p})"


class RandomCrop:
    """A random (h, w) window, after optional zero padding on every side."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding, self.pad_if_needed, self.fill = padding or 0, pad_if_needed, fill

    def __call__(self, img):
        pil = _is_pil(img)
        t = ToTensor()(img) if pil else img
        if pil and np.asarray(img).dtype == np.uint8:
            t = (t * 255).round()
        th, tw = self.size
        pad = self.padding
        if self.pad_if_needed:
            pad = max(pad, th - t.shape[-2], tw - t.shape[-1], 0)
        if pad:
            padded = engine.full((*t.shape[:-2], t.shape[-2] + 2 * pad, t.shape[-1] + 2 * pad),
                                 float(self.fill), dtype=t.dtype)
            padded[..., pad:pad + t.shape[-2], pad:pad + t.shape[-1]] = t
            t = padded
        h, w = t.shape[-2], t.shape[-1]
        if h < th or w < tw:
            raise ValueError(f"Required crop size {(th, tw)} is larger than input image size "
                             f"{(h, w)}")
        top = int(engine.randint(0, h - th + 1, (1,)).item())
        left = int(engine.randint(0, w - tw + 1, (1,)).item())
        out = t[..., top:top + th, left:left + tw]
        if pil:
            from PIL import Image

            array = out.numpy().astype(np.uint8).transpose(1, 2, 0)
            return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)
        return out

    def __repr__(self):
        return f"{type(self).__name__}(size={self.size}, padding={self.padding or None})"
