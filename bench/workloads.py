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


def framework_mlp_step(m, arrays, x, y, lr=0.01):
    """An SGD training step for engine or torch (`m`), over parameters made from arrays."""
    params = [m.tensor(a, requires_grad=True) for a in arrays]
    xs, ys = m.tensor(x), m.tensor(y)
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
