"""data.transforms: conversions checked by hand and against torch's interpolate."""
import numpy as np
import pytest
from PIL import Image

import engine
from data import transforms as T
from conftest import assert_close, needs_torch, torch

IMG = np.random.default_rng(0).integers(0, 256, (6, 8, 3), dtype=np.uint8)


def test_to_tensor_and_normalize():
    t = T.ToTensor()(IMG)
    assert tuple(t.shape) == (3, 6, 8) and t.dtype is engine.float32
    assert_close(t, IMG.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    gray = T.ToTensor()(Image.fromarray(IMG[:, :, 0]))
    assert tuple(gray.shape) == (1, 6, 8)
    n = T.Normalize((0.5, 0.25, 0.0), (0.5, 0.5, 2.0))(t)
    expected = (IMG.transpose(2, 0, 1) / 255.0 - np.array([0.5, 0.25, 0.0])[:, None, None]) \
        / np.array([0.5, 0.5, 2.0])[:, None, None]
    assert_close(n, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.0,), (0.0,))


def test_compose_and_lambda():
    pipeline = T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2)])
    assert_close(pipeline(IMG), IMG.transpose(2, 0, 1) / 255.0 * 2, rtol=1e-6)
    assert "ToTensor()" in repr(pipeline)


@needs_torch
@pytest.mark.parametrize("size", [(3, 4), (12, 5), 4])
def test_resize_tensor_matches_torch_bilinear(size):
    t = T.ToTensor()(IMG)
    ours = T.Resize(size)(t)
    target = size if isinstance(size, tuple) else (4, int(4 * 8 / 6))
    theirs = torch.nn.functional.interpolate(torch.tensor(t.numpy())[None], size=target,
                                             mode="bilinear", align_corners=False,
                                             antialias=False)[0]
    assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


def test_resize_pil_keeps_the_aspect_ratio():
    assert T.Resize(3)(Image.fromarray(IMG)).size == (4, 3)


def test_random_flip_and_crop_are_seeded():
    t = T.ToTensor()(IMG)
    flipped = T.RandomHorizontalFlip(p=1.0)(t)
    assert_close(flipped, t.numpy()[:, :, ::-1])
    assert T.RandomHorizontalFlip(p=0.0)(t) is t
    crop = T.RandomCrop(4, padding=2)
    engine.manual_seed(11)
    a = [crop(t).numpy().copy() for _ in range(5)]
    engine.manual_seed(11)
    b = [crop(t).numpy().copy() for _ in range(5)]
    assert all((x == y).all() for x, y in zip(a, b))
    assert all(x.shape == (3, 4, 4) for x in a)
    padded_corner = T.RandomCrop((10, 12), padding=2)(t)
    assert tuple(padded_corner.shape) == (3, 10, 12) and padded_corner[:, 0, 0].tolist() == [0] * 3
    pil = T.RandomCrop(5)(Image.fromarray(IMG))
    assert pil.size == (5, 5)
    with pytest.raises(ValueError, match="larger than input image size"):
        T.RandomCrop(20)(t)


@pytest.mark.parametrize("size, crop, corner", [((5, 7), 3, (1, 2)), ((6, 6), (4, 2), (1, 2)),
                                                ((4, 5), 4, (0, 0)), ((4, 4), (3, 3), (0, 0))])
def test_center_crop_takes_torchvisions_window(size, crop, corner):
    """torchvision's corner: round((H - h) / 2), round((W - w) / 2) (Python rounds half to
    even: 0.5 -> 0, 1.5 -> 2)."""
    from PIL import Image

    h, w = size
    values = np.arange(h * w, dtype=np.uint8).reshape(h, w)
    transform = T.CenterCrop(crop)
    th, tw = (crop, crop) if isinstance(crop, int) else crop
    want = values[corner[0]:corner[0] + th, corner[1]:corner[1] + tw]
    got = transform(engine.tensor(values.astype(np.float32))[None])
    np.testing.assert_array_equal(got.numpy()[0], want)
    np.testing.assert_array_equal(np.asarray(transform(Image.fromarray(values))), want)
    assert repr(transform) == f"CenterCrop(size={(th, tw)})"


def test_center_crop_pads_a_smaller_image_with_zeros():
    from PIL import Image

    values = np.arange(1, 7, dtype=np.uint8).reshape(2, 3)
    want = np.zeros((4, 5), np.uint8)
    want[1:3, 1:4] = values  # (4 - 2) // 2 rows above, (5 - 3) // 2 columns left
    got = T.CenterCrop((4, 5))(engine.tensor(values.astype(np.float32))[None])
    np.testing.assert_array_equal(got.numpy()[0], want)
    np.testing.assert_array_equal(
        np.asarray(T.CenterCrop((4, 5))(Image.fromarray(values))), want)
