"""Start-up: seconds from a fresh process to the end of its first MLP training step."""
import sys
import time

start = time.perf_counter()
framework = sys.argv[1]
if framework == "torch":
    import torch as m
else:
    import engine as m
import numpy as np  # noqa: E402

model = m.nn.Sequential(m.nn.Linear(784, 512), m.nn.ReLU(), m.nn.Linear(512, 512),
                        m.nn.ReLU(), m.nn.Linear(512, 10))
opt = m.optim.SGD(model.parameters(), lr=0.01)
x = m.tensor(np.random.default_rng(0).standard_normal((64, 784)).astype(np.float32))
y = m.tensor(np.arange(64) % 10)
loss = m.nn.functional.cross_entropy(model(x), y)
loss.backward()
opt.step()
print(time.perf_counter() - start)
