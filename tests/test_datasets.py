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
import time

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
        self.misbehave = {}  # path -> one of HOSTILE's names
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.path, self.headers.get("Range")))
                if self.path in server.misbehave:
                    try:
                        HOSTILE[server.misbehave[self.path]](self)
                    except OSError:  # the client gave up on us, as it should
                        pass
                    return
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


def _cut_mid_chunk(handler):
    handler.send_response(200)
    handler.send_header("Transfer-Encoding", "chunked")
    handler.end_headers()
    handler.wfile.write(b"400\r\n" + b"x" * 100)  # announces 1024 bytes, sends 100
    handler.close_connection = True


def _bad_length(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "12abc")
    handler.end_headers()
    handler.wfile.write(b"x" * 12)


def _drip(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    for _ in range(1000):
        handler.wfile.write(b"x")
        handler.wfile.flush()
        time.sleep(0.2)


def _endless(handler):
    handler.send_response(200)
    handler.end_headers()
    block = b"x" * 65536
    for _ in range(10 ** 5):  # 6.5 GB at most, far past any cap; stops when refused
        handler.wfile.write(block)


def _oversized(handler):
    handler.send_response(200)
    handler.send_header("Content-Length", str(10 ** 12))
    handler.end_headers()


HOSTILE = {"cut mid-chunk": _cut_mid_chunk, "bad length": _bad_length, "drip": _drip,
           "endless": _endless, "oversized": _oversized}


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


# ---- servers that misbehave, archives that explode ----------------------------------

@pytest.mark.parametrize("behaviour", sorted(HOSTILE))
def test_a_misbehaving_mirror_fails_alone_and_the_next_one_serves(server, tmp_path,
                                                                  behaviour):
    from data.datasets.download import download_url

    body = b"the real file" * 100
    server.files["/good/f.bin"] = body
    server.misbehave["/bad/f.bin"] = behaviour
    start = time.monotonic()
    path = download_url([f"{server.url}/bad/f.bin", f"{server.url}/good/f.bin"], tmp_path,
                        "f.bin", md5=hashlib.md5(body).hexdigest(), timeout=1, deadline=2,
                        max_bytes=1 << 20)
    assert open(path, "rb").read() == body
    assert time.monotonic() - start < 5
    assert [p for p, _ in server.requests] == ["/bad/f.bin", "/good/f.bin"]


def test_the_deadline_and_the_cap_bound_every_download(server, tmp_path):
    from data.datasets.download import download_url

    server.misbehave["/drip"] = "drip"  # a byte every 0.2 s, never a 1 s silence
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="deadline passed"):
        download_url([f"{server.url}/drip"], tmp_path, "f", timeout=1, deadline=1,
                     attempts=2)
    assert time.monotonic() - start < 4
    server.misbehave["/endless"] = "endless"
    with pytest.raises(RuntimeError, match="past the 1000000 bytes"):
        download_url([f"{server.url}/endless"], tmp_path, "g", max_bytes=10 ** 6)
    assert [p for p, _ in server.requests].count("/endless") == 1  # not read again
    assert not os.path.exists(tmp_path / "g.part")


def test_a_broken_transfer_tries_the_other_mirrors_before_the_same_one(server, tmp_path):
    from data.datasets.download import download_url

    body = b"y" * 5000
    server.files["/a/f"] = server.files["/b/f"] = body
    server.truncate_once.update({"/a/f", "/b/f"})
    download_url([f"{server.url}/a/f", f"{server.url}/b/f"], tmp_path, "f",
                 md5=hashlib.md5(body).hexdigest())
    # a resumes only its own bytes: b starts afresh, and so does a after b broke off
    assert [(p, r is not None) for p, r in server.requests] == [
        ("/a/f", False), ("/b/f", False), ("/a/f", False)]


def test_a_gzip_bomb_is_refused_while_unpacking(tmp_path):
    from data.datasets import mnist

    bomb = tmp_path / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip.compress(bytes(5 << 20)))
    with pytest.raises(RuntimeError, match="unpacks to more than 1048576 bytes"):
        mnist._gunzip(str(bomb), limit=1 << 20)
    assert sorted(os.listdir(tmp_path)) == ["train-images-idx3-ubyte.gz"]


def test_a_tar_bomb_is_refused_before_extraction(tmp_path):
    from data.datasets.notmnist import safe_extract

    path = tmp_path / "bomb.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo("notMNIST_small/A/big.png")
        info.size = 4 << 20
        tar.addfile(info, io.BytesIO(bytes(4 << 20)))
    with pytest.raises(RuntimeError, match="more than the 1048576 expected"):
        safe_extract(str(path), str(tmp_path / "out"), limit=1 << 20)
    assert not (tmp_path / "out").exists()


def test_notmnist_extraction_is_all_or_nothing(server, tmp_path, monkeypatch):
    """A half-extracted folder (an interrupted run) is never loaded as the dataset:
    it has no completion marker, and download=True extracts again."""
    archive = _notmnist_archive(3)
    server.files["/notmnist/notMNIST_small.tar.gz"] = archive
    monkeypatch.setattr(NotMNIST, "mirrors", [f"{server.url}/notmnist/"])
    monkeypatch.setattr(NotMNIST, "archive", ("notMNIST_small.tar.gz", None, len(archive)))
    partial = tmp_path / "NotMNIST" / "notMNIST_small" / "A"
    partial.mkdir(parents=True)
    (partial / "img000.png").write_bytes(_png(1))
    with pytest.raises(RuntimeError, match="no .complete marker, so it may be an "
                                           "interrupted extraction"):
        NotMNIST(tmp_path)
    full = NotMNIST(tmp_path, train=True, download=True)
    assert len(full) == 10 * 2 and sorted(set(full.targets.tolist())) == list(range(10))
    leftovers = [n for n in os.listdir(tmp_path / "NotMNIST") if n.startswith(".extract")]
    assert leftovers == []

    from data.datasets import notmnist

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if the process died half-way through extracting

    monkeypatch.setattr(notmnist.tarfile.TarFile, "extractall", killed)
    os.remove(tmp_path / "NotMNIST" / "notMNIST_small" / notmnist.COMPLETE)
    with pytest.raises(KeyboardInterrupt):
        NotMNIST(tmp_path, download=True)
    with pytest.raises(RuntimeError, match="interrupted extraction"):
        NotMNIST(tmp_path)


def test_image_folder_survives_symlink_loops(tmp_path):
    for cls in ("cat", "dog"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            (tmp_path / cls / f"{i}.png").write_bytes(_png(i))
    (tmp_path / "cat" / "loop").symlink_to(tmp_path / "cat")
    (tmp_path / "dog" / "up").symlink_to(tmp_path)
    ds = ImageFolder(tmp_path)
    assert len(ds) <= 2 + 2 + 4 and ds.targets.count(0) == 2
    assert [os.path.basename(p) for p, _ in ds.samples[:2]] == ["0.png", "1.png"]
