"""The dead-unit diagnostic: counts, inputs it accepts, what it restores, its errors, its recorder."""

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from relucourse import diagnostics, inspection  # noqa: E402
from relucourse.diagnostics import DeadUnitRecorder, DiagnosticError, dead_units, gradient_norms  # noqa: E402



def make_mlp(act=nn.ReLU, dead=(0, 3), width=6, seed=0):
    """64 -> width -> width -> 10 with the listed units of the first hidden layer killed by a bias of -1e3."""
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, width), act(), nn.Linear(width, width), act(), nn.Linear(width, 3))
    with torch.no_grad():
        for j in dead:
            model[0].bias[j] = -1e3
    return model


def data(n=200, d=5, seed=1):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


# -- counting ---------------------------------------------------------------------------
def test_counts_dead_units_and_names_layers():
    report = dead_units(make_mlp(), data())
    assert [(r.name, r.kind, r.units) for r in report.layers] == [("1", "ReLU", 6), ("3", "ReLU", 6)]
    first = report.layers[0]
    assert first.dead == 2 and first.fraction == pytest.approx(2 / 6) and first.dead_index == (0, 3)
    assert first.criterion == "output"
    assert report.samples == 200
    assert report["1"] is first
    with pytest.raises(KeyError):
        report["nope"]


def test_matches_a_direct_computation():
    model = make_mlp(dead=(1,), width=20, seed=3)
    X = data(300, seed=4)
    h1 = torch.relu(model[0](X))
    h2 = torch.relu(model[2](h1))
    report = dead_units(model, X)
    for record, h in zip(report.layers, (h1, h2)):
        never = (h <= 0).all(dim=0)
        assert record.dead == int(never.sum())
        assert record.dead_index == tuple(torch.nonzero(never).flatten().tolist())
        assert record.active_fraction == pytest.approx(float((h > 0).float().mean()))


def test_a_unit_active_on_one_input_is_not_dead():
    model = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.fill_(0.0)
    X = torch.tensor([[-3.0], [-2.0], [0.0], [1e-6]])
    assert dead_units(model, X).layers[0].dead == 0
    assert dead_units(model, X[:3]).layers[0].dead == 1        # 0 counts as inactive


@pytest.mark.parametrize("act", [nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.CELU, nn.SELU, nn.Mish,
                                 nn.Hardswish, nn.ReLU6, nn.Softplus])
def test_relu_family_uses_the_pre_activation(act):
    report = dead_units(make_mlp(act=act), data())
    first = report.layers[0]
    assert first.kind == act.__name__
    assert first.dead_index[:2] == (0, 3)
    expected = "output" if act in (nn.ReLU, nn.ReLU6) else "input"
    assert first.criterion == expected
    # dead: below the input where the slope stays within 0.01 of 0 (0 for ReLU-like ones)
    assert first.threshold == inspection.flat_below(inspection.module_kind(act()), 0.01)
    assert ("output <= 0" if expected == "output" else f"input <= {first.threshold:g}") in str(report)


@pytest.mark.parametrize("act", [nn.PReLU, nn.RReLU, lambda: nn.LeakyReLU(0.2)])
def test_activations_without_an_off_state_are_not_judged_but_named_with_their_slope(act):
    """Issue 20: "dead" needs an off state; PReLU (0.25), RReLU, LeakyReLU(0.2) keep a slope."""
    report = dead_units(make_mlp(act=act), data())
    assert report.layers == []
    assert [n for n, _, _ in report.not_judged] == ["1", "3"]
    assert "slope of" in report.not_judged[0][2]
    assert "Not judged (no off state)" in str(report)


def test_smooth_units_that_never_crossed_zero_are_off_not_dead():
    """EfficientNet's false alarm: a SiLU unit whose input stays in (-1, 0) keeps slope ~0.3."""
    model = nn.Sequential(nn.Linear(5, 4), nn.SiLU())
    with torch.no_grad():
        model[0].weight.mul_(0.01)
        model[0].bias.copy_(torch.tensor([-0.5, -0.5, 1.0, -100.0]))
    r = dead_units(model, data()).layers[0]
    assert r.off == 3 and r.dead == 1 and r.dead_index == (3,)


def test_flat_below_matches_the_slopes():
    for kind, x0 in [("elu", -4.61), ("gelu", -3.07), ("silu", -6.27), ("hardswish", -3.0),
                     ("softplus", -4.6), ("selu", -5.17)]:
        assert inspection.flat_below(kind) == x0
        fn = inspection.KINDS[kind].fn
        x = torch.linspace(-40, x0, 2000, dtype=torch.float64, requires_grad=True)
        (g,) = torch.autograd.grad(fn(x).sum(), x)
        assert float(g.abs().max()) <= inspection.FLAT_SLOPE
    assert inspection.flat_below("leaky_relu", 0.01) == 0.0
    assert inspection.flat_below("leaky_relu", 0.2) is None
    assert inspection.flat_below("tanh") is None


def test_inplace_relu_and_leaky_relu():
    for act in (lambda: nn.ReLU(inplace=True), lambda: nn.LeakyReLU(0.01, inplace=True)):
        assert dead_units(make_mlp(act=act), data()).layers[0].dead_index[:2] == (0, 3)


def test_conv_channels_are_units():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    with torch.no_grad():
        model[0].bias[2] = -1e3
    X = torch.randn(10, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    r = dead_units(model, X).layers[0]
    assert (r.units, r.dead, r.dead_index) == (4, 1, (2,))


def test_a_channel_active_at_one_position_is_alive():
    conv = nn.Conv1d(1, 2, 1)
    with torch.no_grad():
        conv.weight.fill_(1.0)
        conv.bias.copy_(torch.tensor([0.0, -10.0]))
    model = nn.Sequential(conv, nn.ReLU())
    X = -torch.ones(3, 1, 5)
    X[1, 0, 4] = 5.0                                           # one position of one sample
    r = dead_units(model, X).layers[0]
    assert (r.units, r.dead, r.dead_index) == (2, 1, (1,))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 4)
        self.act = nn.LeakyReLU()

    def forward(self, x):
        return self.act(self.fc(x))


def test_nested_modules_get_qualified_names():
    model = nn.Sequential()
    model.add_module("encoder", nn.Sequential(Block(), nn.Linear(4, 5), nn.GELU()))
    model.add_module("head", nn.Linear(5, 2))
    names = [r.name for r in dead_units(model, data()).layers]
    assert names == ["encoder.0.act", "encoder.2"]


def test_a_module_called_twice_gets_two_records():
    act = nn.ReLU()
    model = nn.Sequential(nn.Linear(5, 4), act, nn.Linear(4, 3), act)
    report = dead_units(model, data())
    assert [(r.name, r.units) for r in report.layers] == [("1", 4), ("1 (call 2)", 3)]


# -- inputs ----------------------------------------------------------------------------
def test_every_input_form_and_batch_size_gives_the_same_report():
    model = make_mlp(width=12, seed=5)
    X = data(97)
    y = torch.zeros(97, dtype=torch.long)
    reference = dead_units(model, X).to_dict()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, y), batch_size=10)
    variants = [
        dead_units(model, X, batch_size=1),
        dead_units(model, X, batch_size=7),
        dead_units(model, X.numpy()),
        dead_units(model, X.numpy().astype(np.float64)),
        dead_units(model, list(X.split(13))),
        dead_units(model, (b for b in X.split(50))),
        dead_units(model, loader),
        dead_units(model, [(xb, yb) for xb, yb in loader]),
    ]
    for v in variants:
        assert v.to_dict() == reference


def test_works_in_batches():
    model = make_mlp()
    seen = []
    model[0].register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))
    dead_units(model, data(1000), batch_size=64)
    assert max(seen) == 64 and sum(seen) == 1000


# -- restores everything -----------------------------------------------------------------------
def test_restores_hooks_modes_parameters_and_grads():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    model.train()
    model[3].eval()                                            # mixed modes must survive
    before = {k: v.clone() for k, v in model.state_dict().items()}
    modes = [m.training for m in model.modules()]
    hooks = [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()]
    r1 = dead_units(model, data())
    r2 = dead_units(model, data())
    assert r1.to_dict() == r2.to_dict()             # training mode, dropout from a forked random state
    assert [m.training for m in model.modules()] == modes
    assert [(len(m._forward_hooks), len(m._forward_pre_hooks)) for m in model.modules()] == hooks
    for k, v in model.state_dict().items():                    # includes BN running statistics
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None for p in model.parameters())


def test_restores_after_an_error():
    model = make_mlp()
    model.train()
    with pytest.raises(DiagnosticError):
        dead_units(model, data(d=4))
    assert all(m.training for m in model.modules())
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


# -- errors ------------------------------------------------------------------------------
class FunctionalNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(5, 4), nn.Linear(4, 2)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def test_activation_functions_in_forward_are_seen():
    """Issue 20: F.relu in forward() is an activation; it is named by the calling module and function."""
    model = FunctionalNet()
    with torch.no_grad():
        model.fc1.bias[1] = -1e3
    report = dead_units(model, data())
    assert [(r.name, r.kind, r.units, r.dead_index) for r in report.layers] == [("(model)/relu", "relu()", 4, (1,))]


def test_no_activation_at_all_explains_what_is_watched():
    with pytest.raises(DiagnosticError, match=r"F\.relu") as info:
        dead_units(nn.Sequential(nn.Linear(5, 3), nn.Linear(3, 2)), data())
    assert "Sequential" in str(info.value) and "activations={MyAct" in str(info.value)
    assert isinstance(info.value, ValueError)


class UnusedActivation(FunctionalNet):
    def __init__(self):
        super().__init__()
        self.act = nn.ReLU()                                   # registered but forward() calls F.relu


def test_registered_but_unused_activation():
    """The unused module is not reported; the function forward() really calls is."""
    report = dead_units(UnusedActivation(), data())
    assert [r.name for r in report.layers] == ["(model)/relu"]


@pytest.mark.parametrize("inputs", [torch.empty(0, 5), [], iter([]), np.zeros((0, 5), dtype=np.float32)])
def test_empty_inputs(inputs):
    with pytest.raises(DiagnosticError, match="no samples"):
        dead_units(make_mlp(), inputs)


def test_wrong_input_shape_names_the_layer_and_shapes():
    with pytest.raises(DiagnosticError) as info:
        dead_units(make_mlp(), data(d=7), batch_size=50)
    msg = str(info.value)
    for part in ("(50, 7)", "layer '0'", "Linear", "(N, 5)"):
        assert part in msg, msg
    conv = nn.Sequential(nn.Conv2d(3, 2, 3), nn.ReLU())
    with pytest.raises(DiagnosticError, match=r"'0' \(Conv2d\).*\(4, 1, 8, 8\).*\(N, 3, height, width\)"):
        dead_units(conv, torch.zeros(4, 1, 8, 8))


def test_output_without_batch_dimension():
    model = nn.Sequential(nn.Flatten(0), nn.ReLU())
    with pytest.raises(DiagnosticError, match=r"layer '1' \(ReLU\).*shape \(15,\)"):
        dead_units(model, torch.ones(3, 5))


def test_changing_number_of_units():
    model = nn.Sequential(nn.ReLU())
    with pytest.raises(DiagnosticError, match="had 5 units"):
        dead_units(model, [torch.ones(2, 5), torch.ones(2, 6)])


@pytest.mark.parametrize("inputs, fragment", [(None, "None"), (3.0, "float"), (torch.tensor(1.0), "0-d"),
                                              (["a"], "str")])
def test_malformed_inputs(inputs, fragment):
    with pytest.raises(DiagnosticError, match=fragment):
        dead_units(make_mlp(), inputs)


def test_not_a_model_and_bad_batch_size():
    with pytest.raises(DiagnosticError, match="nn.Module"):
        dead_units(lambda x: x, data())
    with pytest.raises(DiagnosticError, match="batch_size"):
        dead_units(make_mlp(), data(), batch_size=0)


# -- report ------------------------------------------------------------------------------
def test_report_dict_table_and_plot():
    report = dead_units(make_mlp(), data())
    d = report.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert set(d["layers"][0]) >= {"name", "kind", "units", "dead", "fraction", "active_fraction", "criterion"}
    table = str(report).splitlines()
    assert table[0] == "Dead units on 200 inputs"
    assert table[1].split()[:4] == ["layer", "kind", "units", "dead"]
    assert table[2].split()[:5] == ["1", "ReLU", "6", "2", "33.3"]
    assert "dead=" in repr(report) and "0x" not in repr(report)
    assert report.units == 12 and report.dead >= 2 and 0 < report.fraction < 1
    fig, ax = plt.subplots()
    assert report.plot(ax) is ax
    assert len(ax.patches) == 2 and ax.patches[0].get_height() == pytest.approx(100 * 2 / 6)
    plt.close(fig)
    ax2 = report.plot()
    plt.close(ax2.figure)


# -- recorder ----------------------------------------------------------------------------
def test_recorder_during_training():
    from relucourse.data import digits
    from relucourse.training import mlp, train_classifier

    d = digits()
    model = mlp([64, 16, 16, 10], seed=0)
    rec = DeadUnitRecorder(d.X_train)
    rec.record(model, epoch=0)
    train_classifier(model, d.X_train, d.y_train, epochs=3, lr=0.05, on_epoch=rec)
    assert rec.epochs == [0, 1, 2, 3]
    assert list(rec.history) == ["1", "3"]
    assert all(len(v) == 4 and all(0 <= f <= 1 for f in v) for v in rec.history.values())
    assert len(rec.reports) == 4
    rec.record(model)                                          # no epoch given: the next index
    assert rec.epochs[-1] == 4
    fig, ax = plt.subplots()
    assert rec.plot(ax, title="t") is ax and len(ax.lines) == 2
    plt.close(fig)


# -- gradient norms ------------------------------------------------------------------------------
def test_gradient_norms_zero_for_dead_units_and_leave_grad_alone():
    model = make_mlp(width=6)
    model.train()
    X, y = data(), torch.arange(200) % 3
    sentinel = torch.full_like(model[0].weight, 7.0)
    model[0].weight.grad = sentinel.clone()
    norms = gradient_norms(model, X, y)
    assert list(norms) == [n for n, _ in model.named_parameters()]
    assert all(v >= 0 for v in norms.values()) and norms["0.weight"] > 0
    assert torch.equal(model[0].weight.grad, sentinel)
    assert all(m.training for m in model.modules())
    # the dead units' own rows get exactly zero gradient
    head = nn.Sequential(*list(model))
    rows = {}
    for j in range(6):
        w = head[0].weight
        loss = nn.CrossEntropyLoss()(head(X), y)
        rows[j] = float(torch.autograd.grad(loss, w)[0][j].abs().max())
    assert rows[0] == 0.0 and rows[3] == 0.0 and rows[1] > 0


def test_gradient_norms_errors():
    with pytest.raises(DiagnosticError, match="no samples"):
        gradient_norms(make_mlp(), torch.empty(0, 5), torch.empty(0, dtype=torch.long))
    frozen = make_mlp()
    for p in frozen.parameters():
        p.requires_grad_(False)
    with pytest.raises(DiagnosticError, match="no trainable"):
        gradient_norms(frozen, data(), torch.zeros(200, dtype=torch.long))


def test_module_exports():
    for name in diagnostics.__all__:
        assert hasattr(diagnostics, name)


def test_nan_is_inactive_and_reported():
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    with torch.no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.copy_(torch.tensor([0.0, 0.0, -100.0]))
        model[0].weight[0, 0] = float("nan")
    report = dead_units(model, torch.ones(4, 2))
    r = report.layers[0]
    assert (r.dead, r.dead_index, r.nan_units) == (2, (0, 2), 1)
    assert "diverged" in str(report)
    assert "diverged" not in str(dead_units(make_mlp(), data()))


def test_unit_dim_for_channels_last_outputs():
    """(N, tokens, features) outputs: with unit_dim=-1 a unit is a feature, alive at any token."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.GELU(), nn.Linear(6, 6), nn.ReLU())
    with torch.no_grad():
        model[0].bias[[1, 4]] = -100.0
        model[2].bias[5] = -100.0
    X = torch.randn(10, 7, 8, generator=torch.Generator().manual_seed(1))
    report = dead_units(model, X, unit_dim=-1)
    assert [(r.units, r.dead_index) for r in report.layers] == [(6, (1, 4)), (6, (5,))]
    assert dead_units(model, X, unit_dim=2).to_dict() == report.to_dict()
    # default: the units follow the layer before (nn.Linear: the last dimension); dim 1 by hand
    assert dead_units(model, X).to_dict() == report.to_dict()
    assert [r.units for r in dead_units(model, X, unit_dim=1).layers] == [7, 7]
    recorder = DeadUnitRecorder(X, unit_dim=-1)
    recorder.record(model)
    assert recorder.reports[0].to_dict() == report.to_dict()
    for bad in (0, 3, -4):
        with pytest.raises(DiagnosticError, match="not a dimension after the batch"):
            dead_units(model, X, unit_dim=bad)
    with pytest.raises(DiagnosticError, match="integer"):
        dead_units(model, X, unit_dim=1.0)
    assert not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


def test_gradient_norms_accepts_numpy_and_explains_shape_errors():
    model = make_mlp()
    X, y = data(), torch.zeros(200, dtype=torch.long)
    assert gradient_norms(model, X.double().numpy(), y.numpy()) == pytest.approx(gradient_norms(model, X, y))
    with pytest.raises(DiagnosticError, match=r"layer '0' \(Linear\).*\(200, 4\).*expects \(N, 5\)"):
        gradient_norms(model, torch.randn(200, 4), y)
    with pytest.raises(DiagnosticError, match=r"loss failed.*\(200, 3\).*targets of shape \(200,\)"):
        gradient_norms(model, X, torch.zeros(200))
    assert model.training and not any(m._forward_hooks or m._forward_pre_hooks for m in model.modules())


# -- display names (issue 13: one set of layer names in prose, figures and reports) -------------------
def test_names_replace_module_names_in_reports_and_history():
    model, X = make_mlp(), data()
    names = {"1": "hidden 1", "3": "hidden 2"}
    report = dead_units(model, X, names=names)
    assert [r.name for r in report.layers] == ["hidden 1", "hidden 2"]
    assert report["hidden 1"].dead == 2
    assert "hidden 1" in str(report)
    partial = dead_units(model, X, names={"3": "second"})           # the others keep their module names
    assert [r.name for r in partial.layers] == ["1", "second"]
    rec = DeadUnitRecorder(X, names=names)
    rec.record(model, epoch=0)
    assert list(rec.history) == ["hidden 1", "hidden 2"]


def test_names_are_checked():
    model, X = make_mlp(), data()
    with pytest.raises(DiagnosticError, match=r"not activation modules.*\['1', '3'\]"):
        dead_units(model, X, names={"2": "oops"})
    with pytest.raises(DiagnosticError, match="same name"):
        dead_units(model, X, names={"1": "h", "3": "h"})
    with pytest.raises(DiagnosticError, match="same name"):
        dead_units(model, X, names={"1": "3"})                         # clashes with an unrenamed module
    with pytest.raises(DiagnosticError, match="non-empty string"):
        dead_units(model, X, names={"1": ""})
    with pytest.raises(DiagnosticError, match="must be a dict"):
        dead_units(model, X, names=["hidden 1", "hidden 2"])


def test_ordered_dict_models_report_their_own_names():
    from collections import OrderedDict
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict([("fc1", nn.Linear(5, 4)), ("hidden1", nn.ReLU()), ("out", nn.Linear(4, 2))]))
    assert [r.name for r in dead_units(model, data()).layers] == ["hidden1"]
