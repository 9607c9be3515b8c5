"""Explorables and quick quizzes: the specs and data, then the built pages in a browser.

The first part needs no browser: every explorable's Vega-Lite spec is valid
(Altair validates it against the schema), its numbers are the package's own,
bad arguments raise clear errors, and the display object returns one bundle
everywhere (the book's HTML block, the Vega-Lite spec, the PNG, the text), with
nothing that needs the internet and nothing read from the environment.

The second part opens the built book (``_build/html``, or the folder in
BOOK_HTML) in Debian's Chromium (the CHROMIUM setting), served on 127.0.0.1
through tools/site.py with every other request blocked, and checks on each page
with an explorable or a quiz: the static figure first and Vega fetched only when
the reader scrolls near the explorable, then no console
errors, scripts only from the site, every control reachable and operable with
the keyboard and changing the figure, feedback appearing on a quiz answer,
0 serious or critical axe violations in the explorables and quizzes, the
figure fits a 390 px screen, and the page weighs at most 1 MB more than it
would without them. Build the book first (tools/book.py build).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from relucourse import activations as A
from relucourse import explorables as E
from relucourse.gradients import second_moments
from tools import site as site_harness

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000


# ---------------------------------------------------------------- specs and data

@pytest.fixture(scope="module")
def depth_small():
    return E.signal_through_depth(weight_vars=(1.0, 2.0, 3.0), depth=4, width=32,
                                  n_inputs=16)


def _datasets(spec):
    """Every inline CSV dataset in a spec, parsed into rows of strings."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            data = node.get("data")
            if isinstance(data, dict) and isinstance(data.get("values"), str):
                lines = data["values"].split("\n")
                found.append((lines[0].split(","), [ln.split(",") for ln in lines[1:]]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
        if isinstance(node, dict) and "from" in node and isinstance(node["from"], dict):
            walk(node["from"])
    walk(spec)
    return found


def test_signal_through_depth_uses_the_chapters_measurement(depth_small):
    spec = depth_small.spec()
    assert "/vega-lite/v5." in spec["$schema"]
    (param,) = spec["params"]
    assert param["bind"]["input"] == "range" and param["value"] == 2.0
    for (act, c), m in depth_small.data["moments"].items():
        fn = torch.relu if act == "ReLU" else torch.tanh
        expected = second_moments(4, 32, c, n_inputs=16, seed=0, activation=fn)
        np.testing.assert_allclose(m, expected, rtol=0, atol=0)
    # the chart's data holds the same numbers (to the 4 digits it prints)
    header, rows = _datasets(spec)[0]
    assert header == ["c", "act", "layer", "q"]
    for c, act, layer, q in rows:
        ref = depth_small.data["moments"][(act, float(c))][int(layer)]
        assert float(q) == pytest.approx(ref, rel=1e-3)


def test_activation_explorer_numbers_come_from_the_package():
    e = E.activation_explorer(n_samples=20_000)
    spec = e.spec()
    names = [p["name"] for p in spec["params"]]
    assert names == ["activation", "slope", "alpha", "beta", "approx"]
    options = spec["params"][0]["bind"]["options"]
    assert {"ReLU", "LeakyReLU", "ELU", "CELU", "SELU", "GELU", "Swish", "SiLU",
            "Mish", "Softplus", "ReLU6", "Hardsigmoid", "Hardswish",
            "Squared ReLU", "Sigmoid", "Tanh"} == set(options)
    states = E.ACTIVATION_STATES
    z = np.random.default_rng(0).standard_normal(20_000)
    stats = {s: (m, zf) for s, m, zf in e.data["stats"]}
    relu = states.index(("ReLU", "", 0.0))
    assert stats[relu] == (pytest.approx(A.relu(z).mean()), np.mean(z <= 0))
    leaky = states.index(("LeakyReLU", "slope", 0.2))
    assert stats[leaky][0] == pytest.approx(A.leaky_relu(z, 0.2).mean())
    assert stats[leaky][1] == 0.0
    gelu_tanh = states.index(("GELU", "approx", 1.0))
    assert stats[gelu_tanh][0] == pytest.approx(A.gelu(z, "tanh").mean())
    # curves in the spec: function and derivative at x = 1 for Softplus(beta=2)
    sp = states.index(("Softplus", "beta", 2.0))
    for header, rows in _datasets(spec):
        if header == ["s", "y", "d"]:
            # a state's rows are x = -4, -3.875, ..., 4 in order: x = 1 is row 40
            mine = [r for r in rows if int(r[0]) == sp]
            assert len(mine) == 65
            assert float(mine[40][1]) == pytest.approx(float(A.softplus(1.0, 2.0)),
                                                       rel=1e-3)
            assert float(mine[40][2]) == pytest.approx(
                float(A.softplus_grad(1.0, 2.0)), rel=1e-3)
            break
    else:
        pytest.fail("no curve data in the spec")
    # every slider position exists as a state
    for kind, name in (("slope", "slope"), ("alpha", "alpha"), ("beta", "beta")):
        bind = next(p["bind"] for p in spec["params"] if p["name"] == name)
        grid = np.round(np.arange(bind["min"], bind["max"] + 1e-9, bind["step"]), 2)
        have = {v for _, k, v in states if k == kind}
        assert set(grid) <= have, kind


def test_relu_fit_evaluates_the_chapters_functions():
    calls = []

    def interpolant(f, knots):
        calls.append(len(knots))
        y = f(knots)
        return (knots, y)

    def net(x, knots, y):
        return np.interp(x, knots, y)

    e = E.relu_fit(interpolant, net, np.sin, units=(1, 2, 4))
    assert calls == [2, 3, 5]
    grid = np.linspace(-3, 3, 241)
    for k in (1, 2, 4):
        knots = np.linspace(-3, 3, k + 1)
        assert e.data["errors"][k] == pytest.approx(
            np.abs(np.interp(grid, knots, np.sin(knots)) - np.sin(grid)).max())
    assert e.spec()["params"][0]["bind"] == {"input": "range", "min": 1, "max": 4,
                                             "step": 1, "name": "hidden ReLU units "}


def test_dying_relu_explorable_records_real_runs():
    e = E.dying_relu_vs_lr(lrs=(0.1, 2.0), seeds=(0, 1), epochs=2, hidden=(8,))
    runs = e.data["runs"]
    assert set(runs) == {(0.1, 0), (0.1, 1), (2.0, 0), (2.0, 1)}
    for r in runs.values():
        assert len(r["dead"]) == 1 and 0.0 <= r["dead"][0] <= 1.0
    epochs = {row[3] for row in e.data["dead_rows"]}
    assert epochs == {0, 1, 2}                    # before training and per epoch
    assert {row[2] for row in e.data["acc_rows"]} == {1, 2}     # after each epoch
    spec = e.spec()
    assert spec["params"][0]["bind"]["input"] == "radio"
    assert torch.get_num_threads() == 1           # restored (the test fixture's 1)


@pytest.mark.parametrize("call, message", [
    (lambda: E.signal_through_depth(weight_vars=()), "non-empty"),
    (lambda: E.signal_through_depth(weight_vars=(1.0, float("nan"))), "finite"),
    (lambda: E.signal_through_depth(weight_vars=(-1.0,)), "at least"),
    (lambda: E.signal_through_depth(depth=0), "positive"),
    (lambda: E.relu_fit(None, None, np.sin, units=(0, 1)), "positive integers"),
    (lambda: E.relu_fit(None, None, np.sin, units=(2, 2)), "distinct"),
    (lambda: E.relu_fit(None, None, np.sin, lo=1, hi=0), "lo < hi"),
    (lambda: E.dying_relu_vs_lr(lrs=(0.0,)), "at least"),
    (lambda: E.dying_relu_vs_lr(seeds=()), "seed"),
    (lambda: E.activation_explorer(n_samples=10), "n_samples"),
])
def test_bad_arguments_are_rejected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_one_bundle_everywhere_with_nothing_from_the_internet(depth_small, monkeypatch):
    """The same bundle in the book and in a notebook; the book chooses by mime priority."""
    for name in [k for k in os.environ if k.startswith("RELUCOURSE")]:
        monkeypatch.delenv(name)
    bundle = depth_small._repr_mimebundle_()
    monkeypatch.setenv("RELUCOURSE_BOOK_BUILD", "1")          # the old switch: no effect
    assert depth_small._repr_mimebundle_() == bundle
    assert set(bundle) == {"text/html", "image/png", "text/plain"}
    assert bundle["text/plain"] == depth_small.description
    page = bundle["text/html"]
    schema = depth_small.spec()["$schema"]             # an identifier, not fetched
    assert "http" not in page.replace(schema, "")       # nothing is fetched from anywhere
    assert "<script" not in page.replace('<script type="application/json"', "")  # no code
    assert "data:image/png;base64," in page                       # the static figure
    assert 'width="' in page and 'height="' in page               # its box is reserved
    assert ".interactive()" in page                                # the note for notebooks
    assert depth_small.description in page
    assert "</script" not in page.split('type="application/json"')[1].split(
        "</script>")[0][:-1]
    # in JupyterLab: the chart alone, drawn by JupyterLab's own Vega (offline)
    assert depth_small.interactive()._repr_mimebundle_() == {
        E.VEGALITE_MIME: depth_small.spec(), "text/plain": depth_small.description}
    # the book shows the HTML block (myst-nb's priority, set in _config.yml)
    import yaml

    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert ["html", "text/html", 0] in cfg["sphinx"]["config"]["nb_mime_priority_overrides"]


def test_no_module_of_the_package_reads_the_book_build_setting():
    import relucourse

    for path in Path(relucourse.__file__).parent.glob("*.py"):
        assert "RELUCOURSE_BOOK_BUILD" not in path.read_text(encoding="utf-8"), path.name


def test_fallback_colours_are_the_books(monkeypatch):
    """Chapter 5's static figure draws each activation in its colour from relucourse.style."""
    import matplotlib.pyplot as plt

    from relucourse import style

    drawn = {}
    real = plt.Axes.plot

    def spy(ax, *args, **kwargs):
        if "label" in kwargs:
            drawn[kwargs["label"]] = kwargs.get("color")
        return real(ax, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, "plot", spy)
    E._activation_fallback(np.linspace(-4, 4, 9), np.zeros(3))
    assert drawn == {"ReLU": style.COLORS["relu"], "LeakyReLU 0.1": style.COLORS["leaky_relu"],
                     "GELU": style.COLORS["gelu"], "SiLU": style.COLORS["silu"]}
    source = Path(E.__file__).read_text(encoding="utf-8")
    palette = [c for c in style.PALETTE if c != "#000000"]
    assert not [c for c in palette if c in source], "the palette is style's, not re-declared"


def test_scripts_are_installed_and_small():
    paths = E.vega_sources()
    assert set(paths) == set(E.VEGA_FILES)
    total = sum(p.stat().st_size for p in paths.values())
    assert total < 0.9 * MB, f"Vega scripts weigh {total} bytes"
    head = paths["vega-lite.min.js"].read_text(encoding="utf-8")[:3000]
    assert "5." in head                                       # Vega-Lite 5, as Altair 5


# ---------------------------------------------------------------- the built pages

PAGES = {
    "chapters/01_why_activations.html": "relu-fit",
    "chapters/03_derivatives.html": "signal-through-depth",
    "chapters/04_dying_relu.html": "dying-relu-vs-lr",
    "chapters/05_variants.html": "activation-explorer",
}
# ch5: the activation to choose before a parameter's control can change the figure
CONTEXT = {"slope": "LeakyReLU", "alpha": "ELU", "beta": "Swish", "approx": "GELU"}


def _site() -> Path:
    return Path(os.environ.get("BOOK_HTML", "").split(":")[0] or ROOT / "_build" / "html")


@pytest.fixture(scope="module")
def browser_page():
    site = _site()
    if not (site / "index.html").is_file():
        pytest.fail(f"no built book at {site}: build it with tools/book.py build "
                    "(or set BOOK_HTML)", pytrace=False)
    problem = site_harness.chromium_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    from playwright.sync_api import sync_playwright

    with site_harness.serve(site, gzip=True) as base, sync_playwright() as pw:
        browser = site_harness.launch(pw)

        def open_page(path, width=1280, dark=False, scroll=True):
            ctx = browser.new_context(viewport={"width": width, "height": 900},
                                      color_scheme="dark" if dark else "light")
            page = ctx.new_page()
            log = {"errors": [], "outside": [], "bytes": {}}
            # "Failed to load resource" names no URL: failed requests are
            # logged with their URL below (and the browser's own favicon
            # request, which no page makes, is not one of them)
            page.on("console", lambda m: m.type == "error" and not m.text.startswith(
                "Failed to load resource") and log["errors"].append(m.text))
            page.on("pageerror", lambda exc: log["errors"].append(str(exc)))

            def route(r):
                if r.request.url.startswith(base):
                    return r.continue_()
                log["outside"].append(r.request.url)
                return r.abort()
            page.route("**/*", route)

            def sized(resp):
                try:
                    log["bytes"][resp.url] = len(resp.body())
                except Exception:            # redirects and aborted requests have no body
                    pass
            page.on("response", sized)
            # the explorables load only the Vega scripts; the rest of the
            # site's requests are tests/test_browser.py's
            page.on("response", lambda resp: resp.status >= 400
                    and f"/{E.STATIC_DIR}/" in resp.url
                    and log["errors"].append(f"{resp.status} {resp.url[len(base):]}"))
            page.goto(base + path, wait_until="load")
            try:   # a quiet network is a courtesy: what the tests check waits for itself
                page.wait_for_load_state("networkidle", timeout=10_000)
            except PlaywrightTimeout:
                pass
            if scroll:    # the explorable draws when the reader comes near it
                for i in range(page.locator(".relucourse-explorable").count()):
                    page.locator(".relucourse-explorable").nth(i).scroll_into_view_if_needed()
            return ctx, page, log

        try:
            yield open_page
        finally:
            browser.close()


@pytest.fixture(scope="module")
def site_noise(browser_page):
    """Console errors and outside requests of a page without explorables or quizzes.

    What every page of the site shows (the theme's own messages, requests it
    makes to other hosts) belongs to the site, not to the explorables; those
    are checked over all pages by tests/test_browser.py. Here a page may show
    nothing beyond them.
    """
    found = {}

    def noise(width=1280, dark=False):
        if (width, dark) not in found:
            ctx, page, log = browser_page("intro.html", width, dark)
            page.wait_for_timeout(500)
            found[(width, dark)] = (set(log["errors"]), set(log["outside"]))
            ctx.close()
        return found[(width, dark)]
    return noise


def _new_errors(log, noise):
    errors, outside = noise
    return ([e for e in log["errors"] if e not in errors],
            [u for u in log["outside"] if u not in outside])


def _svg(page, name):
    return page.locator(f"#vis-{name} svg").first.inner_html()


def _changed(page, name, before, timeout=3000):
    """Wait until the figure differs from ``before``; True if it did."""
    for _ in range(timeout // 100):
        if _svg(page, name) != before:
            return True
        page.wait_for_timeout(100)
    return False


@pytest.mark.parametrize("path", sorted(PAGES))
def test_static_figure_first_and_vega_only_near_it(browser_page, path):
    """A first visit shows the static figure and fetches no Vega; scrolling near it does."""
    name = PAGES[path]
    ctx, page, log = browser_page(path, scroll=False)
    try:
        page.wait_for_timeout(300)
        vega = lambda: [u for u in log["bytes"]  # noqa: E731 - the three scripts, not the loader
                        if f"/{E.STATIC_DIR}/" in u and u.split("?")[0].endswith(tuple(E.VEGA_FILES))]
        assert not vega(), f"Vega fetched before the reader came near: {vega()}"
        assert page.locator(f"#explorable-{name} .relucourse-fallback img").is_visible()
        assert page.locator(f"#explorable-{name} .relucourse-note").is_hidden()  # the book's CSS
        page.locator(f"#explorable-{name}").scroll_into_view_if_needed()
        page.locator(f"#vis-{name} svg").first.wait_for(timeout=15000)
        assert len(vega()) == 3
        assert page.locator(f"#explorable-{name} .relucourse-fallback").is_hidden()
    finally:
        ctx.close()


@pytest.mark.parametrize("path", sorted(PAGES))
def test_explorable_works_with_the_keyboard(browser_page, site_noise, path):
    name = PAGES[path]
    ctx, page, log = browser_page(path)
    try:
        page.locator(f"#vis-{name} svg").first.wait_for(timeout=15000)
        controls = page.locator(f"#explorable-{name} .vega-bind")
        assert controls.count() >= 1
        problems = []
        for i in range(controls.count()):
            bind = controls.nth(i)
            label = bind.inner_text().strip().split("\n")[0]
            widgets = bind.locator("input, select")
            param = widgets.first.get_attribute("name")
            if name == "activation-explorer" and param in CONTEXT:
                page.select_option(f"#explorable-{name} select", CONTEXT[param])
                page.wait_for_timeout(300)
            widget = widgets.first
            if widget.get_attribute("type") == "radio":
                widget = bind.locator("input:checked").first
            widget.focus()
            if not widget.evaluate("el => el === document.activeElement && el.tabIndex >= 0"):
                problems.append(f"{label}: cannot take keyboard focus")
                continue
            before = _svg(page, name)
            tag = widget.evaluate("el => el.tagName")
            page.keyboard.press("ArrowDown" if tag == "SELECT" else "ArrowRight")
            if not _changed(page, name, before):
                problems.append(f"{label}: the arrow key did not change the figure")
        assert not problems, "\n".join(problems)
        # reachable with Tab: every control is in the tab order
        assert page.evaluate(f"""() => [...document.querySelectorAll(
            '#explorable-{name} .vega-bind input, #explorable-{name} .vega-bind select')]
            .every(el => el.tabIndex >= 0 && !el.disabled)""")
        errors, outside = _new_errors(log, site_noise())
        assert not errors, errors
        assert not outside, f"requests to other hosts: {outside}"
    finally:
        ctx.close()


def _draw_everything(page):
    """Every part of the page drawn before axe runs (the same style as
    tools/browser_audit.py): parts far from the screen are not drawn
    (content-visibility: auto), and axe's colour-contrast check hit-tests
    what it checks, so in an undrawn part it reports false violations."""
    from tools.browser_audit import DRAW_EVERYTHING

    page.evaluate(DRAW_EVERYTHING)


@pytest.mark.parametrize("path", sorted(PAGES))
def test_page_weight_and_accessibility(browser_page, path):
    from axe_playwright_python.sync_playwright import Axe

    name = PAGES[path]
    ctx, page, log = browser_page(path)
    try:
        page.locator(f"#vis-{name} svg").first.wait_for(timeout=15000)
        vega = sum(n for url, n in log["bytes"].items() if f"/{E.STATIC_DIR}/" in url)
        html_file = (_site() / path).read_text(encoding="utf-8")
        blocks = page.evaluate("""() => [...document.querySelectorAll(
            '.relucourse-explorable, .relucourse-quiz')]
            .reduce((n, el) => n + el.outerHTML.length, 0)""")
        total = sum(log["bytes"].values())
        added = vega + blocks
        print(f"{path}: {total / MB:.2f} MB with, {(total - added) / MB:.2f} MB "
              f"without the explorable and quiz ({added / MB:.2f} MB added)")
        assert vega > 0 and len(html_file) > blocks / 2
        assert added <= MB, f"{path}: explorable adds {added} bytes"
        # the whole chart, axes included, stays inside the text column
        fits = page.evaluate(f"""() => {{
            const box = document.querySelector('#vis-{name}').getBoundingClientRect();
            const svg = document.querySelector('#vis-{name} svg').getBoundingClientRect();
            return svg.left >= box.left - 1 && svg.right <= box.right + 1; }}""")
        assert fits, f"{path}: the chart is wider than its column"
        _draw_everything(page)
        results = Axe().run(page, context={"include": [[".relucourse-explorable"],
                                                       [".relucourse-quiz"]]})
        bad = [f"{v['id']} ({v['impact']}): {v['help']} -> "
               f"{[n['target'] for n in v['nodes']][:3]}"
               for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
        assert not bad, "\n".join(bad)
    finally:
        ctx.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
@pytest.mark.parametrize("path", sorted(PAGES))
def test_fits_a_phone(browser_page, site_noise, path, dark):
    name = PAGES[path]
    ctx, page, log = browser_page(path, width=390, dark=dark)
    try:
        page.locator(f"#vis-{name} svg").first.wait_for(timeout=15000)
        box = page.locator(f"#vis-{name} svg").first.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        assert page.locator(f"#explorable-{name} .relucourse-fallback").is_hidden()
        assert page.locator(f"#desc-{name}").is_visible()
        errors, outside = _new_errors(log, site_noise(390, dark))
        assert not errors and not outside, (errors, outside)
    finally:
        ctx.close()


QUIZ_PAGES = sorted(str(p.relative_to(ROOT).with_suffix(".html"))
                    for p in (ROOT / "chapters").glob("0*.md")
                    if "quiz.show(" in p.read_text(encoding="utf-8"))


@pytest.mark.parametrize("path", QUIZ_PAGES)
def test_quiz_answers_with_the_keyboard(browser_page, site_noise, path):
    from axe_playwright_python.sync_playwright import Axe

    ctx, page, log = browser_page(path)
    try:
        quiz = page.locator(".relucourse-quiz")
        assert quiz.count() == 1
        first = quiz.locator("fieldset").first
        radios = first.locator("input")
        feedback = first.locator(".rq-feedback > p")
        assert all(not feedback.nth(i).is_visible() for i in range(feedback.count()))
        radios.first.focus()
        page.keyboard.press("Space")
        assert radios.first.is_checked() and feedback.first.is_visible()
        page.keyboard.press("ArrowDown")
        assert radios.nth(1).is_checked()
        assert feedback.nth(1).is_visible() and not feedback.first.is_visible()
        text = feedback.nth(1).inner_text()
        assert text.startswith(("Right.", "Not quite.")) and len(text.split()) > 5
        _draw_everything(page)
        results = Axe().run(page, context={"include": [[".relucourse-quiz"]]})
        bad = [f"{v['id']}: {v['help']}" for v in results.response["violations"]
               if v["impact"] in ("serious", "critical")]
        assert not bad, bad
        errors, outside = _new_errors(log, site_noise())
        assert not errors and not outside, (errors, outside)
    finally:
        ctx.close()
