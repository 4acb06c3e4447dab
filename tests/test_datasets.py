"""Dataset downloads against a local HTTP server on 127.0.0.1 serving files the tests
make: mirrors tried in turn, truncated transfers resumed, corrupt files refused."""
import gzip
import hashlib
import http.server
import io
import os
import socket
import tarfile
import threading

import numpy as np
import pytest
from PIL import Image

import data
import engine
from data.datasets import KMNIST, FashionMNIST, ImageFolder, NotMNIST

IMAGES = np.random.default_rng(0).integers(0, 256, (12, 28, 28), dtype=np.uint8)
LABELS = np.arange(12, dtype=np.uint8) % 10


def idx_bytes(array):
    codes = {np.uint8: 0x08}
    header = bytes([0, 0, codes[array.dtype.type], array.ndim])
    header += b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.tobytes())


class Server:
    """Serves `files` (path -> bytes), honours Range, and can misbehave per path."""

    def __init__(self):
        self.files, self.truncate_once, self.requests = {}, set(), []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if self.headers.get("Range"):
                    start = int(self.headers["Range"].split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                chunk = body[start:]
                if self.path in server.truncate_once:  # drop the connection half-way
                    server.truncate_once.discard(self.path)
                    chunk = chunk[:len(chunk) // 2]
                self.wfile.write(chunk)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def _dead_url():
    """A loopback address where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/"


def _publish_mnist(server, cls, monkeypatch, corrupt=None):
    payloads = {"train-images-idx3-ubyte.gz": idx_bytes(IMAGES),
                "train-labels-idx1-ubyte.gz": idx_bytes(LABELS),
                "t10k-images-idx3-ubyte.gz": idx_bytes(IMAGES[:4]),
                "t10k-labels-idx1-ubyte.gz": idx_bytes(LABELS[:4])}
    resources = [(name, hashlib.md5(body).hexdigest()) for name, body in payloads.items()]
    for name, body in payloads.items():
        server.files[f"/{cls.__name__}/{name}"] = b"garbage" + body if name == corrupt else body
    monkeypatch.setattr(cls, "mirrors", [_dead_url(), f"{server.url}/{cls.__name__}/"])
    monkeypatch.setattr(cls, "resources", resources)


@pytest.mark.parametrize("cls", [FashionMNIST, KMNIST])
def test_download_verify_extract_and_load(server, cls, tmp_path, monkeypatch, capsys):
    _publish_mnist(server, cls, monkeypatch)
    server.truncate_once.add(f"/{cls.__name__}/train-images-idx3-ubyte.gz")
    train = cls(tmp_path, train=True, download=True)
    assert len(train) == 12
    img, label = train[3]
    assert np.asarray(img).tolist() == IMAGES[3].tolist() and label == int(LABELS[3])
    resumed = [r for p, r in server.requests if p.endswith("train-images-idx3-ubyte.gz") and r]
    assert resumed, "the truncated transfer should have been resumed with a Range request"
    assert "100.0%" in capsys.readouterr().err
    assert not [f for f in os.listdir(train.raw_folder) if f.endswith(".part")]
    test = cls(tmp_path, train=False, transform=data.transforms.ToTensor())
    x, y = test[1]
    assert tuple(x.shape) == (1, 28, 28) and x.dtype is engine.float32 and y == 1
    loader = data.DataLoader(test, batch_size=4)
    images, labels = next(iter(loader))
    assert tuple(images.shape) == (4, 1, 28, 28) and labels.tolist() == [0, 1, 2, 3]
    requests_before = len(server.requests)
    cls(tmp_path, download=True)  # already there and verified: nothing fetched
    assert len(server.requests) == requests_before


def test_corrupt_download_is_refused_and_never_left_in_place(server, tmp_path, monkeypatch):
    _publish_mnist(server, FashionMNIST, monkeypatch, corrupt="train-labels-idx1-ubyte.gz")
    with pytest.raises(RuntimeError, match="checksum mismatch"):
        FashionMNIST(tmp_path, download=True)
    raw = os.path.join(tmp_path, "FashionMNIST", "raw")
    assert not os.path.exists(os.path.join(raw, "train-labels-idx1-ubyte.gz"))
    assert not os.path.exists(os.path.join(raw, "train-labels-idx1-ubyte"))


def test_missing_dataset_without_download(tmp_path):
    with pytest.raises(RuntimeError, match="Dataset not found .* download=True"):
        FashionMNIST(tmp_path)


def _png(value):
    buffer = io.BytesIO()
    Image.fromarray(np.full((28, 28), value, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _notmnist_archive(per_letter=20):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for label, letter in enumerate("ABCDEFGHIJ"):
            for i in range(per_letter):
                body = _png(label * 20 + i) if (letter, i) != ("C", 7) else b"not a png"
                info = tarfile.TarInfo(f"notMNIST_small/{letter}/img{i:03d}.png")
                info.size = len(body)
                tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def test_notmnist_download_and_load(server, tmp_path, monkeypatch):
    archive = _notmnist_archive()
    server.files["/notmnist/notMNIST_small.tar.gz"] = archive
    server.truncate_once.add("/notmnist/notMNIST_small.tar.gz")
    monkeypatch.setattr(NotMNIST, "mirrors", [f"{server.url}/notmnist/"])
    monkeypatch.setattr(NotMNIST, "archive", ("notMNIST_small.tar.gz", None, len(archive)))
    train = NotMNIST(tmp_path, train=True, download=True)
    test = NotMNIST(tmp_path, train=False)
    assert len(test) == 10 * 2 and len(train) == 10 * 18 - 1  # one broken PNG skipped
    img, label = test[4]
    assert label == 2 and np.asarray(img)[0, 0] == 2 * 20 + 0
    assert sorted(set(train.targets.tolist())) == list(range(10))


def test_notmnist_wrong_size_is_refused(server, tmp_path, monkeypatch):
    archive = _notmnist_archive(2)
    server.files["/notmnist/notMNIST_small.tar.gz"] = archive
    monkeypatch.setattr(NotMNIST, "mirrors", [f"{server.url}/notmnist/"])
    monkeypatch.setattr(NotMNIST, "archive", ("notMNIST_small.tar.gz", None, len(archive) + 5))
    with pytest.raises(RuntimeError, match="could not download"):
        NotMNIST(tmp_path, download=True)
    assert not os.path.exists(os.path.join(tmp_path, "NotMNIST", "raw",
                                           "notMNIST_small.tar.gz"))


def test_archive_members_outside_the_folder_are_refused(tmp_path):
    from data.datasets.notmnist import safe_extract

    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(RuntimeError, match="outside"):
        safe_extract(str(path), str(tmp_path / "out"))
    assert not (tmp_path / "escaped.txt").exists()


def test_image_folder(tmp_path):
    for cls, values in (("cat", [10, 20]), ("dog", [30])):
        os.makedirs(tmp_path / cls)
        for i, v in enumerate(values):
            (tmp_path / cls / f"{i}.png").write_bytes(_png(v))
    (tmp_path / "dog" / "notes.txt").write_text("ignored")
    ds = ImageFolder(tmp_path, transform=data.transforms.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 3 and ds.targets == [0, 0, 1]
    x, y = ds[2]
    assert y == 1 and abs(x[0, 0, 0].item() - 30 / 255) < 1e-6
