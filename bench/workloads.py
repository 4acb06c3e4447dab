"""The same work written three times: numbagrad, PyTorch and hand-written NumPy."""
import numpy as np


def mlp_params(seed=0, sizes=(784, 512, 512, 10)):
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32))
        params.append(rng.uniform(-bound, bound, fan_out).astype(np.float32))
    return params


def batch(size, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((size, 784)).astype(np.float32),
            rng.integers(0, 10, size).astype(np.int64))


def framework_mlp_step(m, arrays, x, y, lr=0.01, device="cpu"):
    """An SGD training step for engine or torch (`m`), over parameters made from arrays."""
    params = [m.tensor(a, requires_grad=True, device=device) for a in arrays]
    xs, ys = m.tensor(x, device=device), m.tensor(y, device=device)
    F = m.nn.functional

    optimizer = m.optim.SGD(params, lr=lr)

    def step():
        optimizer.zero_grad()
        h = xs
        for i in range(0, len(params) - 2, 2):
            h = F.relu(F.linear(h, params[i], params[i + 1]))
        loss = F.cross_entropy(F.linear(h, params[-2], params[-1]), ys)
        loss.backward()
        optimizer.step()
        return loss

    return step


def cnn_params(seed=0):
    """Two 3x3 convolutions (1 -> 32 -> 64 channels) and a 1600 -> 10 linear layer."""
    rng = np.random.default_rng(seed)
    params = []
    for shape in [(32, 1, 3, 3), (64, 32, 3, 3), (10, 64 * 5 * 5)]:
        bound = 1 / np.sqrt(np.prod(shape[1:]))
        params.append(rng.uniform(-bound, bound, shape).astype(np.float32))
        params.append(rng.uniform(-bound, bound, shape[0]).astype(np.float32))
    return params


def images(size, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((size, 1, 28, 28)).astype(np.float32),
            rng.integers(0, 10, size).astype(np.int64))


def framework_cnn_step(m, arrays, x, y, lr=0.01):
    """An SGD step of a small MNIST CNN: (conv 3x3, relu, max pool 2) twice, then linear."""
    p = [m.tensor(a, requires_grad=True) for a in arrays]
    xs, ys = m.tensor(x), m.tensor(y)
    F = m.nn.functional
    optimizer = m.optim.SGD(p, lr=lr)

    def step():
        optimizer.zero_grad()
        h = F.max_pool2d(F.relu(F.conv2d(xs, p[0], p[1])), 2)
        h = F.max_pool2d(F.relu(F.conv2d(h, p[2], p[3])), 2)
        loss = F.cross_entropy(F.linear(h.flatten(1), p[4], p[5]), ys)
        loss.backward()
        optimizer.step()
        return loss

    return step


def numpy_mlp_step(arrays, x, y, lr=0.01):
    """The same step by hand in NumPy: forward, backward and update, no autograd."""
    params = [a.copy() for a in arrays]
    onehot = np.eye(10, dtype=np.float32)[y]

    def step():
        acts = [x]
        h = x
        for i in range(0, len(params) - 2, 2):
            h = np.maximum(h @ params[i].T + params[i + 1], 0)
            acts.append(h)
        logits = h @ params[-2].T + params[-1]
        shifted = logits - logits.max(1, keepdims=True)
        p = np.exp(shifted)
        p /= p.sum(1, keepdims=True)
        g = (p - onehot) / len(x)
        for i in range(len(params) - 2, -1, -2):
            a = acts[i // 2]
            gw, gb = g.T @ a, g.sum(0)
            if i:
                g = (g @ params[i]) * (a > 0)
            params[i] -= lr * gw
            params[i + 1] -= lr * gb

    return step


def tiny_graph(m, ops=30):
    """A 30-op scalar-ish graph (elementwise on 16 values), forward and backward."""
    a = m.tensor(np.linspace(0.1, 1.0, 16).astype(np.float32), requires_grad=True)
    b = m.tensor(np.linspace(1.0, 2.0, 16).astype(np.float32), requires_grad=True)

    def step():
        c = a * b
        for i in range(ops // 3 - 1):
            c = (c + a).tanh() * b
        c.sum().backward()
        a.grad = None
        b.grad = None

    return step


def add_backward(m):
    """`c = a + b; c.backward()`: the smallest graph, all overhead."""
    a = m.tensor([1.0], requires_grad=True)
    b = m.tensor([2.0], requires_grad=True)

    def step():
        c = a + b
        c.backward()
        a.grad = None
        b.grad = None

    return step


def chain(m, length=10_000):
    """A 10,000-op chain: the graph walk's cost per node, with almost no arithmetic."""
    x = m.tensor([1.0], requires_grad=True)

    def step():
        y = x
        for _ in range(length):
            y = y * 1.0001
        y.backward()
        x.grad = None

    return step


def gemm(m, n=512, device="cpu"):
    rng = np.random.default_rng(0)
    a = m.tensor(rng.standard_normal((n, n)).astype(np.float32), device=device)
    b = m.tensor(rng.standard_normal((n, n)).astype(np.float32), device=device)
    return lambda: m.matmul(a, b)


def numpy_gemm(n=512):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(np.float32)
    b = rng.standard_normal((n, n)).astype(np.float32)
    return lambda: a @ b


def elementwise(m, n=1 << 23, inplace=False):
    """a + b on 8M float32 values (32 MB each): a pure memory-bandwidth test."""
    a = m.ones(n)
    b = m.ones(n)
    if inplace:
        return lambda: a.add_(b)
    return lambda: a + b


def numpy_elementwise(n=1 << 23, inplace=False):
    a = np.ones(n, np.float32)
    b = np.ones(n, np.float32)
    if inplace:
        return lambda: np.add(a, b, out=a)
    return lambda: a + b


def copy_bandwidth(n=1 << 23):
    """Bytes moved per second by a plain copy: the ceiling for elementwise ops."""
    a = np.ones(n, np.float32)
    b = np.empty_like(a)
    return lambda: np.copyto(b, a)


def adam(m, n=1 << 20):
    """One Adam step over 1M parameters (gradients already in place)."""
    p = m.nn.Parameter(m.ones(n))
    p.grad = m.ones(n) * 0.01
    opt = m.optim.Adam([p], lr=1e-3)
    return opt.step


def numpy_adam(n=1 << 20, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    p = np.ones(n, np.float32)
    g = np.full(n, 0.01, np.float32)
    m_, v = np.zeros_like(p), np.zeros_like(p)
    state = {"t": 0}

    def step():
        state["t"] += 1
        t = state["t"]
        m_[:] = b1 * m_ + (1 - b1) * g
        v[:] = b2 * v + (1 - b2) * g * g
        p[:] -= lr / (1 - b1 ** t) * m_ / (np.sqrt(v / (1 - b2 ** t)) + eps)

    return step


def loader_epoch(m, workers, n=8192, batch=64):
    """One epoch of a DataLoader over an in-memory dataset of 784-float samples."""
    x = m.tensor(np.random.default_rng(0).standard_normal((n, 784)).astype(np.float32))
    y = m.tensor(np.arange(n) % 10)
    if m.__name__ == "torch":
        loader = m.utils.data.DataLoader(m.utils.data.TensorDataset(x, y), batch_size=batch,
                                         num_workers=workers, persistent_workers=workers > 0)
    else:
        import data

        loader = data.DataLoader(data.TensorDataset(x, y), batch_size=batch,
                                 num_workers=workers, persistent_workers=workers > 0)

    def epoch():
        for _ in loader:
            pass

    return epoch
