"""The one model builder, training loop, digits loader, settings validator and timing helper."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from relucourse import benchmark, data
from relucourse.checking import Check, CheckFailed
from relucourse.exercises.settings import validate_settings
from relucourse.training import ACTIVATIONS, mlp, torch_threads, train_classifier


def test_mlp_takes_activation_names():
    net = mlp([4, 3, 3, 2], "tanh", seed=0)
    assert [type(m).__name__ for m in net] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    same = mlp([4, 3, 3, 2], nn.Tanh, seed=0)
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), same.parameters()))
    assert set(ACTIVATIONS) >= {"relu", "leaky_relu", "elu", "gelu", "silu", "tanh", "sigmoid"}
    with pytest.raises(ValueError, match="unknown activation"):
        mlp([4, 2], "swish")
    with pytest.raises(ValueError, match="unknown init"):
        mlp([4, 2], init="lecun")


def test_mlp_normal_init_draws_weights_after_building():
    # what exercise 6.1's script and chapter 6's case 3 do: PyTorch's layers, then N(0, 1) weights
    torch.manual_seed(5)
    reference = nn.Sequential(nn.Linear(8, 6), nn.ReLU(), nn.Linear(6, 3))
    for layer in reference[::2]:
        nn.init.normal_(layer.weight)
    net = mlp([8, 6, 3], "relu", seed=5, init="normal")
    assert all(torch.equal(p, q) for p, q in zip(net.parameters(), reference.parameters()))


def test_mlp_names_and_batch_norm():
    named = mlp([6, 5, 4, 3], seed=2, batch_norm=True, named=True)
    assert [n for n, _ in named.named_children()] == ["fc1", "bn1", "hidden1", "fc2", "bn2", "hidden2", "out"]
    plain = mlp([6, 5, 4, 3], seed=2, batch_norm=True)
    assert [n for n, _ in plain.named_children()] == [str(i) for i in range(7)]
    assert all(torch.equal(p, q) for p, q in zip(named.parameters(), plain.parameters()))
    assert len(mlp([3, 2])) == 1                                # no hidden layer: one Linear


def written_out_loop(model, X, y, X_test, y_test, *, lr, epochs, seed):
    """The loop as chapter 6 used to write it: plain SGD, batches of 64, test metrics per epoch."""
    shuffle = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    history = {"acc": [], "loss": [], "train_loss": []}
    for _ in range(epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(X), generator=shuffle).split(64):
            opt.zero_grad()
            loss = loss_fn(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
        model.eval()
        with torch.no_grad():
            out = model(X_test)
        history["train_loss"].append(total / len(X))
        history["loss"].append(loss_fn(out, y_test).item())
        history["acc"].append((out.argmax(1) == y_test).float().mean().item())
    return history


def test_train_classifier_is_the_written_out_loop():
    X, y, X_test, y_test = data.digits().tensors()
    X, y = X[:300], y[:300]
    ours = train_classifier(mlp([64, 16, 10], seed=3), X, y, epochs=3, lr=0.1, seed=4,
                            X_test=X_test, y_test=y_test)
    theirs = written_out_loop(mlp([64, 16, 10], seed=3), X, y, X_test, y_test, lr=0.1, epochs=3, seed=4)
    assert ours["loss"] == theirs["train_loss"]
    assert ours["test_acc"] == theirs["acc"]
    assert ours["test_loss"] == theirs["loss"]
    assert set(ours) == {"loss", "test_acc", "test_loss"}
    more = train_classifier(mlp([64, 16, 10], seed=3), X, y, epochs=1, seed=4, train_acc=True)
    assert set(more) == {"loss", "train_acc"} and 0 < more["train_acc"][0] <= 1


def test_torch_threads_restores_the_count():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), torch_threads(1):
        raise RuntimeError("inside")
    assert torch.get_num_threads() == before


def test_digits_is_cached_but_returns_copies():
    first = data.digits()
    first.X_train[:] = 0.0                                     # must not reach the next caller
    second = data.digits()
    assert abs(second.X_train).max() > 1
    X, y, X_test, y_test = second.tensors()
    assert X.dtype == torch.float32 and y.dtype == torch.int64 and len(X_test) == len(y_test) == 449
    assert np.shares_memory(X.numpy(), second.X_train)


def test_digits_are_scikit_learns():
    from sklearn.datasets import load_digits

    from relucourse.data import _digits_arrays

    X, y = _digits_arrays()
    bunch = load_digits()
    assert np.array_equal(X, bunch.data) and np.array_equal(y, bunch.target)
    assert X.dtype == np.float64 and y.dtype == np.int64


def settings_check(settings):
    with Check("settings") as c:
        return validate_settings(c, settings, what="fix()", allowed=("lr", "bias", "init"),
                                 choices={"init": ("he", "default")},
                                 ranges={"lr": (0, 10), "bias": (-math.inf, math.inf)}, optional=("bias",))


def test_validate_settings_accepts_and_converts():
    got = settings_check({"lr": np.float32(0.5), "bias": None, "init": "he"})
    assert got == {"lr": 0.5, "bias": None, "init": "he"} and type(got["lr"]) is float
    assert type(settings_check({"bias": -2})["bias"]) is float


@pytest.mark.parametrize("settings, fragment", [
    ([("lr", 0.1)], "should return a dict"),
    ({"epochs": 3}, "not a setting you may change"),
    ({"init": "xavier"}, "is not one of"),
    ({"init": True}, "is not one of"),
    ({"lr": 0}, "between 0 and 10"),
    ({"lr": 11.0}, "between 0 and 10"),
    ({"lr": True}, "between 0 and 10"),
    ({"lr": None}, "between 0 and 10"),
    ({"bias": math.nan}, "None or a finite number"),
    ({"bias": "1"}, "None or a finite number"),
])
def test_validate_settings_rejects(settings, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        settings_check(settings)


def test_best_time_and_time_in_turns():
    x = np.random.default_rng(0).standard_normal(10_000)
    assert benchmark.calls_for(lambda: None, min_time=0.001) > 10
    small = benchmark.best_time(lambda: np.maximum(x[:10], 0), repeat=3, min_time=0.005)
    large = benchmark.best_time(lambda: [max(v, 0.0) for v in x.tolist()], repeat=3, min_time=0.005)
    assert 0 < small < large
    best = benchmark.time_in_turns({"small": lambda: x[:10].copy(), "loop": lambda: x.tolist()},
                                   rounds=2, min_time=0.005)
    assert list(best) == ["small", "loop"] and 0 < best["small"] < best["loop"]


def test_train_classifiers_trains_each_model_as_train_classifier_would():
    from relucourse.training import train_classifiers

    split = data.digits()
    settings = dict(epochs=2, lr=0.05, momentum=0.9, batch_size=128, X_test=split.X_test,
                    y_test=split.y_test, train_acc=True)
    seen = []
    stacked = [mlp([64, 16, 16, 10], nn.SELU, seed=s) for s in (0, 1, 2)]
    histories = train_classifiers(stacked, split.X_train, split.y_train, seeds=(0, 1, 2),
                                  on_epoch=lambda epoch, model: seen.append((epoch, model)), **settings)
    assert [e for e, _ in seen] == [1, 1, 1, 2, 2, 2] and seen[0][1] is stacked[0]
    for seed, model, history in zip((0, 1, 2), stacked, histories):
        alone = mlp([64, 16, 16, 10], nn.SELU, seed=seed)
        expected = train_classifier(alone, split.X_train, split.y_train, seed=seed, **settings)
        assert history.keys() == expected.keys() == {"loss", "train_acc", "test_acc", "test_loss"}
        for key, values in expected.items():
            assert history[key] == pytest.approx(values, rel=1e-4, abs=1e-5), key
        for p, q in zip(model.parameters(), alone.parameters()):
            assert torch.allclose(p, q, rtol=1e-4, atol=1e-5)


def test_train_classifiers_refuses_what_it_cannot_do():
    from relucourse.training import train_classifiers

    X, y = data.xor(64, seed=0)
    nets = [mlp([2, 4, 2], seed=s) for s in (0, 1)]
    with pytest.raises(ValueError, match="2 models for 1 seeds"):
        train_classifiers(nets, X, y, seeds=(0,))
    with pytest.raises(ValueError, match="1 on_epoch callables for 2 models"):
        train_classifiers(nets, X, y, seeds=(0, 1), on_epoch=[print])
    with pytest.raises(ValueError, match="unknown optimizer"):
        train_classifiers(nets, X, y, seeds=(0, 1), optimizer="rmsprop")
    with pytest.raises(TypeError, match="nn.Sequential"):
        train_classifiers([nn.Linear(2, 2)], X, y, seeds=(0,))
    with pytest.raises(TypeError, match="cannot stack a Dropout"):
        train_classifiers([nn.Sequential(nn.Linear(2, 2), nn.Dropout())], X, y, seeds=(0,))


def test_train_classifiers_takes_one_learning_rate_per_model():
    # each model trains as train_classifier trains it at its own rate (SGD with momentum
    # and decay on the weights only), up to rounding; other optimizers need one rate
    from relucourse.training import train_classifiers

    split = data.digits()
    settings = dict(epochs=2, momentum=0.9, weight_decay=0.01, decay_biases=False, batch_size=128,
                    X_test=split.X_test, y_test=split.y_test)
    rates, seeds = [0.05, 0.01, 0.05], [0, 1, 1]
    stacked = [mlp([64, 16, 10], seed=s, bias=b) for s, b in zip(seeds, (None, 0.1, None))]
    histories = train_classifiers(stacked, split.X_train, split.y_train, seeds=seeds, lr=rates,
                                  **settings)
    for seed, b, lr, model, history in zip(seeds, (None, 0.1, None), rates, stacked, histories):
        alone = mlp([64, 16, 10], seed=seed, bias=b)
        expected = train_classifier(alone, split.X_train, split.y_train, seed=seed, lr=lr, **settings)
        for key, values in expected.items():
            assert history[key] == pytest.approx(values, rel=1e-4, abs=1e-5), key
        for p, q in zip(model.parameters(), alone.parameters()):
            assert torch.allclose(p, q, rtol=1e-4, atol=1e-5)
    X, y = data.xor(64, seed=0)
    nets = [mlp([2, 4, 2], seed=s) for s in (0, 1)]
    with pytest.raises(ValueError, match="3 learning rates for 2 models"):
        train_classifiers(nets, X, y, seeds=(0, 1), lr=[0.1, 0.1, 0.1])
    with pytest.raises(ValueError, match="need optimizer='sgd'"):
        train_classifiers(nets, X, y, seeds=(0, 1), lr=[0.1, 0.2], optimizer="adam")
    same = train_classifiers(nets, X, y, seeds=(0, 1), lr=[1e-3, 1e-3], optimizer="adam", epochs=1)
    assert len(same) == 2
    with pytest.raises(ValueError, match="1 input arrays for 2 models"):
        train_classifiers(nets, [X], y, seeds=(0, 1))
    with pytest.raises(ValueError, match="differ in shape"):
        train_classifiers(nets, [X, X[:10]], y, seeds=(0, 1))
