"""The chapter-4 experiment helpers: seeded MLPs on the digits, their dead-unit records, activation swaps."""

import pytest
import torch
from torch import nn

from relucourse import experiments



def make_mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 6), nn.ReLU(), nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))


def test_build_mlp_and_digits_run():
    net = experiments.build_mlp((8, 8), "elu", batch_norm=True, seed=0)
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Linear", "BatchNorm1d", "ELU", "Linear", "BatchNorm1d", "ELU", "Linear"]
    with pytest.raises(ValueError, match="unknown activation"):
        experiments.build_mlp(activation="tanh")
    run = experiments.digits_run(hidden=(8,), epochs=2, lr=0.1, seed=1)
    again = experiments.digits_run(hidden=(8,), epochs=2, lr=0.1, seed=1, every_epoch=False)
    assert run.history == again.history                        # seeded
    assert run.recorder.epochs == [0, 1, 2] and len(run.dead) == 1 and not run.diverged
    assert again.recorder.epochs == [0, 2] and again.dead == run.dead
    assert 0 <= run.test_acc <= 1
    more = experiments.digits_run(run.model, epochs=1)
    assert more.model is run.model
    with pytest.raises(TypeError):
        experiments.digits_run(run.model, hidden=(4,))
    # lr 3.0: diverges within 2 epochs on seeds 0-5 (lr 2.0 did only on 2 of 6: too close to call)
    assert experiments.digits_run(activation="leaky_relu", epochs=2, lr=3.0).diverged


def test_swap_activations_keeps_weights():
    model = make_mlp()
    model.add_module("extra", nn.Sequential(nn.ReLU()))
    w = model[0].weight.clone()
    out = experiments.swap_activations(model, lambda: nn.LeakyReLU(0.2))
    assert out is model and torch.equal(model[0].weight, w)
    kinds = [type(m).__name__ for m in model.modules() if not isinstance(m, (nn.Sequential, nn.Linear))]
    assert kinds == ["LeakyReLU"] * 3


def test_build_mlp_is_training_mlp_plus_options():
    from relucourse.training import mlp

    plain = experiments.build_mlp((8, 4), "relu", init="he", bias=0.1, seed=3)
    reference = mlp([64, 8, 4, 10], nn.ReLU, init="he", bias=0.1, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(plain.parameters(), reference.parameters()))
    with_bn = experiments.build_mlp((8, 4), "relu", init="he", bias=0.1, batch_norm=True, seed=3)
    linears = [m for m in with_bn if isinstance(m, nn.Linear)]
    assert all(torch.equal(a.weight, b.weight) for a, b in zip(linears, reference[::2]))


def test_digits_run_records_what_dead_units_reports():
    from relucourse.diagnostics import dead_units

    run = experiments.digits_run(bias=-1.0, epochs=2, seed=0)
    assert run.dead == [r.fraction for r in dead_units(run.model, run.X_train).layers]
    assert max(run.dead) > 0.5                                  # the chapter's "bias -1" failure
    raw = experiments.digits_run(standardize=False, input_offset=5.0, epochs=1, seed=0)
    assert float(raw.X_train.min()) == 5.0 and float(raw.X_train.max()) == 21.0


def test_build_mlp_names_its_layers_readably():
    net = experiments.build_mlp((8, 8), batch_norm=True, seed=0)
    assert [n for n, _ in net.named_children()] == ["fc1", "bn1", "hidden1", "fc2", "bn2", "hidden2", "out"]
    assert net[0] is net.fc1
    run = experiments.digits_run(hidden=(8, 8), epochs=1, seed=0)
    assert list(run.recorder.history) == ["hidden1", "hidden2"]


def test_weight_decay_can_spare_the_biases():
    from relucourse.training import train_classifier
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    for p in model.parameters():
        p.requires_grad_(False)                      # no data gradient: only decay can move anything
    model[0].weight.requires_grad_(True)
    model[0].bias.requires_grad_(True)
    X, y = torch.randn(8, 3), torch.zeros(8, dtype=torch.long)
    with torch.no_grad():
        model[0].bias.fill_(-100.0)                  # every unit dead: zero data gradient
    w, b = model[0].weight.clone(), model[0].bias.clone()
    train_classifier(model, X, y, epochs=1, lr=0.1, weight_decay=0.5, decay_biases=False, batch_size=8)
    assert torch.allclose(model[0].weight, w * 0.95) and torch.equal(model[0].bias, b)
    train_classifier(model, X, y, epochs=1, lr=0.1, weight_decay=0.5, batch_size=8)
    assert torch.allclose(model[0].bias, b * 0.95)


@pytest.mark.parametrize("settings", [
    dict(hidden=(16, 16), lr=0.1),
    dict(hidden=(16,), lr=0.1, batch_norm=True, activation="elu"),
    dict(hidden=(16,), optimizer="adam", lr=1e-3, bias=-1.0, init="he"),
    dict(hidden=(16,), lr=0.1, momentum=0.9, weight_decay=0.01, decay_biases=False),
    dict(hidden=(16,), lr=0.1, standardize=False, input_offset=1.0),
])
def test_digits_runs_gives_each_seed_what_digits_run_gives_it(settings):
    # a calm setting (no chaos to amplify rounding): the same runs up to rounding
    stacked = experiments.digits_runs((0, 3), epochs=2, every_epoch=False, **settings)
    for seed, run in zip((0, 3), stacked):
        alone = experiments.digits_run(seed=seed, epochs=2, every_epoch=False, **settings)
        assert run.recorder.epochs == alone.recorder.epochs == [0, 2]
        assert run.history.keys() == alone.history.keys()
        for key, values in alone.history.items():
            assert run.history[key] == pytest.approx(values, rel=1e-4, abs=1e-5), key
        assert run.dead == alone.dead
        for p, q in zip(run.model.parameters(), alone.model.parameters()):
            assert torch.allclose(p, q, rtol=1e-4, atol=1e-5)
        for p, q in zip(run.model.buffers(), alone.model.buffers()):
            assert torch.allclose(p.double(), q.double(), rtol=1e-4, atol=1e-5)


def test_digits_runs_continues_given_models_and_refuses_what_it_cannot_stack():
    models = [experiments.build_mlp((8,), seed=s) for s in (0, 1)]
    copies = [experiments.swap_activations(m, nn.ELU) for m in models]
    runs = experiments.digits_runs((0, 1), copies, epochs=1)
    assert [r.model for r in runs] == copies and [r.recorder.epochs for r in runs] == [[0, 1]] * 2
    with pytest.raises(ValueError, match="2 models for 3 seeds"):
        experiments.digits_runs((0, 1, 2), models, epochs=1)
    with pytest.raises(TypeError, match="build options"):
        experiments.digits_runs((0, 1), models, hidden=(4,))
    with pytest.raises(ValueError, match="differ"):
        experiments.digits_runs((0, 1), [experiments.build_mlp((8,)), experiments.build_mlp((4,))])
    with pytest.raises(TypeError, match="cannot stack a PReLU"):
        experiments.digits_runs((0,), [experiments.swap_activations(experiments.build_mlp((8,)), nn.PReLU)])
    with pytest.raises(ValueError, match="at least one seed"):
        experiments.digits_runs(())
    with pytest.raises(ValueError, match="unknown optimizer"):
        experiments.digits_runs((0,), optimizer="lbfgs", hidden=(4,), epochs=1)


def test_digits_runs_stacks_runs_that_differ_in_weights_learning_rate_and_inputs():
    # the chapter's fixes table: He, a positive bias, another rate, offset inputs side by side
    builds = [dict(), dict(init="he"), dict(bias=0.1), dict()]
    rates, seeds = [0.1, 0.5, 0.01, 0.1], [0, 1, 0, 2]
    inputs = [dict(), dict(), dict(), dict(standardize=False, input_offset=5.0)]
    models = [experiments.build_mlp((16,), seed=s, **b) for s, b in zip(seeds, builds)]
    stacked = experiments.digits_runs(seeds, models, lr=rates, epochs=2, every_epoch=False,
                                      standardize=[d.get("standardize", True) for d in inputs],
                                      input_offset=[d.get("input_offset", 0.0) for d in inputs])
    for seed, build, lr, data_setting, run in zip(seeds, builds, rates, inputs, stacked):
        alone = experiments.digits_run(seed=seed, lr=lr, epochs=2, every_epoch=False, hidden=(16,),
                                       **build, **data_setting)
        assert torch.equal(run.X_train, alone.X_train) and torch.equal(run.X_test, alone.X_test)
        assert run.history["loss"] == pytest.approx(alone.history["loss"], rel=1e-4, abs=1e-5)
        assert run.history["test_acc"] == pytest.approx(alone.history["test_acc"], abs=1e-5)
        assert run.dead == alone.dead
    with pytest.raises(ValueError, match="2 values for 3 models"):
        experiments.digits_runs((0, 1, 2), hidden=(4,), epochs=1, input_offset=[0.0, 1.0])


def test_digits_runs_can_skip_the_count_before_training():
    # the chapter's fixes tables read only the last record: record_start=False
    # drops the epoch-0 count and changes nothing else
    kept = experiments.digits_runs((0, 1), hidden=(8,), epochs=2, every_epoch=False)
    skipped = experiments.digits_runs((0, 1), hidden=(8,), epochs=2, every_epoch=False,
                                      record_start=False)
    for a, b in zip(kept, skipped):
        assert a.recorder.epochs == [0, 2] and b.recorder.epochs == [2]
        assert b.dead == a.dead
        assert b.recorder.history == {k: v[1:] for k, v in a.recorder.history.items()}
        assert b.history == a.history
