"""The inspection core (issue 20): what it sees, what it accepts, its errors, and the two views agreeing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from relucourse.diagnostics import DiagnosticError, dead_units
from relucourse.health import health_report
from relucourse.inspection import KINDS, module_kind


def data(n=64, d=8, seed=0):
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


def labels(n=64, k=3):
    return torch.arange(n) % k


# --- importing the tools needs torch and numpy only -----------------------------------------

def test_tools_import_only_torch_and_numpy():
    code = ("import sys; import relucourse.health, relucourse.diagnostics, relucourse.inspection; "
            "bad = [m for m in ('transformers', 'matplotlib', 'scipy', 'sklearn', 'altair', 'yaml') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# --- activation functions called in forward() -----------------------------------------------

CALLS = {
    "F.relu": (lambda h: F.relu(h), "relu"),
    "torch.relu": (lambda h: torch.relu(h), "relu"),
    "Tensor.relu": (lambda h: h.relu(), "relu"),
    "F.relu inplace": (lambda h: F.relu(h, inplace=True), "relu"),
    "torch.relu_": (lambda h: torch.relu_(h), "relu_"),
    "Tensor.relu_": (lambda h: h.relu_(), "relu_"),
    "F.gelu": (lambda h: F.gelu(h), "gelu"),
    "F.silu": (lambda h: F.silu(h), "silu"),
    "torch.tanh": (lambda h: torch.tanh(h), "tanh"),
    "torch.sigmoid": (lambda h: torch.sigmoid(h), "sigmoid"),
    "F.leaky_relu": (lambda h: F.leaky_relu(h), "leaky_relu"),
    "F.elu": (lambda h: F.elu(h), "elu"),
    "F.softplus": (lambda h: F.softplus(h), "softplus"),
    "F.hardswish": (lambda h: F.hardswish(h), "hardswish"),
    "F.mish": (lambda h: F.mish(h), "mish"),
}


class Calls(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fc1, self.fc2, self.fn = nn.Linear(8, 6), nn.Linear(6, 3), fn

    def forward(self, x):
        return self.fc2(self.fn(self.fc1(x)))


@pytest.mark.parametrize("form", CALLS)
def test_every_activation_function_form_is_seen(form):
    fn, shown = CALLS[form]
    torch.manual_seed(0)
    report = health_report(Calls(fn), data(), labels())
    (a,) = report.activations
    assert (a.name, a.kind, a.units, a.inputs) == (f"(model)/{shown}", f"{shown}()", 6, 64)
    assert report.unseen == []


def test_function_sites_are_named_by_module_function_and_call_index():
    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)

        def forward(self, x):
            return F.relu(self.b(F.relu(self.a(x))))

    model = nn.Sequential(Block(), nn.ReLU(), nn.Linear(8, 3))
    names = [a.name for a in health_report(model, data(), labels()).activations]
    assert names == ["0/relu", "0/relu (call 2)", "1"]


class NewGELUActivation(nn.Module):
    """Same class name as transformers' (matched by name): GELU built from tanh."""

    def forward(self, x):
        return 0.5 * x * (1.0 + torch.tanh(0.7978845608 * (x + 0.044715 * torch.pow(x, 3.0))))


def test_library_activation_is_one_activation_and_its_tanh_is_not_counted():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), NewGELUActivation(), nn.Linear(6, 3))
    report = health_report(model, data(), labels())
    assert [(a.name, a.kind, a.activation) for a in report.activations] == [
        ("1", "NewGELUActivation", "gelu_tanh")]
    assert module_kind(NewGELUActivation()) == "gelu_tanh"


def test_tanh_as_arithmetic_is_not_an_activation_layer():
    class Formula(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2 = nn.Linear(8, 6), nn.Linear(6, 3)

        def forward(self, x):
            h = self.fc1(x)
            g = 0.5 * h * (1 + torch.tanh(0.8 * (h + 0.04 * h ** 3)))      # GELU written out: arithmetic
            return self.fc2(F.relu(g))

    report = health_report(Formula(), data(), labels())
    assert [a.name for a in report.activations] == ["(model)/relu"]


def test_user_activation_through_the_activations_argument():
    class MyAct(nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(1.702 * x)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), MyAct(), nn.Linear(6, 3))
    with pytest.raises(DiagnosticError, match=r"activations=\{MyAct"):
        health_report(model, data(), labels())                      # nothing seen, and it says why
    report = health_report(model, data(), labels(), activations={MyAct: "quick_gelu"})
    assert [(a.name, a.kind) for a in report.activations] == [("1", "MyAct")]
    assert dead_units(model, data(), activations={"MyAct": "quick_gelu"}).layers[0].name == "1"
    with pytest.raises(DiagnosticError, match="not a kind the tool knows"):
        dead_units(model, data(), activations={MyAct: "swishy"})
    assert set(KINDS) >= {"relu", "gelu", "silu", "tanh", "sigmoid"}


def test_mixed_module_and_function_activations_are_all_seen():
    class Mixed(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.c = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 3)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.c(F.relu(self.b(self.act(self.a(x)))))

    assert [r.name for r in dead_units(Mixed(), data()).layers] == ["act", "(model)/relu"]


def test_transformer_encoder_feed_forward_activation():
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16, batch_first=True)
    model = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    X = torch.randn(32, 5, 8, generator=torch.Generator().manual_seed(1))
    report = dead_units(model, X)                               # training mode: the Python path
    assert [(r.name, r.units) for r in report.layers] == [("layers.0/relu", 16), ("layers.1/relu", 16)]
    # eval + no_grad would take PyTorch's fused fast path, but the tool's function mode turns it off
    assert dead_units(model, X, train_mode=False).to_dict()["layers"][0]["name"] == "layers.0/relu"


def test_lstm_gates_are_reported_as_not_seen():
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.act, self.out = nn.LSTM(8, 8, batch_first=True), nn.ReLU(), nn.Linear(8, 3)

        def forward(self, x):
            return self.out(self.act(self.lstm(x)[0][:, -1]))

    torch.manual_seed(0)
    X = torch.randn(40, 5, 8, generator=torch.Generator().manual_seed(2))
    report = health_report(Tagger(), X, torch.arange(40) % 3)
    assert report.unseen and report.unseen[0][:2] == ("lstm", "LSTM")
    assert "fused kernel" in report.explain() and "Not seen" in report.explain()
    assert "Not seen" in str(dead_units(Tagger(), X))


# --- inputs and outputs -----------------------------------------------------------------------

class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b, self.act, self.out = nn.Linear(8, 6), nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)

    def forward(self, x, z):
        return self.out(self.act(self.a(x) + self.b(z)))


class KeywordModel(TwoInputs):
    def forward(self, pixel=None, extra=None, labels=None):
        logits = super().forward(pixel, extra)
        out = {"logits": logits}
        if labels is not None:
            out["loss"] = F.cross_entropy(logits, labels)
        return out


def test_tuple_dict_and_dataloader_inputs_give_the_same_report():
    torch.manual_seed(0)
    model = KeywordModel()
    X, Z, y = data(96), data(96, seed=1), labels(96)
    by_dict = health_report(model, {"pixel": X, "extra": Z}, y)
    by_tuple = health_report(model, (X, Z), y)
    own_loss = health_report(model, {"pixel": X, "extra": Z, "labels": y})
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(X, Z, y), batch_size=32)
    batches = [{"pixel": a, "extra": b, "labels": c} for a, b, c in loader]
    by_batches = health_report(model, batches)
    for r in (by_tuple, own_loss, by_batches):
        assert r.loss == pytest.approx(by_dict.loss, rel=1e-5)
        assert r.activations[0].dead == by_dict.activations[0].dead
        assert [p.grad_norm for p in r.parameters] == pytest.approx([p.grad_norm for p in by_dict.parameters],
                                                                    rel=1e-4)
    assert by_batches.batches == 3 and by_batches.samples == 96
    assert health_report(model, batches, max_batches=2).samples == 64


def test_outputs_as_tuple_and_model_output():
    class TupleOut(nn.Sequential):
        def forward(self, x):
            return (super().forward(x), "extra")

    torch.manual_seed(0)
    assert health_report(TupleOut(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)), data(), labels()).loss > 0


def test_dataloader_with_max_batches_bounds_the_work():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data(1000), labels(1000)),
                                         batch_size=100)
    report = health_report(model, loader, max_batches=3)
    assert report.samples == 300 and report.batches == 3
    assert dead_units(model, loader, max_batches=2).samples == 200


def test_frozen_layers_are_reported_as_frozen():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))
    for p in model[0].parameters():
        p.requires_grad_(False)
    report = health_report(model, data(), labels())
    assert report["0"].frozen and report["0"].grad_norm != report["0"].grad_norm      # NaN: no gradient
    assert not report["2"].frozen and report["2"].grad_norm > 0
    assert "frozen" in report.table()
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True, True, True]
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(DiagnosticError, match="every parameter of the model is frozen"):
        health_report(model, data(), labels())


def test_dtypes():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)).double()
    assert health_report(model, data().numpy().astype(np.float32), labels()).samples == 64   # numpy: converted
    with pytest.raises(DiagnosticError, match=r"inputs are torch.float32.*parameters are torch.float64"):
        health_report(model, data(), labels())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_model_with_cpu_inputs():
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3)).cuda()
    report = health_report(model, data(), labels())
    assert report.samples == 64 and dead_units(model, data()).samples == 64


# --- clear errors ------------------------------------------------------------------------------

def small():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))


def test_error_loss_not_depending_on_parameters():
    with pytest.raises(DiagnosticError, match="does not depend on any trainable parameter"):
        health_report(small(), data(), labels(), loss_fn=lambda out, y: out.detach().sum())


def test_error_all_zero_gradients():
    with pytest.raises(DiagnosticError, match="every gradient is exactly 0"):
        health_report(small(), data(), labels(), loss_fn=lambda out, y: (out * 0).sum())


def test_error_inference_mode():
    with torch.inference_mode():
        with pytest.raises(DiagnosticError, match=r"inside torch.inference_mode\(\).*call it outside"):
            health_report(small(), data(), labels())


def test_error_dataloader_without_targets():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data()), batch_size=16)
    with pytest.raises(DiagnosticError, match=r"inputs only, no targets.*\(inputs, targets\) pairs"):
        health_report(small(), loader)
    assert dead_units(small(), loader).samples == 64          # dead units need no targets


def test_error_regression_without_loss_fn():
    model = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 1))
    with pytest.raises(DiagnosticError, match=r"pass loss_fn=nn\.MSELoss\(\) for a regression model"):
        health_report(model, data(), torch.randn(64, 1))


def test_error_nothing_visible():
    with pytest.raises(DiagnosticError, match="found no activation"):
        health_report(nn.Sequential(nn.Linear(8, 3)), data(), labels())


# --- the two views agree ------------------------------------------------------------------------

def cnn():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 64, 10))


@pytest.mark.parametrize("train_mode", [True, False])
def test_dead_units_and_health_report_agree(train_mode):
    model = cnn()
    with torch.no_grad():
        model[1].bias[:3] = -5.0
        model[4].running_mean.fill_(3.0)        # eval mode: a shifted running mean kills channels
        model[4].num_batches_tracked.fill_(10)
        model[1].num_batches_tracked.fill_(10)
    X = torch.randn(96, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    y = torch.arange(96) % 10
    dead = dead_units(model, X, batch_size=32, train_mode=train_mode)
    health = health_report(model, X, y, batch_size=32, train_mode=train_mode)
    assert [r.name for r in dead.layers] == [a.name for a in health.activations]
    assert [r.fraction for r in dead.layers] == [a.dead for a in health.activations]
    assert all(r.inputs == a.inputs == 96 for r, a in zip(dead.layers, health.activations))
    assert dead.layers[0].dead == 3


def test_train_and_eval_mode_differ_with_batch_norm_as_documented():
    model = cnn()
    with torch.no_grad():
        model[4].running_mean.fill_(3.0)
        model[4].num_batches_tracked.fill_(10)
        model[1].num_batches_tracked.fill_(10)
    X = torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    assert dead_units(model, X).layers[1].dead == 0                   # training: the batch's statistics
    assert dead_units(model, X, train_mode=False).layers[1].dead > 0  # eval: the running statistics


def test_untrained_batch_norm_in_eval_mode_gets_a_note_not_a_verdict():
    X = torch.randn(64, 1, 8, 8, generator=torch.Generator().manual_seed(3))
    report = health_report(cnn(), X, torch.arange(64) % 10, train_mode=False)
    assert "running statistics at their initial values" in report.explain()
    assert not {"dead units", "saturation", "exploding activations"} & set(report.kinds())


# --- statistics ---------------------------------------------------------------------------------

def test_a_verdict_needs_enough_inputs():
    model = small()
    with torch.no_grad():
        model[0].bias[:4] = -100.0
    few = health_report(model, data(4), labels(4))
    assert few.activations[0].dead == pytest.approx(4 / 6) and few.activations[0].inputs == 4
    assert "dead units" not in few.kinds() and "not evidence" in few.explain()
    assert "dead units" in health_report(model, data(64), labels(64)).kinds()


@pytest.mark.parametrize("act, low, high", [(nn.ReLU6(), 5.99, 6.0), (nn.Hardtanh(), 0.99, 1.0),
                                            (nn.Hardsigmoid(), 0.99, 1.0)])
def test_saturation_of_piecewise_linear_activations_counts_the_exact_bound(act, low, high):
    """Issue 18, item 10: one step inside the bound the slope is still 1 (or 1/6)."""
    model = nn.Sequential(nn.Linear(8, 4), act, nn.Linear(4, 3))
    inverse = {"ReLU6": lambda v: v, "Hardtanh": lambda v: v, "Hardsigmoid": lambda v: 6 * v - 3}
    for value, share in ((low, 0.0), (high + 1, 1.0)):
        with torch.no_grad():
            model[0].weight.zero_()
            model[0].bias.fill_(inverse[type(act).__name__](value))
        assert health_report(model, data(), labels())["1"].saturated == share


def test_inputs_are_checked_per_feature():
    """Issue 18, item 11: means +3 and -3 pool to 0; one unscaled feature hides among many."""
    X = data(256, d=8)
    shifted = X.clone()
    shifted[:, 0] += 3.0
    shifted[:, 1] -= 3.0
    r = health_report(small(), shifted, labels(256))
    assert abs(r.input_mean) < 0.1 and abs(r.input_feature_mean) > 2.5
    assert "inputs not standardized" in r.kinds()
    one = X.clone()
    one[:, 5] *= 30.0
    r = health_report(small(), one, labels(256), update_ratio=1e9)
    assert r.input_feature_std[1] > 20 and r.kinds() == ["inputs not standardized"]
    assert health_report(small(), X, labels(256)).findings == []


def test_unscaled_regression_targets_are_a_target_problem():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    y = 1000 * torch.randn(64, 1, generator=torch.Generator().manual_seed(4)) + 5000
    report = health_report(model, data(), y, loss_fn=nn.MSELoss())
    assert report.kinds() == ["targets not standardized"]
    assert "Standardize the targets" in report.explain()
    assert health_report(model, data(), (y - 5000) / 1000, loss_fn=nn.MSELoss()).findings == []


def test_layer_followed_by_normalisation_is_not_judged_by_its_update_ratio():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    with torch.no_grad():
        model[0].weight.mul_(1e-3)                 # tiny weights: a huge ratio, and harmless under BN
    report = health_report(model, data(), labels())
    assert report["0"].normalised and report["0"].ratio > 10
    assert "exploding gradient" not in report.kinds()
    assert "normalised" in report.table()


def test_hooks_are_process_wide_during_the_pass_and_gone_after_it():
    from torch.nn.modules import module as M
    before = (len(M._global_forward_hooks), len(M._global_forward_pre_hooks))
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    calls = []
    model[0].register_forward_hook(lambda m, a, out: calls.append(1) or out * 0 - 1)

    class Wrapper(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = model

        def forward(self, x):
            return self.inner(x)

    wrapper = Wrapper()
    report = health_report(wrapper, data(), labels())
    # the recorder saw what model[0]'s own hook returned (every input -1: all units dead)
    assert calls and report["inner.1"].dead == 1.0
    assert [a.name for a in report.activations] == ["inner.1"]
    assert (len(M._global_forward_hooks), len(M._global_forward_pre_hooks)) == before
    assert len(model[0]._forward_hooks) == 1 and not model[0]._forward_pre_hooks
    with pytest.raises(DiagnosticError):
        health_report(wrapper, torch.randn(4, 5), labels(4))
    assert (len(M._global_forward_hooks), len(M._global_forward_pre_hooks)) == before


def test_dead_message_uses_chapter_4s_wording_for_smooth_functions():
    """Issue 18, item 3: a GELU unit below 0 keeps a slope; only far below is it dead."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 3))
    with torch.no_grad():
        model[0].bias[:8] = -1e3
    [f] = [f for f in health_report(model, data(), labels()).findings if f.kind == "dead units"]
    assert "slope is within 0.01 of 0" in f.message and "a slope of 0.5 at 0" in f.message
    assert "small or fading" not in f.message


# --- the distribution ---------------------------------------------------------------------------

def test_distribution_installs_the_tools_with_torch_and_numpy_only(tmp_path):
    """Issue 20: `pip install` of the repository needs torch and numpy; plotting is an extra."""
    import shutil
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(root / "pyproject.toml", src)
    shutil.copytree(root / "relucourse", src / "relucourse",
                    ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist"), str(src)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "dist").glob("relucourse-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = z.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    required = sorted(r.split(">")[0].split("=")[0].split("<")[0].strip() for r in requires if "extra ==" not in r)
    assert required == ["numpy", "torch"], requires
    assert any(r.startswith("matplotlib") and 'extra == "plots"' in r for r in requires)
    for module in ("inspection", "health", "diagnostics"):
        assert f"relucourse/{module}.py" in names
    assert not any(n.startswith("tools/") for n in names)


# --- the statistics' arithmetic (issue 20, "fast and lean") -----------------------------------

@pytest.mark.parametrize("train_mode", [True, False])
def test_batch_norm_is_left_alone_and_normalises_as_it_would(train_mode):
    """torch's batch norm runs with track_running_stats off during the pass instead of having its
    buffers copied back: its running statistics are untouched, the flag comes back, and in training
    mode it still normalises each batch by the batch's own statistics."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3),
                          nn.BatchNorm1d(3, track_running_stats=False))
    x = data() * 3 + 5
    with torch.no_grad():
        model[1].running_mean.fill_(0.5)
        model[1].num_batches_tracked.fill_(7)
    before = {k: v.clone() for k, v in model[1].state_dict().items()}
    report = health_report(model, x, labels(), train_mode=train_mode, batch_size=64)
    for k, v in model[1].state_dict().items():
        assert torch.equal(v, before[k]), k
    assert model[1].track_running_stats and not model[4].track_running_stats
    with torch.no_grad():
        h = model[0](x)
        expected = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + 1e-5) if train_mode else \
            (h - 0.5) / torch.sqrt(torch.tensor(1.0 + 1e-5))
    assert report["2"].pre_mean == pytest.approx(float(expected.mean()), abs=1e-6)
    assert report["2"].pre_std == pytest.approx(float(expected.double().std()), rel=1e-5)


def reference(values):
    v = values.double().flatten()
    return float(v.mean()), float(v.std())


@pytest.mark.parametrize("batch_size", [64, 16, 5])
def test_mean_and_std_keep_their_precision_under_a_large_offset(batch_size):
    """Sums in float32 with the squares taken about each batch's mean, batches merged in float64:
    a mean 10,000 times the spread costs no digits (the sum of squares minus n mean^2 lost them all)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 3))
    with torch.no_grad():
        model[0].weight.mul_(1e-3)
        model[0].bias.fill_(10.0)                       # inputs to tanh: about 10 +- 0.001
    x = data()
    report = health_report(model, x, labels(), batch_size=batch_size)
    with torch.no_grad():
        pre = model[0](x)
        post = torch.tanh(pre)
    for got, values in (((report["1"].pre_mean, report["1"].pre_std), pre),
                        ((report["1"].mean, report["1"].std), post)):
        mean, std = reference(values)
        assert got[0] == pytest.approx(mean, rel=1e-6)
        assert got[1] == pytest.approx(std, rel=1e-4, abs=1e-9)


def test_input_moments_small_large_and_in_batches_agree():
    """The per-feature input moments: float64 numpy for small inputs, torch for large ones, and
    batches merged by Chan's update all give the same mean and standard deviation."""
    from relucourse.inspection import _feature_moments, _merge_features
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3000, 40, generator=g) * torch.linspace(0.1, 10, 40) + torch.linspace(-500, 500, 40)
    ref_mean, ref_std = x.double().mean(0), x.double().std(0)
    small = _merge_features(_feature_moments(x[:1000]), _feature_moments(x[1000:]))  # numpy path
    large = _feature_moments(x)                                                       # torch path
    assert x[:1000].numel() <= 1 << 16 < x.numel()
    for s, m2, n in (small, large):
        assert n == 3000
        np.testing.assert_allclose(s / n, ref_mean.numpy(), rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(np.sqrt(m2 / (n - 1)), ref_std.numpy(), rtol=1e-5)


def test_norms_outside_float32s_safe_range_are_computed_in_float64():
    from relucourse.health import _norms
    tiny, huge = torch.full((10,), 1e-30), torch.full((10,), 1e30)      # squares under/overflow
    got = _norms([tiny, huge, torch.zeros(3), torch.ones(4), torch.ones(4, dtype=torch.float16),
                  torch.ones(2, dtype=torch.float64)])
    assert got[0] == pytest.approx(10 ** 0.5 * 1e-30, rel=1e-6)
    assert got[1] == pytest.approx(10 ** 0.5 * 1e30, rel=1e-6)
    assert got[2:] == [0.0, 2.0, 2.0, pytest.approx(2 ** 0.5)]


def test_vanishing_gradients_are_measured_not_rounded_to_zero():
    """Gradients of 1e-25 (their float32 squares are 0) still get their norm and their ratio."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    report = health_report(model, data(), labels(), loss_fn=lambda out, y: F.cross_entropy(out, y) * 1e-25)
    grads = [p.grad_norm for p in report.parameters]
    assert all(1e-28 < g < 1e-22 for g in grads), grads
    plain = health_report(model, data(), labels())                  # the same pass, unscaled
    assert report["1"].grad_rms == pytest.approx(plain["1"].grad_rms * 1e-25, rel=1e-5)


class InplaceFunction(nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(8, 16), nn.Linear(16, 3)

    def forward(self, x):
        return self.b(F.relu(self.a(x), inplace=True) * 1e-20)


@pytest.mark.parametrize("form", ["module", "function"])
def test_float32_overflow_is_recomputed_in_float64_before_an_inplace_activation(form):
    """Inputs of 1e20 square past float32's range: the sums are taken again in float64, from the
    input as it was, even when the activation then overwrites it in place."""
    torch.manual_seed(0)
    if form == "module":
        model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(inplace=True), Scale(1e-20), nn.Linear(16, 3))
        first, site = model[0], "1"
    else:
        model = InplaceFunction()
        first, site = model.a, "(model)/relu"
    with torch.no_grad():
        first.weight.mul_(1e20)
        first.bias.mul_(1e20)
    x = data()
    report = health_report(model, x, labels())
    with torch.no_grad():
        pre = first(x)
    mean, std = reference(pre)
    assert report[site].pre_mean == pytest.approx(mean, rel=1e-6)
    assert report[site].pre_std == pytest.approx(std, rel=1e-6)
    post_mean, post_std = reference(torch.relu(pre))
    assert report[site].mean == pytest.approx(post_mean, rel=1e-6)
    assert report[site].std == pytest.approx(post_std, rel=1e-6)


class Scale(nn.Module):
    def __init__(self, factor):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return x * self.factor


def test_the_torch_paths_give_what_the_numpy_paths_give(monkeypatch):
    """On the CPU counts, samples and small input moments go through numpy; elsewhere (a GPU)
    torch does the same work. Forced down the torch paths here, the reports agree."""
    import relucourse.inspection as inspection
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(),
                          nn.Linear(16, 16), nn.Hardtanh(), nn.Linear(16, 3))
    with torch.no_grad():
        model[3].weight.mul_(3)                         # tanh and hardtanh partly saturated
        model[5].weight.mul_(4)
    x = data(200) * 2 + 1
    runs = []
    for numpy_ok in (True, False):
        monkeypatch.setattr(inspection, "_numpy_ok", lambda t, ok=numpy_ok: ok and t.device.type == "cpu")
        runs.append((health_report(model, x, labels(200), batch_size=64), dead_units(model, x, batch_size=64)))
    (a, da), (b, db) = runs
    assert [s.saturated for s in a.activations] == [s.saturated for s in b.activations]
    assert a.activations[1].saturated > 0.05 and a.activations[2].saturated > 0.05, a
    for s, t in zip(a.activations, b.activations):
        assert (s.dead, s.off, s.units, s.inputs) == (t.dead, t.off, t.units, t.inputs)
        for field in ("pre_mean", "pre_std", "mean", "std", "grad_rms"):
            assert getattr(s, field) == pytest.approx(getattr(t, field), rel=1e-6, abs=1e-9), field
        assert torch.equal(s.sample, t.sample)
    assert (a.input_mean, a.input_std) == (pytest.approx(b.input_mean), pytest.approx(b.input_std))
    assert [r.active_fraction for r in da.layers] == [r.active_fraction for r in db.layers]


def test_tiny_activations_keep_their_spread():
    """Values of 1e-25 are float32 numbers whose squares underflow to 0: their spread is taken
    again in float64, not reported as 0."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), Scale(1e25), nn.Linear(16, 3))
    with torch.no_grad():
        model[0].weight.mul_(1e-25)
        model[0].bias.mul_(1e-25)
    x = data()
    report = health_report(model, x, labels())
    with torch.no_grad():
        pre = model[0](x)
    for got, values in (((report["1"].pre_mean, report["1"].pre_std), pre),
                        ((report["1"].mean, report["1"].std), torch.tanh(pre))):
        mean, std = reference(values)
        assert 1e-27 < std < 1e-23
        assert got[0] == pytest.approx(mean, rel=1e-6)
        assert got[1] == pytest.approx(std, rel=1e-6)


def test_lazy_layers_get_a_clear_error_until_they_have_seen_an_input():
    torch.manual_seed(0)
    model = nn.Sequential(nn.LazyLinear(16), nn.LazyBatchNorm1d(), nn.ReLU(), nn.Linear(16, 3))
    for tool in (lambda: health_report(model, data(), labels()), lambda: dead_units(model, data())):
        with pytest.raises(DiagnosticError, match=r"lazy layer\(s\) '0', '1' have not seen an input yet"):
            tool()
    model(data()[:2])                                   # materialised, as the message says
    bn = model[1]
    before = {k: v.clone() for k, v in bn.state_dict().items()}
    assert health_report(model, data(), labels())["2"].units == 16
    assert all(torch.equal(v, before[k]) for k, v in bn.state_dict().items())


def test_parameters_and_buffers_come_from_the_one_walk_as_torch_lists_them():
    from relucourse.inspection import _members
    shared = nn.Linear(8, 8)
    model = nn.Sequential(nn.Embedding(10, 8), shared, nn.Sequential(shared, nn.BatchNorm1d(8)), nn.Linear(8, 10))
    model[3].weight = model[0].weight                    # tied, as a language model's output layer
    model.register_buffer("steps", torch.zeros(1))
    params, buffers = _members(list(model.named_modules()))
    assert [(n, id(p)) for n, p in params] == [(n, id(p)) for n, p in model.named_parameters()]
    assert [id(b) for b in buffers] == [id(b) for b in model.buffers()]
