"""nn against PyTorch: module registration and traversal, repr, state dicts, layers,
losses and init. Models are built once for both frameworks with the same code."""
import numpy as np
import pytest

import engine
from conftest import assert_close, needs_torch, torch

pytestmark = needs_torch


def copy_weights(ours, theirs):
    """Give an engine module the torch module's parameters and buffers."""
    ours.load_state_dict({k: engine.tensor(v.detach().numpy())
                          for k, v in theirs.state_dict().items()})


def tutorial_network(m):
    nn = m.nn

    class NeuralNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = nn.Flatten()
            self.linear_relu_stack = nn.Sequential(
                nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                nn.Linear(512, 10))

        def forward(self, x):
            return self.linear_relu_stack(self.flatten(x))

    return NeuralNetwork()


def every_layer_model(m):
    nn = m.nn

    class Everything(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(10, 4, padding_idx=0)
            self.body = nn.Sequential(
                nn.Linear(4, 6), nn.LayerNorm(6), nn.ReLU(), nn.Dropout(0.1),
                nn.Linear(6, 6, bias=False), nn.BatchNorm1d(6), nn.LeakyReLU(0.2), nn.ELU(),
                nn.GELU(), nn.SiLU(), nn.Tanh(), nn.Sigmoid(), nn.Softplus(), nn.Identity())
            self.heads = nn.ModuleList([nn.Linear(6, 3), nn.Linear(6, 3)])
            self.pair = nn.Bilinear(3, 3, 2)
            self.outputs = nn.ModuleDict({"prob": nn.Softmax(dim=1),
                                          "logp": nn.LogSoftmax(dim=1)})
            self.shape = nn.Sequential(nn.Unflatten(1, (2, 1)), nn.Flatten())
            self.register_buffer("scale", m.ones(2))
            self.loss = nn.CrossEntropyLoss()

        def forward(self, idx):
            h = self.body(self.embed(idx))
            out = self.pair(self.heads[0](h), self.heads[1](h)) * self.scale
            return self.outputs["logp"](self.shape(out))

    return Everything()


def test_tutorial_network_repr_and_parameters():
    ours, theirs = tutorial_network(engine), tutorial_network(torch)
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    copy_weights(ours, theirs)
    x = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    assert_close(ours(engine.tensor(x)), theirs(torch.tensor(x)), rtol=1e-5)


def test_every_layer_model_matches_torch():
    ours, theirs = every_layer_model(engine), every_layer_model(torch)
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_weights(ours, theirs)
    ours.eval()
    theirs.eval()
    idx = np.array([0, 3, 9, 3, 1])
    out_e, out_t = ours(engine.tensor(idx)), theirs(torch.tensor(idx))
    assert_close(out_e, out_t, rtol=1e-4, atol=1e-5)
    ours.train()
    theirs.train()
    ours.body[3].p = theirs.body[3].p = 0.0  # dropout off, so training outputs compare
    out_e, out_t = ours(engine.tensor(idx)), theirs(torch.tensor(idx))
    assert_close(out_e, out_t, rtol=1e-4, atol=1e-5)
    out_e.sum().backward()
    out_t.sum().backward()
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, rtol=1e-3, atol=1e-5, what=name)
    for (name, b), c in zip(ours.named_buffers(), theirs.buffers()):
        assert_close(b, c, rtol=1e-5, atol=1e-6, what=name)


def test_registration_rules():
    nn = engine.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(engine.ones(2))
            self.plain = engine.ones(3)  # a plain tensor stays a plain attribute
            self.child = nn.Linear(2, 2)
            self.register_buffer("stats", engine.zeros(2))
            self.register_buffer("temp", engine.zeros(1), persistent=False)

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["w", "child.weight", "child.bias"]
    assert "plain" not in dict(net.named_parameters()) and "plain" not in net.state_dict()
    assert list(net.state_dict()) == ["w", "stats", "child.weight", "child.bias"]
    assert [n for n, _ in net.named_children()] == ["child"]
    with pytest.raises(AttributeError, match="'Net' object has no attribute 'missing'"):
        net.missing
    with pytest.raises(TypeError, match="cannot assign 'Tensor' as parameter 'w'"):
        net.w = engine.ones(2)
    net.w = None
    assert [n for n, _ in net.named_parameters()] == ["child.weight", "child.bias"]
    assert net.train(False) is net and not net.child.training
    net.train()
    assert net.child.training


@needs_torch
def test_a_reassigned_parameter_or_submodule_keeps_its_place_as_in_pytorch():
    """It moved to the end: a Sequential's `s[0] = layer` made `s[1]` the new layer, and
    parameters() and state_dict() changed order."""
    def build(m):
        s = m.nn.Sequential(m.nn.Linear(4, 4), m.nn.Dropout(), m.nn.ReLU())
        s[0] = m.nn.Linear(4, 2)
        s.extra = m.nn.Parameter(m.ones(1))
        s[0].weight = m.nn.Parameter(m.zeros(2, 4))
        s.register_buffer("scale", m.ones(1), persistent=False)
        s.scale = m.nn.Parameter(m.ones(1))  # a buffer that becomes a parameter
        s.plain = 1.0
        s.plain = m.nn.Parameter(m.ones(1))  # an attribute that becomes one
        return s

    ours, theirs = build(engine), build(torch)
    assert [type(x).__name__ for x in ours] == [type(x).__name__ for x in theirs]
    assert type(ours[1]).__name__ == "Dropout"
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()] == []
    assert isinstance(ours.plain, engine.nn.Parameter)


def _container_calls(m):
    """What each container call leaves, for the same calls on engine and on torch (an
    error by its type); each call starts from what the one before left."""
    nn, out = m.nn, {}

    def call(name, fn):
        try:
            out[name] = fn()
        except Exception as error:  # noqa: BLE001 - the error's type is the result
            out[name] = type(error).__name__

    def names(container):
        return [f"{k}:{type(v).__name__}" for k, v in container._modules.items()]

    s = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2), nn.Tanh())
    call("pop", lambda: (type(s.pop(0)).__name__, names(s)))
    call("pop slice", lambda: (names(s.pop(slice(0, 1))), names(s)))
    call("add", lambda: names(s + nn.Sequential(nn.Sigmoid())))
    call("add a list", lambda: s + nn.ModuleList())
    call("mul", lambda: (names(s * 2), names(3 * s)))
    call("mul shares", lambda: (s * 2)[0] is (s * 2)[len(s)])
    call("mul by 0", lambda: s * 0)
    call("mul by a float", lambda: s * 1.5)

    def imul():
        s.__imul__(2)
        return names(s)

    call("imul", imul)

    def iadd():
        s.__iadd__(nn.Sequential(nn.ELU()))
        return names(s)

    call("iadd", iadd)
    listed = nn.ModuleList([nn.ReLU(), nn.Tanh(), nn.Sigmoid()])
    call("list pop", lambda: (type(listed.pop(1)).__name__, names(listed)))
    call("list add", lambda: names(listed + [nn.ELU()]))

    def list_iadd():
        listed.__iadd__([nn.ELU()])
        return names(listed)

    call("list iadd", list_iadd)
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    call("get_parameter", lambda: tuple(net.get_parameter("0.bias").shape))
    call("get_buffer", lambda: tuple(net.get_buffer("1.running_var").shape))
    for target in ("1.running_mean", "0.missing", "2.weight"):
        call(f"get_parameter {target}", lambda: net.get_parameter(target))
    call("get_buffer of a parameter", lambda: net.get_buffer("0.weight"))
    call("dir", lambda: [n for n in dir(net) if n in ("0", "1", "forward", "training")])
    return out


@needs_torch
def test_container_pop_add_mul_and_get_parameter_as_in_pytorch():
    ours, theirs = _container_calls(engine), _container_calls(torch)
    assert ours == theirs
    net = engine.nn.Sequential(engine.nn.Linear(2, 3))
    with pytest.raises(AttributeError, match="Linear has no attribute `missing`"):
        net.get_parameter("0.missing")
    with pytest.raises(ValueError, match="Non-positive multiplication factor 0"):
        net * 0


def test_zero_grad_apply_requires_grad_and_to():
    model = engine.nn.Sequential(engine.nn.Linear(3, 2), engine.nn.ReLU(), engine.nn.Linear(2, 1))
    model(engine.randn(4, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Linear", "Sequential"]
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    weight = model[0].weight
    model.double()
    assert model[0].weight is weight and weight.dtype is engine.float64
    with pytest.raises(TypeError, match="floating point dtypes"):
        model.to(engine.int64)


def test_forward_hooks():
    layer = engine.nn.Linear(2, 2)
    calls = []
    pre = layer.register_forward_pre_hook(lambda m, args: calls.append("pre"))
    post = layer.register_forward_hook(lambda m, args, out: out * 0)
    assert layer(engine.ones(1, 2)).abs().sum().item() == 0
    pre.remove()
    post.remove()
    assert layer(engine.ones(1, 2)).abs().sum().item() > 0
    assert calls == ["pre"]


def test_sequential_and_containers():
    nn = engine.nn
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert len(seq) == 3 and isinstance(seq[-1], nn.Linear)
    twin = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    assert repr(seq[1:]) == repr(twin[1:])
    assert repr(nn.ModuleList([nn.ReLU(), nn.ReLU(), nn.Tanh()])) == repr(
        torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.Tanh()]))
    seq.append(nn.Sigmoid())
    assert [n for n, _ in seq.named_children()] == ["0", "1", "2", "3"]
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(list(layers.parameters())) == 6 and len(layers[1:]) == 2
    heads = nn.ModuleDict({"a": nn.Linear(2, 1)})
    heads["b"] = nn.Linear(2, 1)
    assert list(heads.keys()) == ["a", "b"]
    assert [n for n, _ in heads.named_parameters()] == ["a.weight", "a.bias", "b.weight",
                                                         "b.bias"]


def test_load_state_dict_reports_everything_and_changes_nothing():
    model = engine.nn.Sequential(engine.nn.Linear(3, 2), engine.nn.Linear(2, 1))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bad = {k: v.clone() + 1 for k, v in model.state_dict().items()}
    del bad["1.bias"]
    bad["0.weight"] = engine.zeros(5, 5)
    bad["extra"] = engine.zeros(1)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(bad)
    text = str(info.value)
    assert 'Missing key(s) in state_dict: "1.bias"' in text
    assert 'Unexpected key(s) in state_dict: "extra"' in text
    assert "size mismatch for 0.weight: copying a param with shape torch.Size([5, 5])" in text
    for k, v in model.state_dict().items():
        assert v.tolist() == before[k].tolist(), f"{k} changed by a failed load"
    result = model.load_state_dict({k: v for k, v in bad.items() if k not in ("0.weight",
                                                                                 "extra")},
                                   strict=False)
    assert result.missing_keys == ["0.weight", "1.bias"] and result.unexpected_keys == []
    assert repr(model.load_state_dict(model.state_dict())) == "<All keys matched successfully>"


@pytest.mark.parametrize("make", [
    lambda m: m.nn.Linear(4, 3),
    lambda m: m.nn.Linear(4, 3, bias=False),
    lambda m: m.nn.Bilinear(4, 2, 3),
    lambda m: m.nn.LayerNorm(4),
    lambda m: m.nn.LayerNorm((4,), elementwise_affine=False),
    lambda m: m.nn.BatchNorm1d(4),
    lambda m: m.nn.BatchNorm1d(4, momentum=None, affine=False),
    lambda m: m.nn.BatchNorm2d(4),
    lambda m: m.nn.BatchNorm2d(4, momentum=None, track_running_stats=False),
    lambda m: m.nn.Embedding(5, 4, padding_idx=1),
])
def test_layers_forward_backward_and_state(make):
    ours, theirs = make(engine), make(torch)
    assert repr(ours) == repr(theirs)
    copy_weights(ours, theirs)
    rng = np.random.default_rng(0)
    if isinstance(ours, engine.nn.Embedding):
        inputs = [np.array([[1, 2], [4, 1]])]
    elif isinstance(ours, engine.nn.Bilinear):
        inputs = [rng.standard_normal((5, 4)).astype(np.float32),
                  rng.standard_normal((5, 2)).astype(np.float32)]
    elif isinstance(ours, engine.nn.BatchNorm2d):
        inputs = [rng.standard_normal((5, 4, 3, 2)).astype(np.float32)]
    else:
        inputs = [rng.standard_normal((5, 4)).astype(np.float32)]
    for _ in range(2):  # twice, so BatchNorm's running statistics move
        xe = [engine.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
        xt = [torch.tensor(a, requires_grad=a.dtype.kind == "f") for a in inputs]
        out_e, out_t = ours(*xe), theirs(*xt)
        assert_close(out_e, out_t, rtol=1e-4, atol=1e-5)
        (out_e * out_e).sum().backward()
        (out_t * out_t).sum().backward()
        for a, b in zip(xe, xt):
            if b.requires_grad:
                assert_close(a.grad, b.grad, rtol=1e-4, atol=1e-5)
    for (name, p), q in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, what=name)
    for (name, b), c in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert_close(b, c, rtol=1e-5, atol=1e-6, what=name)
    ours.eval()
    theirs.eval()
    assert_close(ours(*[engine.tensor(a) for a in inputs]),
                 theirs(*[torch.tensor(a) for a in inputs]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("layer,shape,message", [
    (lambda: engine.nn.BatchNorm1d(4), (2, 4, 3, 3), r"expected 2D or 3D input \(got 4D input\)"),
    (lambda: engine.nn.BatchNorm2d(4), (2, 4, 3), r"expected 4D input \(got 3D input\)"),
])
def test_batch_norm_names_the_input_dims_it_takes(layer, shape, message):
    with pytest.raises(ValueError, match=message):
        layer()(engine.ones(*shape))


def test_dropout_module_respects_mode_and_seed():
    drop = engine.nn.Dropout(0.5)
    x = engine.ones(1000)
    engine.manual_seed(3)
    a = drop(x)
    engine.manual_seed(3)
    assert drop(x).tolist() == a.tolist()
    assert 0.4 < (a == 0).float().mean().item() < 0.6
    drop.eval()
    assert drop(x) is x


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("make, kind", [
    (lambda m, r: m.nn.MSELoss(reduction=r), "regression"),
    (lambda m, r: m.nn.L1Loss(reduction=r), "regression"),
    (lambda m, r: m.nn.SmoothL1Loss(reduction=r, beta=0.5), "regression"),
    (lambda m, r: m.nn.HuberLoss(reduction=r, delta=0.5), "regression"),
    (lambda m, r: m.nn.BCELoss(reduction=r), "probability"),
    (lambda m, r: m.nn.BCEWithLogitsLoss(reduction=r, pos_weight=m.tensor([2.0, 1.0, 0.5])),
     "binary"),
    (lambda m, r: m.nn.CrossEntropyLoss(reduction=r), "classes"),
    (lambda m, r: m.nn.CrossEntropyLoss(weight=m.tensor([1.0, 2.0, 0.5]), ignore_index=1,
                                        reduction=r), "classes"),
    (lambda m, r: m.nn.CrossEntropyLoss(reduction=r, label_smoothing=0.1), "classes"),
    (lambda m, r: m.nn.CrossEntropyLoss(reduction=r), "soft"),
    (lambda m, r: m.nn.NLLLoss(reduction=r), "log_probs"),
    (lambda m, r: m.nn.KLDivLoss(reduction=r), "log_probs_vs_probs"),
])
def test_loss_modules(make, kind, reduction):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    if kind == "regression":
        y = rng.standard_normal((4, 3)).astype(np.float32)
    elif kind == "probability":
        x = 1 / (1 + np.exp(-x))
        y = rng.random((4, 3)).astype(np.float32)
    elif kind == "binary":
        y = (rng.random((4, 3)) > 0.5).astype(np.float32)
    elif kind in ("classes", "log_probs"):
        y = np.array([0, 2, 1, 2])
        if kind == "log_probs":
            x = x - np.log(np.exp(x).sum(1, keepdims=True))
    else:
        y = rng.random((4, 3)).astype(np.float32)
        y = y / y.sum(1, keepdims=True)
    ours, theirs = make(engine, reduction), make(torch, reduction)
    assert repr(ours) == repr(theirs)
    xe, xt = engine.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_e, out_t = ours(xe, engine.tensor(y)), theirs(xt, torch.tensor(y))
    assert_close(out_e, out_t, rtol=1e-5, atol=1e-6)
    (out_e * out_e).sum().backward()
    (out_t * out_t).sum().backward()
    assert_close(xe.grad, xt.grad, rtol=1e-4, atol=1e-6)


def test_init_functions():
    nn = engine.nn
    w = engine.empty(300, 200)
    assert nn.init._calculate_fan_in_and_fan_out(w) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(300, 200))
    for name, args in [("relu", ()), ("tanh", ()), ("leaky_relu", (0.2,)), ("linear", ())]:
        assert nn.init.calculate_gain(name, *args) == pytest.approx(
            torch.nn.init.calculate_gain(name, *args))
    engine.manual_seed(0)
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    bound = np.sqrt(6 / 200)
    assert abs(w).max().item() <= bound and w.std().item() == pytest.approx(bound / np.sqrt(3),
                                                                         rel=0.05)
    nn.init.xavier_normal_(w)
    assert w.std().item() == pytest.approx(np.sqrt(2 / 500), rel=0.05)
    nn.init.kaiming_normal_(w, mode="fan_out")
    assert w.std().item() == pytest.approx(np.sqrt(2 / 300) / np.sqrt(1.0), rel=0.06)
    nn.init.xavier_uniform_(w, gain=2.0)
    assert abs(w).max().item() <= 2.0 * np.sqrt(6 / 500)
    nn.init.normal_(w, 3.0, 0.5)
    assert w.mean().item() == pytest.approx(3.0, abs=0.01)
    nn.init.constant_(w, 0.25)
    assert w.min().item() == w.max().item() == 0.25
    nn.init.zeros_(w)
    nn.init.ones_(w)
    assert w.sum().item() == 60000
    e = engine.empty(3, 3)
    nn.init.eye_(e)
    assert e.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_parameter_repr():
    p = engine.nn.Parameter(engine.tensor([1.0, 2.0]))
    assert repr(p) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert p.requires_grad and p.is_leaf
