"""The health report on the calibration zoo (issue 20): no false alarm, the injected faults found.

The zoo (relucourse.health_zoo) is the book's own healthy networks and
transformers' model classes built from small configs (random weights, nothing
downloaded). The table is computed once per test session.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
pytest.importorskip("transformers")

from relucourse import health_zoo as zoo  # noqa: E402
from relucourse.diagnostics import dead_units  # noqa: E402
from relucourse.health import health_report  # noqa: E402


@pytest.fixture(scope="module")
def table():
    return zoo.calibration_table()


def test_no_false_alarm_on_any_healthy_zoo_model(table):
    for name, row in table.items():
        for column in ("healthy (train)", "healthy (eval)"):
            cell = row[column]
            assert cell.outcome in ("ok", "said so"), (name, column, cell.kinds)
    # the one finding that is expected in a healthy model says so in its words
    assert table["BERT"]["healthy (train)"].outcome == "said so"


@pytest.mark.parametrize("fault", ["dead units", "saturation", "raw inputs", "vanishing gradient"])
def test_injected_faults_are_found(table, fault):
    outcomes = {name: row[fault].outcome for name, row in table.items()}
    assert set(outcomes.values()) <= {"found", "n/a"}, outcomes
    assert list(outcomes.values()).count("found") >= 3


def test_huge_learning_rate_step_found_wherever_it_kills_units(table):
    """The dead-unit fault's second variant: one Adam step at learning rate 1 (issue 20)."""
    column = "dead units (lr step)"
    outcomes = {name: row[column].outcome for name, row in table.items()}
    assert set(outcomes.values()) <= {"found", "alive", "n/a"}, outcomes
    assert list(outcomes.values()).count("found") >= 3
    for name in ("MLP, ReLU (book)", "CNN + BN (book)", "ResNet", "MobileNetV2"):
        assert outcomes[name] == "found", outcomes
    assert outcomes["MLP, tanh (book)"] == "n/a"                 # tanh has no off state
    for name, row in table.items():
        cell = row[column]
        if cell.outcome == "found":            # the zoo's own count agrees that units died
            assert cell.numbers["dead"] > 0.2, (name, cell.numbers)
        if cell.outcome == "alive":            # and where it says none did, none came close
            assert cell.numbers["dead"] < 0.05, (name, cell.numbers)


def test_zoo_dead_count_agrees_with_the_report():
    """dead_shares (the zoo's own hooks) and the report count the same dead units after the step."""
    X, y = zoo.inputs("MLP, ReLU (book)")
    model = zoo.build("MLP, ReLU (book)")
    before = [p.detach().clone() for p in model.parameters()]
    zoo.huge_step(model, X, y)
    assert all((p - b).abs().max() > 0.5 for p, b in zip(model.parameters(), before))
    sites = zoo._sites(model, X)
    own = zoo.dead_shares(model, X, sites)
    report = health_report(model, X, y)
    assert own == {a.name: a.dead for a in report.activations}
    assert max(own.values()) > 0.2


def test_every_column_starts_from_the_same_weights():
    """One build per model, its state restored between columns: the table equals fresh builds."""
    fresh = {}
    for fault in ("saturation", "exploding weights"):
        X, y = zoo.inputs("BERT")
        model = zoo.build("BERT")
        healthy = zoo._report(model, X, y)
        handles: list = []
        zoo._inject("BERT", fault, model, X, y, healthy, zoo._sites(model, X), handles)
        fresh[fault] = zoo._report(model, X, y).kinds()
    table = zoo.calibration_table(models=["BERT"], faults=["saturation", "exploding weights"])
    assert {f: table["BERT"][f].kinds for f in fresh} == fresh


def test_exploding_weights_misses_have_their_causes(table):
    """The page's explanation of each miss, as numbers: see back/health_calibration.md."""
    column = "exploding weights"
    numbers = {name: row[column].numbers for name, row in table.items()}
    for name in ("ResNet", "CNN + BN (book)"):          # no effect but on the logits
        assert numbers[name]["spread"] < 1.001
        assert numbers[name]["loss"] > 2 * numbers[name]["healthy_loss"]
    for name in ("GPT-2", "LLaMA"):                      # weights of a normal size after the fault
        assert numbers[name]["gain"] < 2 and numbers[name]["pre_std"] < 2.5
    efficientnet = table["EfficientNet"]["healthy (train)"].numbers
    assert efficientnet["last_std"] < 1e-20               # its activations vanish at its init


def test_exploding_weights_found_where_they_change_the_model(table):
    outcomes = {name: row["exploding weights"].outcome for name, row in table.items()}
    for name in ("MLP, ReLU (book)", "MLP, tanh (book)", "ViT", "BERT"):
        assert outcomes[name] == "found", outcomes
    assert outcomes["ResNet"] == outcomes["CNN + BN (book)"] == "no effect"


def test_table_text_fits_the_column(table):
    text = zoo.table_text(table)
    assert max(len(line) for line in text.splitlines()) <= 74
    assert len(text.splitlines()) == len(zoo.MODELS) + 1


def test_every_zoo_model_shows_its_activations_by_kind():
    kinds = {}
    for name in zoo.MODELS:
        X, y = zoo.inputs(name)
        report = health_report(zoo.build(name), X, y)
        kinds[name] = {a.kind for a in report.activations}
        assert all(a.inputs == zoo.ZOO_INPUTS for a in report.activations)
        assert report.unseen == []
    assert kinds["GPT-2"] == {"NewGELUActivation"}
    assert kinds["ViT"] == kinds["ConvNeXt"] == {"GELUActivation"}
    assert kinds["BERT"] == {"GELUActivation", "Tanh"}          # the pooler's tanh is a layer's activation
    assert kinds["MobileNetV2"] == {"ReLU6"} and kinds["ResNet"] == {"ReLU"}
    assert kinds["EfficientNet"] == {"SiLU", "Sigmoid"}


def test_llama_reports_the_gate_of_its_swiglu():
    X, _ = zoo.inputs("LLaMA")
    report = dead_units(zoo.build("LLaMA"), X)
    assert [r.name for r in report.layers] == ["model.layers.0.mlp.act_fn", "model.layers.1.mlp.act_fn"]
    assert report.layers[0].units == 64                          # intermediate_size: the gate's units


def test_efficientnet_silu_units_below_zero_are_off_not_dead():
    """Issue 20: dead_units called 70% of EfficientNet's SiLU units dead at initialisation."""
    X, _ = zoo.inputs("EfficientNet")
    report = dead_units(zoo.build("EfficientNet"), X, train_mode=False)   # as the old tool ran it
    off = sum(r.off for r in report.layers)
    assert off > 0.3 * report.units                   # many inputs never crossed 0 ...
    assert report.dead < 0.1 * off                     # ... but few sit where SiLU's slope is ~0


def test_dead_units_and_health_report_agree_on_resnet():
    X, y = zoo.inputs("ResNet")
    model = zoo.build("ResNet")
    for train_mode in (True, False):
        dead = dead_units(model, X, train_mode=train_mode)
        health = health_report(model, X, y, train_mode=train_mode)
        assert [r.fraction for r in dead.layers] == [a.dead for a in health.activations]
