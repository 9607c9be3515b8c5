"""Tests of relucourse.health: every finding on a model built to have it, every error, nothing changed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn

from relucourse.data import digits
from relucourse.diagnostics import DiagnosticError
from relucourse.health import ACTIVATION_TYPES, health_report
from relucourse.training import mlp

DATA = digits()
X = torch.as_tensor(DATA.X_train)
Y = torch.as_tensor(DATA.y_train)


def healthy(seed=0):
    return mlp([64, 64, 64, 10], nn.ReLU, seed=seed, init="he")


def kinds(model, X=X, y=Y, **kw):
    return health_report(model, X, y, **kw).kinds()


# --- a healthy model has no findings ----------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_model_has_no_findings(seed):
    report = health_report(healthy(seed), X, Y)
    assert report.findings == [], report.explain()
    assert [a.name for a in report.activations] == ["1", "3"]
    assert [p.name for p in report.parameters] == ["0", "2", "4"]
    assert report.explain().startswith("No findings")


def test_healthy_deep_he_network_has_no_findings():
    model = mlp([64] + [64] * 10 + [10], nn.ReLU, seed=0, init="he")
    assert kinds(model) == []


# --- each finding on a model built to have exactly that problem -------------------------------

def test_dead_units():
    model = healthy()
    with torch.no_grad():
        model[2].bias[:40] = -1e3                 # 40 of 64 units of layer '3' can never switch on
    report = health_report(model, X, Y)
    assert report.kinds() == ["dead units"]
    finding = report.findings[0]
    assert finding.layer == "3"
    assert finding.value == pytest.approx(40 / 64)
    assert finding.threshold == 0.2
    assert "chapter 4" in finding.section
    assert report["3"].dead == pytest.approx(40 / 64)
    assert report["1"].dead == 0


def test_dead_units_judged_by_input_for_other_relu_family_modules():
    model = mlp([64, 64, 64, 10], nn.LeakyReLU, seed=0, init="he")
    with torch.no_grad():
        model[0].bias[:32] = -1e3
    report = health_report(model, X, Y)
    assert report["1"].dead == pytest.approx(0.5)
    assert "dead units" in report.kinds()
    message = report.findings[report.kinds().index("dead units")].message
    assert "no gradient" not in message                # LeakyReLU's slope there is 0.01, not 0
    assert "LeakyReLU's slope is small" in message


def test_dead_unit_message_says_no_gradient_only_for_relu_and_relu6():
    for act in (nn.ReLU, nn.ReLU6, nn.GELU):
        model = mlp([64, 64, 64, 10], act, seed=0, init="he")
        with torch.no_grad():
            model[0].bias[:40] = -1e3
        [f] = [f for f in health_report(model, X, Y).findings if f.kind == "dead units"]
        assert ("no gradient from the data" in f.message) == (act is not nn.GELU), act


def test_saturation_and_tolerance():
    model = mlp([64, 64, 64, 10], nn.Tanh, seed=0, init="xavier")
    assert kinds(model) == []
    with torch.no_grad():
        model[0].weight.mul_(10)
    report = health_report(model, X, Y)
    assert report.kinds() == ["saturation"]
    assert report.findings[0].layer == "1"
    assert report["1"].saturated > 0.5
    # a tighter tolerance counts fewer outputs as saturated
    tight = health_report(model, X, Y, tolerance=1e-4)
    assert tight["1"].saturated < report["1"].saturated
    assert report["1"].dead is None                   # tanh has no dead units
    assert healthy_report()["1"].saturated is None    # ReLU is unbounded


def healthy_report():
    return health_report(healthy(), X, Y)


def test_saturation_of_relu6_counts_the_upper_bound_only():
    model = nn.Sequential(nn.Linear(64, 32), nn.ReLU6(), nn.Linear(32, 10))
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].bias.fill_(10.0)                    # every output is 6
    report = health_report(model, X, Y)
    assert report["1"].saturated == 1.0
    with torch.no_grad():
        model[0].bias.fill_(-10.0)                   # every output is 0: dead, not saturated
    report = health_report(model, X, Y)
    assert report["1"].saturated == 0.0 and report["1"].dead == 1.0


def test_vanishing_gradient():
    model = mlp([64] + [64] * 10 + [10], nn.Sigmoid, seed=0)
    report = health_report(model, X, Y)
    assert report.kinds() == ["vanishing gradient"]
    f = report.findings[0]
    # the largest gradient among the first quarter of the layers ("0" and "2") is still tiny
    assert report.gradient_pair == (("0", "2"), "20")
    assert f.layer in ("0", "2") and f.value < 1e-6 and f.threshold == 0.01
    assert "chapter 3" in f.section


def test_exploding_gradient_and_activations():
    model = mlp([64] + [64] * 6 + [10], nn.ReLU, seed=0)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=1.0)   # 64 times He's variance
    report = health_report(model, X, Y)
    assert set(report.kinds()) == {"exploding gradient", "exploding activations"}
    grow = [f for f in report.findings if f.kind == "exploding activations"][0]
    assert grow.value > 100 and grow.layer == "11"


def test_exploding_gradient_from_depth_ratio():
    # an output layer 1000 times too large: the gradient grows 1000-fold on its way down
    model = healthy()
    with torch.no_grad():
        model[4].weight.mul_(1000)
    report = health_report(model, X, Y)
    assert report.kinds() == ["exploding gradient"]
    f = report.findings[0]
    assert f.layer == "0" and f.value > 100 and f.threshold == 100
    assert "first layer" in f.message


def test_inputs_not_standardized():
    raw = digits(standardize=False)
    report = health_report(healthy(), raw.X_train, raw.y_train, update_ratio=1e9)
    assert report.kinds() == ["inputs not standardized"]
    assert {f.layer for f in report.findings} == {"input"}
    values = sorted(f.value for f in report.findings)
    assert values[0] > 4 and values[1] > 5              # mean about 4.9, standard deviation about 6
    # small but centred and unit-scale inputs are fine; tiny ones are not
    assert "inputs not standardized" in kinds(healthy(), X * 0.01)


def test_thresholds_are_parameters():
    model = healthy()
    with torch.no_grad():
        model[2].bias[:10] = -1e3                     # 16% dead: below the default threshold
    assert kinds(model) == []
    assert kinds(model, dead_threshold=0.1) == ["dead units"]


# --- any model of standard layers ------------------------------------------------------------

class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.act = nn.GELU()

    def forward(self, x):
        return x + self.act(self.linear(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(64, 32), nn.ReLU())
        self.blocks = nn.ModuleList([Block(32), Block(32)])
        self.head = nn.Linear(32, 10)

    def forward(self, x):
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


def test_nested_module_names_follow_named_modules():
    torch.manual_seed(0)
    report = health_report(Net(), X, Y)
    assert [a.name for a in report.activations] == ["stem.1", "blocks.0.act", "blocks.1.act"]
    assert [p.name for p in report.parameters] == ["stem.0", "blocks.0.linear", "blocks.1.linear", "head"]


def test_module_called_twice_gets_one_record_per_call():
    torch.manual_seed(0)
    act = nn.ReLU()

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.act = nn.Linear(64, 16), nn.Linear(16, 10), act

        def forward(self, x):
            return self.act(self.b(self.act(self.a(x))))

    report = health_report(Twice(), X, Y)
    assert [a.name for a in report.activations] == ["act", "act (call 2)"]


def test_convolutional_model_with_batch_norm():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.Conv2d(8, 8, 3), nn.SiLU(), nn.Flatten(), nn.Linear(8 * 36, 10))
    images = X[:200].reshape(-1, 1, 8, 8)
    report = health_report(model, images, Y[:200])
    assert [a.name for a in report.activations] == ["2", "4"]
    assert report["2"].units == 8
    assert [p.name for p in report.parameters] == ["0", "1", "3", "6"]
    assert report.findings == []
    # batch normalisation ran on the batch's statistics: its outputs have mean ~0
    assert abs(report["2"].pre_mean) < 1e-5


@pytest.mark.parametrize("cls", ACTIVATION_TYPES, ids=lambda c: c.__name__)
def test_every_activation_module(cls):
    torch.manual_seed(0)
    act = cls() if cls is not nn.Threshold else cls(0.1, 0.0)
    width_out = 16 if cls is nn.GLU else 32
    model = nn.Sequential(nn.Linear(64, 32), act, nn.Linear(width_out, 10))
    report = health_report(model, X[:100], Y[:100])
    (stats,) = report.activations
    assert stats.name == "1" and stats.kind == cls.__name__
    assert (stats.saturated is not None) == (cls.__name__ in
                                             ("Sigmoid", "Tanh", "Hardtanh", "ReLU6", "Hardsigmoid",
                                              "Softsign"))


def test_loss_fn_without_targets():
    model = healthy()
    report = health_report(model, X, loss_fn=lambda out: out.pow(2).mean())
    assert report.loss > 0


def test_numpy_inputs():
    report = health_report(healthy(), DATA.X_train, DATA.y_train)
    assert report.samples == len(DATA.y_train)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda():
    model = healthy().cuda()
    report = health_report(model, X, Y)
    assert report.findings == []


# --- nothing changes -------------------------------------------------------------------------

def snapshot(model):
    return ({n: p.detach().clone() for n, p in model.named_parameters()},
            {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()},
            {n: b.clone() for n, b in model.named_buffers()},
            {n: m.training for n, m in model.named_modules()},
            {n: (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
             for n, m in model.named_modules()},
            torch.get_rng_state())


def assert_same(before, after):
    for b, a in zip(before[:3], after[:3]):
        assert b.keys() == a.keys()
        for k in b:
            if b[k] is None:
                assert a[k] is None, k
            else:
                assert torch.equal(b[k], a[k]), k
    assert before[3] == after[3]
    assert before[4] == after[4]
    assert torch.equal(before[5], after[5])


def test_model_unchanged():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.5),
                          nn.Linear(32, 10))
    model[0].weight.grad = torch.full_like(model[0].weight, 0.5)   # an existing gradient stays
    model[1].eval()                                                # mixed modes stay mixed
    model.register_forward_hook(lambda m, a, o: None)              # the user's own hook stays
    before = snapshot(model)
    health_report(model, X, Y)
    assert_same(before, snapshot(model))


class Raises(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.act = nn.Linear(64, 8), nn.ReLU()

    def forward(self, x):
        self.act(self.a(x))
        raise RuntimeError("boom")


def test_model_unchanged_when_it_raises():
    torch.manual_seed(0)
    model = Raises().eval()
    before = snapshot(model)
    with pytest.raises(DiagnosticError, match="boom"):
        health_report(model, X, Y)
    assert_same(before, snapshot(model))


# --- errors ----------------------------------------------------------------------------------

def test_error_no_activation_layers():
    with pytest.raises(DiagnosticError, match="no activation module"):
        health_report(nn.Sequential(nn.Linear(64, 10)), X, Y)


class Functional(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.act = nn.Linear(64, 8), nn.Linear(8, 10), nn.ReLU()

    def forward(self, x):
        return self.b(torch.relu(self.a(x)))


def test_activation_function_called_instead_of_the_module_is_seen():
    """Issue 20: torch.relu in forward() is seen; the registered but unused nn.ReLU is not reported."""
    torch.manual_seed(0)
    report = health_report(Functional(), X, Y)
    assert [(a.name, a.kind, a.units) for a in report.activations] == [("(model)/relu", "relu()", 8)]


def test_error_wrong_shape_names_the_layer():
    with pytest.raises(DiagnosticError, match=r"layer '0' \(Linear\).*\(1348, 63\).*\(N, 64\)"):
        health_report(healthy(), X[:, :63], Y, batch_size=2048)
    with pytest.raises(DiagnosticError, match=r"batch of shape \(256, 63\).*layer '0' \(Linear\)"):
        health_report(healthy(), X[:, :63], Y)                   # batches of 256 by default


def test_error_non_finite_loss_names_first_layer():
    model = mlp([64, 32, 32, 10], nn.ReLU, seed=0)
    with torch.no_grad():
        model[2].weight[0, 0] = float("inf")
    with pytest.raises(DiagnosticError, match=r"not finite.*layer '2' \(Linear\)"):
        health_report(model, X, Y)


def test_error_non_finite_inputs():
    bad = X.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(DiagnosticError, match="NaN or inf"):
        health_report(healthy(), bad, Y)


def test_error_y_missing_without_loss_fn():
    with pytest.raises(DiagnosticError, match="y is missing"):
        health_report(healthy(), X)


@pytest.mark.parametrize("bad, match", [
    (dict(y=Y[:10]), "1348 inputs but y has 10"),
    (dict(X=X[:0]), "first dimension N >= 1"),
    (dict(loss_fn=lambda out, y: out.sum(dim=1)), "one number"),
    (dict(y=torch.stack([Y, Y], 1)), "the loss failed"),
    (dict(y=Y.float()), r"regression target.*loss_fn=nn\.MSELoss\(\)"),
    (dict(tolerance=0.7), "tolerance"),
])
def test_error_bad_arguments(bad, match):
    args = {"X": X, "y": Y, **bad}
    with pytest.raises(DiagnosticError, match=match):
        health_report(healthy(), args.pop("X"), args.pop("y"), **args)


def test_error_not_a_module():
    with pytest.raises(DiagnosticError, match="torch.nn.Module"):
        health_report(lambda x: x, X, Y)


# --- output ----------------------------------------------------------------------------------

def test_table_and_explanation_fit_the_column():
    model = mlp([64] + [64] * 6 + [10], nn.ReLU, seed=0)
    with torch.no_grad():
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=1.0)
    torch.manual_seed(0)
    for report in (health_report(model, X, Y), health_report(Net(), X, Y)):
        text = str(report)
        assert max(len(line) for line in text.splitlines()) <= 74, text
        assert "layer" in report.table() and "|grad W|" in report.table()


def test_plot_fits_the_column():
    import matplotlib.pyplot as plt

    from relucourse.style import MAX_WIDTH

    fig = health_report(mlp([64] + [64] * 10 + [10], nn.Sigmoid, seed=0), X, Y).plot()
    assert fig.get_size_inches()[0] <= MAX_WIDTH
    assert len(fig.axes) == 2
    plt.close(fig)


# --- benchmark -------------------------------------------------------------------------------

def test_benchmark_chapter_models(capsys):
    """Time the report on chapter 6's models (printed; no timed assertion)."""
    from relucourse.benchmark import best_time, machine_description

    models = {
        "case 1, ten hidden sigmoid layers": mlp([64] + [64] * 10 + [10], nn.Sigmoid, seed=0),
        "case 2, two hidden ReLU layers": mlp([64, 64, 64, 10], nn.ReLU, seed=0, init="he"),
        "case 3, six hidden ReLU layers": mlp([64] + [64] * 6 + [10], nn.ReLU, seed=0),
    }
    lines = [f"\nhealth_report on {len(Y)} digits ({machine_description()}):"]
    for name, model in models.items():
        seconds = best_time(lambda: health_report(model, X, Y), repeat=3, min_time=0.05)
        lines.append(f"  {name}: {seconds * 1e3:.0f} ms")
        assert seconds > 0
    with capsys.disabled():
        print("\n".join(lines))


def test_summary_names_each_kind_once_with_its_layers():
    raw = digits(standardize=False)
    model = healthy()
    with torch.no_grad():
        model[2].bias[:40] = -1e3
    report = health_report(model, raw.X_train, raw.y_train, update_ratio=1e9)
    lines = report.summary().splitlines()
    assert lines[0] == "inputs not standardized: input"        # two findings, one layer named once
    assert "dead units: 3" in lines
    assert health_report(healthy(), X, Y).summary() == "no findings"
    with pytest.raises(KeyError, match="no layer named 'nope'"):
        report["nope"]


def test_bench_health_measures_and_prints_its_table(monkeypatch, capsys):
    """`python -m tools bench-health` (not a timed test): each measurement runs against the report as
    it is now, and the table has a ratio per column. Measured here in this process, once."""
    from tools import bench_health

    name = "MLP, ReLU (book)"
    threads = torch.get_num_threads()
    try:
        times = bench_health._one(name, "time", 1)
        assert times["plain"] > 0 and times["report"] > 0 and times["parameters"] == 8970
        for what in ("plain", "report", "plain-warm", "report-warm"):
            # (a number; its size means something only in a fresh process, as the script runs it)
            peak = bench_health._one(name, what, 0)["peak_mb"]
            assert peak is None or isinstance(peak, float), what
    finally:
        torch.set_num_threads(threads)                  # _one sets the benchmark's thread count
    monkeypatch.setattr(bench_health, "_measure", lambda n, what, repeat, threads, inputs=0: {
        "time": {"plain": 1e-3, "report": 1.5e-3, "parameters": 10},
        "plain": {"peak_mb": 2.0, "parameters": 10}, "report": {"peak_mb": 2.5, "parameters": 10},
        "plain-warm": {"peak_mb": 1.0}, "report-warm": {"peak_mb": 1.2}}[what])
    assert bench_health.main(["--models", name, "--no-large"]) == 0
    out = capsys.readouterr().out
    assert f"{name:<20}{10:>11,}    1.50x    1.25x    1.20x" in out
    assert "worst: time 1.50x (goal 2x), memory 1.25x first call, 1.20x warm (goal 1.5x)" in out
