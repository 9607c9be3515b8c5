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
