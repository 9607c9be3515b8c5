"""Checkers of chapter 4: right answers written differently pass; plausible wrong ones fail clearly."""

import contextlib
import math

import numpy as np
import pytest
import torch
from torch import nn

import answers_ch03_04 as answers
from helpers import assert_rejects_malformed, expect_fail, expect_pass
from relucourse.exercises import ch04



# -- 4.1 dead_counts --------------------------------------------------------------------------
def counts_solution(model, X):
    alive, handles = {}, []

    def make_hook(name):
        def hook(module, inputs, output):
            per_unit = output.transpose(0, 1).reshape(output.shape[1], -1)
            alive[name] = (per_unit > 0).any(dim=1)
        return hook

    for name, m in model.named_modules():
        if isinstance(m, nn.ReLU):
            handles.append(m.register_forward_hook(make_hook(name)))
    try:
        with torch.no_grad():
            model(X)
    finally:
        for h in handles:
            h.remove()
    return {name: int((~a).sum()) for name, a in alive.items()}


def counts_pre_hook_amax(model, X):
    """A pre-hook on the ReLU's input and a max over everything but the unit dimension; numpy ints."""
    best = {}
    relus = {m: name for name, m in model.named_modules() if type(m) is nn.ReLU}
    handles = [m.register_forward_pre_hook(lambda mod, args: best.__setitem__(
        relus[mod], args[0].detach().clone().transpose(0, 1).flatten(1).amax(dim=1))) for m in relus]
    try:
        model(X)
    finally:
        for h in handles:
            h.remove()
    return {name: np.sum(b.numpy() <= 0) for name, b in best.items()}


def counts_in_batches(model, X):
    """Hooks that accumulate over batches of 7 inputs, removed by an ExitStack; counts as 0-d tensors."""
    seen = {}
    with contextlib.ExitStack() as stack, torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.ReLU):
                def hook(mod, inp, out, name=name):
                    on = (out > 0).transpose(0, 1).reshape(out.shape[1], -1).any(1)
                    seen[name] = on | seen.get(name, torch.zeros_like(on))
                stack.callback(m.register_forward_hook(hook).remove)
        for batch in X.split(7):
            model(batch)
    return {k: (~v).sum() for k, v in seen.items()}


@pytest.mark.parametrize("answer", [counts_solution, counts_pre_hook_amax, counts_in_batches])
def test_dead_counts_accepts(answer):
    expect_pass(ch04.check_dead_counts, answer)


def counts_with(reduce_units, *, remove=True, convert=int):
    def answer(model, X):
        out, handles = {}, []
        for name, m in model.named_modules():
            if isinstance(m, nn.ReLU):
                handles.append(m.register_forward_hook(
                    lambda mod, i, o, name=name: out.__setitem__(name, reduce_units(o))))
        try:
            with torch.no_grad():
                model(X)
        finally:
            if remove:
                for h in handles:
                    h.remove()
        return {k: convert(v) for k, v in out.items()}
    return answer


def per_unit(o):
    return o.transpose(0, 1).reshape(o.shape[1], -1)


@pytest.mark.parametrize("answer, hint", [
    (counts_with(lambda o: (per_unit(o) < 0).all(1).sum()), "never negative"),       # < 0 instead of <= 0
    (counts_with(lambda o: (per_unit(o) <= 0).any(1).sum()), "all()"),              # off on SOME input
    (counts_with(lambda o: (o <= 0).all(0).sum()), "position"),                     # conv: counts positions
    (counts_with(lambda o: (per_unit(o) <= 0).all(1).float().mean(), convert=float), "whole number"),  # a fraction
])
def test_dead_counts_rejects(answer, hint):
    expect_fail(ch04.check_dead_counts, answer, mentions=(hint,))


@pytest.mark.parametrize("group", [
    lambda o: o.transpose(0, 1).reshape(o.shape[-1], -1),   # the surviving mutant: groups by the last axis
    lambda o: o.reshape(-1, o.shape[1]).T,                  # mixes channels and positions
])
def test_dead_counts_rejects_conv_grouped_by_another_axis(group):
    # issue 13: with dead channels only at the end of a square output, these gave the right count
    expect_fail(ch04.check_dead_counts, counts_with(lambda o: (group(o) <= 0).all(1).sum()),
                mentions=("a unit is a channel, on axis 1",))


def test_dead_counts_rejects_leftover_hooks_and_wrong_keys():
    expect_fail(ch04.check_dead_counts, counts_with(lambda o: (per_unit(o) <= 0).all(1).sum(), remove=False),
                mentions=("remove",))

    def keys_are_indices(model, X):
        return {str(i): v for i, v in enumerate(counts_solution(model, X).values())}
    expect_fail(ch04.check_dead_counts, keys_are_indices, mentions=("qualified names",))

    def trains_the_model(model, X):
        result = counts_solution(model, X)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.0 * p + 1e-3)
        return result
    expect_fail(ch04.check_dead_counts, trains_the_model, mentions=("parameters changed",))


def test_dead_counts_rejects_hooks_left_after_an_error():
    """Regression: the statement says "remove every hook ... even if something fails"; no try/finally failed to fail."""
    def no_finally(model, X):
        handles = [m.register_forward_hook(lambda mod, i, o: None)
                   for m in model.modules() if isinstance(m, nn.ReLU)]
        result = counts_solution(model, X)
        with torch.no_grad():
            model(X)                                  # raises for the broken model: handles never removed
        for h in handles:
            h.remove()
        return result
    expect_fail(ch04.check_dead_counts, no_finally, mentions=("raised an error", "finally"))

    def swallows_the_error(model, X):                 # catching the error is fine if the hooks go
        try:
            return counts_solution(model, X)
        except RuntimeError:
            return {}
    expect_pass(ch04.check_dead_counts, swallows_the_error)


def test_dead_counts_malformed():
    assert_rejects_malformed(ch04.check_dead_counts)


# -- 4.2 p_dead -------------------------------------------------------------------------------
def p_dead_no_zero_case(w, b, mu, s, n):
    m = float(np.dot(w, mu) + b)
    return (0.5 * math.erfc(m / (s * np.linalg.norm(w) * math.sqrt(2)))) ** n


def p_dead_solution(w, b, mu, s, n):
    if not np.any(w):                                      # z = b on every input
        return 1.0 if b <= 0 else 0.0
    return p_dead_no_zero_case(w, b, mu, s, n)


def p_dead_scipy_logspace(w, b, mu, s, n):
    from scipy.stats import norm

    if np.linalg.norm(w) == 0:
        return float(b <= 0)
    z = -(w @ mu + b) / (s * np.sqrt(np.sum(w ** 2)))
    return np.exp(n * norm.logcdf(z))                      # a NumPy float


def p_dead_erf(w, b, mu, s, n):
    if math.hypot(*w) == 0:
        return np.array(int(b <= 0))                       # a 0-d int array
    t = -(np.dot(w, mu) + b) / (s * math.hypot(*w))
    return np.array((0.5 * (1 + math.erf(t / math.sqrt(2)))) ** n)   # a 0-d array


def p_dead_torch_float32(w, b, mu, s, n):
    """Regression: a correct float32 computation was rejected by rtol=1e-6 (Expected 2.111022e-08, Returned 2.11102e-08)."""
    if not w.any():
        return np.heaviside(-b, 1.0)                       # 1 for b <= 0
    normal = torch.distributions.Normal(torch.tensor(float(w @ mu + b)), torch.tensor(float(s * np.linalg.norm(w))))
    return float(normal.cdf(torch.tensor(0.0)) ** n)


@pytest.mark.parametrize("answer", [p_dead_solution, p_dead_scipy_logspace, p_dead_erf, p_dead_torch_float32])
def test_p_dead_accepts(answer):
    expect_pass(ch04.check_p_dead, answer)


def phi(t):
    return 0.5 * math.erfc(-t / math.sqrt(2))


@pytest.mark.parametrize("answer", [
    lambda w, b, mu, s, n: phi(-(w @ mu + b) / (s * np.linalg.norm(w))),                # forgot ** n
    lambda w, b, mu, s, n: phi(-(w @ mu + b) / (s * (w @ w))) ** n,                     # variance, not sd
    lambda w, b, mu, s, n: phi((w @ mu + b) / (s * np.linalg.norm(w))) ** n,            # P(active)
    lambda w, b, mu, s, n: phi(-b / (s * np.linalg.norm(w))) ** n,                      # ignores the offset
    lambda w, b, mu, s, n: phi(-(w @ mu + b) / (s ** 2 * np.linalg.norm(w))) ** n,      # s^2 for s
    lambda w, b, mu, s, n: 1 - (1 - phi(-(w @ mu + b) / (s * np.linalg.norm(w)))) ** n,  # off on SOME input
    lambda w, b, mu, s, n: phi(-(w @ mu) / (s * np.linalg.norm(w))) ** n,                # ignores the bias
    lambda w, b, mu, s, n: phi(-(w @ mu + b) / (s * np.abs(w).sum())) ** n,             # L1 norm of w
    lambda w, b, mu, s, n: phi(-(w @ mu + b) / (s * np.linalg.norm(w))) ** (n - 1),     # one input short
])
def test_p_dead_rejects(answer):
    expect_fail(ch04.check_p_dead, answer, mentions=("standard deviation",))


@pytest.mark.parametrize("answer", [
    p_dead_no_zero_case,                                               # divides by ||w|| = 0: raises
    lambda w, b, mu, s, n: p_dead_solution(w + 1e-300, b, mu, s, n) if not w.any() else p_dead_solution(w, b, mu, s, n),
    lambda w, b, mu, s, n: float(b < 0) if not w.any() else p_dead_solution(w, b, mu, s, n),   # b = 0 case ok, but
    lambda w, b, mu, s, n: 0.5 if not w.any() else p_dead_solution(w, b, mu, s, n),           # a guess
    lambda w, b, mu, s, n: True if not w.any() and b <= 0 else p_dead_solution(w, b, mu, s, n),  # a bool
])
def test_p_dead_rejects_zero_weights(answer):
    # issue 13: 4.2 never tested w = 0, so an answer dividing by the norm of w passed
    expect_fail(ch04.check_p_dead, answer, mentions=("w = 0",))


def test_p_dead_malformed():
    assert_rejects_malformed(ch04.check_p_dead)


# -- 4.3 born_dead_probability ----------------------------------------------------------------------
def born_dead_solution(X, depth, width, trials, seed):
    gen = torch.Generator().manual_seed(seed)
    h = torch.as_tensor(X).expand(trials, *X.shape)
    dead = torch.zeros(trials, dtype=torch.bool)
    for _ in range(depth):
        W = torch.randn(trials, h.shape[-1], width, generator=gen) * math.sqrt(2 / h.shape[-1])
        h = torch.relu(h @ W)
        dead |= h.amax(dim=(1, 2)) <= 0
    return dead.double().mean().item()


def born_dead_numpy_loop(X, depth, width, trials, seed):
    """One network at a time, NumPy, unit-variance weights (the scale does not matter without biases)."""
    rng = np.random.default_rng(seed)
    count = 0
    for _ in range(trials):
        h = X.astype(np.float64)
        for _ in range(depth):
            h = np.maximum(0.0, h @ rng.standard_normal((h.shape[1], width)))
            if not h.any():
                count += 1
                break
    return count / trials


@pytest.mark.parametrize("answer", [born_dead_solution, born_dead_numpy_loop])
def test_born_dead_accepts(answer):
    expect_pass(ch04.check_born_dead, answer)


def born_dead_with(criterion, *, layers=lambda depth: depth, same_weights=False):
    def answer(X, depth, width, trials, seed):
        count = 0
        rng = np.random.default_rng(seed)
        for _ in range(trials):
            if same_weights:
                rng = np.random.default_rng(seed)
            h = X.astype(np.float64)
            hs = []
            for _ in range(layers(depth)):
                h = np.maximum(0.0, h @ rng.standard_normal((h.shape[1], width)))
                hs.append(h)
            count += bool(criterion(hs))
        return count / trials
    return answer


@pytest.mark.parametrize("answer", [
    born_dead_with(lambda hs: any((h <= 0).all(axis=0).any() for h in hs)),     # one dead unit is enough
    born_dead_with(lambda hs: any((h[0] <= 0).all() for h in hs)),              # judged on one input
    born_dead_with(lambda hs: any(not h.any() for h in hs), layers=lambda d: d - 1),   # one layer short
    born_dead_with(lambda hs: any(not h.any() for h in hs), layers=lambda d: d + 1),   # one layer too many
    born_dead_with(lambda hs: any(not h.any() for h in hs), same_weights=True),        # the same net every time
])
def test_born_dead_rejects(answer):
    expect_fail(ch04.check_born_dead, answer, mentions=("new weights", "random error"))


def test_born_dead_rejects_impossible_values():
    expect_fail(ch04.check_born_dead, lambda *a: 1.5, mentions=("[0, 1]",))
    expect_fail(ch04.check_born_dead, lambda *a: 40.0, mentions=("[0, 1]",))


def test_born_dead_malformed():
    assert_rejects_malformed(ch04.check_born_dead)


# -- 4.4 kill and fix -------------------------------------------------------------------------------------
def settings(**kw):
    return lambda: dict(kw)


@pytest.mark.parametrize("kill, fix", [
    (settings(bias=-2.0), settings(bias=-2.0, batch_norm=True)),
    (settings(bias=-1), settings(bias=-1, init="he")),                     # ints are fine
    (settings(bias=-1.0), settings(bias=-1.0, activation="elu", lr=0.1)),  # restating a baseline value is fine
    (settings(bias=np.float32(-2.0)), settings(bias=np.float32(-2.0), batch_norm=True)),  # regression: NumPy scalar
])
def test_kill_and_fix_accepts(kill, fix):
    expect_pass(ch04.check_kill_and_fix, kill, fix)


@pytest.mark.parametrize("kill, fix, hint", [
    (settings(lr=1.0), settings(lr=1.0, batch_norm=True), "not dead enough"),          # lr 1.0 does not kill
    (settings(bias=-2.0, lr=2.0), settings(bias=-2.0, batch_norm=True), "exactly one"),  # two changes
    (settings(bias=-2.0), settings(bias=0.1), "keep the killing change"),              # undoes the cause
    (settings(bias=-1.0), settings(bias=-1.0, activation="leaky_relu"), "does not save"),  # LeakyReLU is no cure
    (settings(lr=2.0), settings(lr=2.0, init="he"), "does not save"),  # robust on seeds 0-5; BN at lr 2 is chaotic
    (settings(bias=-2.0), settings(bias=-2.0, batch_norm=True, init="he"), "exactly one"),  # two fixes
    (settings(epochs=1), settings(bias=-2.0), "not a setting"),
    (settings(activation="tanh"), settings(bias=-2.0), "not one of"),
    (settings(lr=-1.0), settings(bias=-2.0), "finite number > 0"),
])
def test_kill_and_fix_rejects(kill, fix, hint):
    expect_fail(ch04.check_kill_and_fix, kill, fix, mentions=(hint,))


def test_kill_and_fix_malformed():
    assert_rejects_malformed(lambda k: ch04.check_kill_and_fix(k, settings(bias=-2.0, batch_norm=True)))
    assert_rejects_malformed(lambda f: ch04.check_kill_and_fix(settings(bias=-2.0), f))


# -- 4.5 repair ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("answer", [
    settings(standardize=True, input_offset=0.0),
    settings(standardize=True, input_offset=0),
    settings(standardize=True, input_offset=np.float64(0.0), init="he"),
    settings(standardize=True, input_offset=0.0, batch_norm=True),   # cause fixed; BN on top is fine
])
def test_repair_accepts(answer):
    expect_pass(ch04.check_repair, answer)


@pytest.mark.parametrize("answer, hint", [
    (settings(lr=0.01), "lr may help"),                          # symptom treated, units stay dead
    (settings(optimizer="adam", lr=1e-3), "treats the symptom"),  # good accuracy, many dead units
    (settings(batch_norm=True), "batch_norm may help"),          # trains, but hides the cause (issue 13)
    (settings(standardize=True), "+5.0"),                        # still offset by 5
    (settings(input_offset=0.0), "mean and scale"),              # raw pixels 0..16 are still far from centred
    (settings(input_offset=-5.0), "not centred"),                # raw - 5: blank pixels become -5
    (settings(activation="leaky_relu"), "not centred"),
    (settings(), "nothing was changed"),
    (settings(input_offset=5.0), "nothing was changed"),
    (settings(hidden=(128, 128)), "not a setting"),
])
def test_repair_rejects(answer, hint):
    expect_fail(ch04.check_repair, answer, mentions=(hint,))


def test_repair_malformed():
    assert_rejects_malformed(ch04.check_repair)


def test_references_agree_with_simulation():
    rng = np.random.default_rng(0)
    w, b, mu, s, n = np.array([0.5, -1.0]), 0.3, np.array([1.0, 2.0]), 0.7, 3
    X = rng.normal(mu, s, size=(200_000, n, 2))
    assert abs(np.mean(np.all(X @ w + b <= 0, axis=1)) - answers.p_dead_reference(w, b, mu, s, n)) < 0.005
    X = ch04._born_dead_inputs()
    for (depth, width), p in ch04._BORN_DEAD_EXPECTED.items():   # the stored values, recomputed
        estimate = answers.born_dead_reference(X, depth, width, 5000, seed=99)
        assert abs(estimate - p) <= 4 * math.sqrt(max(p * (1 - p), 1e-4) / 5000), (depth, width, estimate)


def test_stored_dead_counts_are_right():
    # the checker stores the expected counts; the chapter's tool recomputes them
    for description, model, X, expected in ch04._models():
        assert answers.dead_counts_reference(model, X) == expected, description


def test_no_answers_importable_from_the_package():
    for name in ("p_dead_reference", "born_dead_reference", "BORN_DEAD_REFERENCE", "_reference_counts"):
        assert not hasattr(ch04, name), name


def test_kill_and_fix_reports_divergence_without_a_dead_count():
    # issue 13: a diverged run printed "dead per layer 100%"; NaN is neither on nor off
    msg = expect_fail(ch04.check_kill_and_fix, settings(lr=2.0), settings(lr=2.0, activation="elu"),
                      mentions=("diverged",))
    assert "100%" not in msg, msg


def test_dead_counts_built_on_the_chapters_tool_is_rejected():
    """Issue 17: the statement says not to use relucourse.diagnostics; a wrapper around it fails."""
    expect_fail(ch04.check_dead_counts, answers.dead_counts_reference, values=False,
                mentions=("calls relucourse.diagnostics.dead_units",))
