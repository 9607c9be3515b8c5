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
