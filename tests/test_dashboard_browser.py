"""Tests of the dashboard (app.py): its model factory, and the real page in a browser.

The browser tests start ``ngo-abm dashboard`` itself on a free loopback port and drive
Debian's chromium (/usr/bin/chromium) with Playwright. On the single-run page they move a
lever slider, reset and step the model, and check that the plots change and no error
shows; on the counterfactual page they pick a counterfactual, run it over 11 posterior
draws and find the difference chart; on the regional page they run the regional model
with two replicates and a regional counterfactual, move the network's year slider and
find the network, the ties chart and the paired difference. They install nothing: they
are skipped, with the reason, where chromium is missing or Playwright cannot launch it. With
``DASHBOARD_SCREENSHOTS=docs`` they also write the screenshots shown in docs/dashboard.md.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from model import ScenarioError, load_scenario
from model.levers import apply_levers

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]
SERVER_START_SECONDS = 90
PAGE_SECONDS = 60
# Two scenarios x 11 draws of the Kyrgyz run, in the server's one thread, on a busy machine.
COMPARISON_SECONDS = 300
# Two replicates of the regional baseline and counterfactual (about a second each) and
# the page's charts.
REGIONAL_SECONDS = 120
SCREENSHOTS = os.environ.get("DASHBOARD_SCREENSHOTS")


@pytest.fixture(scope="module")
def app():
    """The dashboard module (app.py is a top-level script, not a package module)."""
    spec = importlib.util.spec_from_file_location("ngo_dashboard_app", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The model factory -------------------------------------------------------------------


def test_discovers_country_and_counterfactual_scenarios(app, tmp_path):
    scenarios = ROOT / "scenarios"
    (tmp_path / "counterfactuals").mkdir()
    for name in ("base.yaml", "behaviour.yaml", "kyrgyzstan.yaml"):
        (tmp_path / name).write_text((scenarios / name).read_text())
    (tmp_path / "counterfactuals" / "more_donors.yaml").write_text(
        "extends: ../kyrgyzstan.yaml\nname: More donors\n"
        "donor_budget_scale: {value: 2.0, source: 'test: twice the donors'}\n"
    )
    (tmp_path / "counterfactuals" / "fragment.yaml").write_text("extends: ../base.yaml\n")
    # A regional file under any name is not a country scenario: neither offered nor skipped.
    (tmp_path / "region.yaml").write_text((scenarios / "central_asia.yaml").read_text())
    found, skipped = app.discover_scenarios(tmp_path)
    assert list(found) == ["kyrgyzstan", "counterfactuals/more_donors"]
    assert found["counterfactuals/more_donors"].donor_budget_scale.value == 2.0
    assert list(skipped) == ["counterfactuals/fragment"]
    assert "country: required field is missing" in skipped["counterfactuals/fragment"]


def test_the_repository_scenarios_are_offered_countries_first(app):
    assert list(app.SCENARIOS)[:3] == ["kazakhstan", "kyrgyzstan", "uzbekistan"]
    assert app.MODEL_PARAMS["scenario_name"]["values"] == list(app.SCENARIOS)
    assert app.SKIPPED == {}


def test_dashboard_model_applies_the_levers_and_the_seed(app):
    model = app.DashboardModel(
        scenario_name="kyrgyzstan",
        seed="7",
        donor_budget_scale=1.5,
        state_funding_start="2005",
        foreign_cut_year=2012,
        foreign_cut_depth=0.4,
        registration_burden="0.10",
    )
    base, _ = app.calibrated(load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml"))
    expected = apply_levers(
        base,
        donor_budget_scale=1.5,
        state_funding_start=2005,
        foreign_cut_year=2012,
        foreign_cut_depth=0.4,
        registration_burden=0.1,
    )
    assert model.config == expected
    assert model.seed == 7
    assert model.notes == []
    assert model.active_levers() == [
        "state grants start in 2005",
        "donor budgets x1.5",
        "foreign funding restricted to at least 0.4 from 2012",
        "registration burden held at 0.1",
    ]


def test_dashboard_model_switches_a_mechanism_off_before_the_levers(app):
    from model.mechanisms import MECHANISMS

    model = app.DashboardModel(switch_off="donor_cuts", donor_budget_scale=1.5)
    base, _ = app.calibrated(load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml"))
    off = base.with_params(MECHANISMS["donor_cuts"].off)
    assert model.config == apply_levers(off, donor_budget_scale=1.5)
    assert model.switched_off == "donor_cuts"
    assert app._switched_off_text(None).startswith("none")
    assert MECHANISMS["donor_cuts"].neutral in app._switched_off_text("donor_cuts")
    assert "switch_off" not in app.LEVER_CONTROLS
    assert app.MODEL_PARAMS["switch_off"]["values"] == ["none", *MECHANISMS]


@pytest.mark.parametrize("typed", ["abc", "-3", "1.5", "4294967296", "99999999999999999999"])
def test_a_bad_seed_is_reported_and_the_default_used(app, typed):
    model = app.DashboardModel(seed=typed)
    assert model.seed == app.DEFAULT_SEED
    [note] = model.notes
    assert typed in note and note.endswith(f"seed {app.DEFAULT_SEED} used")


def test_a_counterfactual_that_runs_as_its_country_says_so(app):
    # The 2024 law in a run to 2023: the run is Kyrgyzstan's, and the panel says so.
    law = app.DashboardModel(scenario_name="counterfactuals/kg_foreign_representatives_law_2024")
    assert law.notes == [
        "this file changes nothing in the years it runs (1991-2023): the run is the same as "
        "kyrgyzstan's"
    ]
    assert app.DashboardModel(scenario_name="counterfactuals/kg_no_2010_shock").notes == []
    assert app.DashboardModel(scenario_name="kyrgyzstan").notes == []


def test_defaults_are_the_scenario_as_written_without_a_posterior(app, monkeypatch):
    monkeypatch.setattr(app, "has_posterior", lambda: False)
    model = app.DashboardModel()
    assert model.config == load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml")
    assert model.active_levers() == []
    assert model.calibration.startswith("uncalibrated")


def test_the_posterior_median_is_used_when_there_is_one(app, monkeypatch):
    monkeypatch.setattr(app, "has_posterior", lambda: True)
    monkeypatch.setattr(
        app, "posterior_median", lambda: {"civic_rate": 3.0, "kyrgyzstan.donor_budget_scale": 2.0}
    )
    model = app.DashboardModel(donor_budget_scale=1.5)
    assert model.config.behaviour.civic_rate.value == 3.0
    assert model.config.donor_budget_scale.value == pytest.approx(3.0)
    assert model.calibration == "calibrated: posterior median"


# The counterfactual view's experiment ---------------------------------------------------


def test_the_counterfactual_view_offers_its_countrys_files_and_levers(app):
    from dashboard.counterfactual import LEVERS_ONLY, counterfactual_choices

    offered = counterfactual_choices(app.SCENARIOS, "kyrgyzstan")
    assert offered[-1] == LEVERS_ONLY
    assert offered[:-1] and all(k.startswith("counterfactuals/kg_") for k in offered[:-1])
    # Not the law of 2024: it changes nothing in the baseline's years (to 2023).
    assert "counterfactuals/kg_no_2010_shock" in offered
    assert "counterfactuals/kg_foreign_representatives_law_2024" not in offered


def test_the_counterfactual_view_builds_the_experiment_a_file_would(app):
    from dashboard.counterfactual import LEVERS_ONLY, NAME, Choice, build_comparison

    levers = app.counterfactual_levers(foreign_cut_year=2012, foreign_cut_depth=0.5)
    choice = Choice("kyrgyzstan", LEVERS_ONLY, levers, 10)
    experiment = build_comparison(choice, app.SCENARIOS, app.SCENARIO_DIR)
    assert experiment.spec.draws == 10
    assert experiment.levers(NAME) == {"foreign_cut_year": 2012, "foreign_cut_depth": 0.5}
    assert experiment.changes[NAME] == ["levers: state.foreign_funding_restriction"]
    assert experiment.scenarios[NAME] == experiment.baseline

    nothing = Choice("kyrgyzstan", LEVERS_ONLY, app.counterfactual_levers(), 10)
    with pytest.raises(ScenarioError, match="changes nothing in the baseline"):
        build_comparison(nothing, app.SCENARIOS, app.SCENARIO_DIR)

    switched = Choice("kyrgyzstan", LEVERS_ONLY, app.counterfactual_levers(), 10, "absorption")
    experiment = build_comparison(switched, app.SCENARIOS, app.SCENARIO_DIR)
    assert experiment.switched_off(NAME) == {"donor_absorption": 0.0}
    assert experiment.changes[NAME][0].startswith("switch_off: absorption")
    assert "without absorption" in experiment.question(NAME)


# The page in a browser ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_ready(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the dashboard server exited ({server.returncode}):\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    pytest.fail(f"the dashboard was not ready within {SERVER_START_SECONDS} s:\n{log.read_text()}")


@pytest.fixture(scope="module")
def dashboard_url(tmp_path_factory):
    """Start ``ngo-abm dashboard`` on a free loopback port; always stop it afterwards."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (make test installs Debian's chromium)")
    port = _free_port()
    log = tmp_path_factory.mktemp("dashboard") / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "dashboard", "--port", str(port)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_ready(url, server, log)
        assert f"open {url} in a browser" in log.read_text()
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (skipped where it cannot be launched)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (make test installs Debian's chromium)")
    with sync_api.sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
        except sync_api.Error as exc:
            pytest.skip(f"Playwright cannot launch {CHROMIUM}: {str(exc).splitlines()[0]}")
        try:
            yield chromium
        finally:
            chromium.close()


def _image_sources(page) -> list[str]:
    return page.evaluate("() => Array.from(document.querySelectorAll('img')).map(i => i.src)")


def _open_tab(browser, url: str, tab: str, button: str):
    """Open the dashboard on a tab; return the page and the tab's run button, once shown."""
    page = browser.new_page(viewport={"width": 1500, "height": 1150})
    page.goto(url, timeout=PAGE_SECONDS * 1000)
    page.get_by_role("tab", name=tab).click()
    run = page.get_by_role("button", name=button, exact=True)
    run.wait_for(timeout=PAGE_SECONDS * 1000)
    return page, run


def test_slider_reset_and_steps_update_the_plots(dashboard_url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1500, "height": 1150})
    timeout_ms = PAGE_SECONDS * 1000
    page.goto(dashboard_url, timeout=timeout_ms)
    step = page.get_by_role("button", name="Step")
    step.wait_for(timeout=timeout_ms)
    page.wait_for_function(
        "() => document.querySelectorAll('img').length === 3", timeout=timeout_ms
    )
    assert "none (the scenario as written)" in page.inner_text("body")

    slider = page.locator('[role="slider"][aria-label="Donor budgets (x scenario)"]')
    slider.focus()
    for _ in range(5):
        slider.press("ArrowRight")
    assert slider.get_attribute("aria-valuenow") == "1.5"
    page.get_by_role("button", name="Reset").click()
    page.get_by_text("donor budgets x1.5").wait_for(timeout=timeout_ms)

    counts_plot = page.locator("img").first
    before_image = counts_plot.screenshot()
    before_sources = _image_sources(page)
    for year in range(1, 4):
        step.click()
        page.get_by_text(f"(year {year} of 33)").wait_for(timeout=timeout_ms)
    page.wait_for_function(
        "(before) => Array.from(document.querySelectorAll('img'))"
        ".every((img, k) => img.complete && img.src !== before[k])",
        arg=before_sources,
        timeout=timeout_ms,
    )
    assert counts_plot.screenshot() != before_image
    assert "Time: 3.0" in page.inner_text("body")
    if SCREENSHOTS:
        # The documented view: twenty years of the run.
        for year in range(4, 21):
            step.click()
            page.get_by_text(f"(year {year} of 33)").wait_for(timeout=timeout_ms)

    text = page.inner_text("body")
    assert not re.search(r"traceback|error", text, re.IGNORECASE), text
    assert page.locator(".v-alert").count() == 0
    shot = Path(SCREENSHOTS or tmp_path) / "dashboard.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    other_tab = browser.new_page()
    other_tab.goto(dashboard_url, timeout=timeout_ms)
    other_tab.get_by_text("Simulated year: not started").wait_for(timeout=timeout_ms)
    assert "none (the scenario as written)" in other_tab.inner_text("body")
    other_tab.close()
    page.close()


def test_a_counterfactual_runs_over_posterior_draws_with_its_difference_chart(
    dashboard_url, browser, tmp_path
):
    page, run = _open_tab(browser, dashboard_url, "counterfactual", "Run comparison")
    timeout_ms = PAGE_SECONDS * 1000

    page.locator(".v-select").filter(has_text="Counterfactual").click()
    page.get_by_role("option", name="counterfactuals/kg_no_2010_shock").click()
    draws = page.locator('[role="slider"][aria-label="Posterior draws"]')
    draws.focus()
    draws.press("ArrowRight")
    assert draws.get_attribute("aria-valuenow") == "11"
    run.click()

    page.get_by_text("of 22 runs").wait_for(timeout=timeout_ms)
    chart = page.locator(".chart-difference img")
    chart.wait_for(timeout=COMPARISON_SECONDS * 1000)
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.chart-difference img'))"
        ".every(img => img.complete && img.naturalWidth > 500)",
        timeout=timeout_ms,
    )
    text = page.inner_text("body")
    assert "Paired difference: counterfactual minus baseline" in text
    assert "11 posterior draws" in text or "11 seeds (no posterior)" in text
    assert "state.shocks[Second revolution and Osh conflict] removed" in text
    assert "difference [90% interval]" in text
    assert page.locator(".chart-fan img").count() == 1
    assert page.locator(".chart-funding img").count() == 1
    assert not re.search(r"traceback|failed", text, re.IGNORECASE), text
    assert page.locator(".v-alert").count() == 0
    # The page's main column scrolls inside the window: bring the difference chart into view.
    chart.scroll_into_view_if_needed()
    shot = Path(SCREENSHOTS or tmp_path) / "dashboard_counterfactual.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    page.close()


def test_the_regional_view_runs_replicates_and_shows_the_network_in_a_chosen_year(
    dashboard_url, browser, tmp_path
):
    page, run = _open_tab(browser, dashboard_url, "regional", "Run")
    timeout_ms = PAGE_SECONDS * 1000
    # Text that is no seed disables Run (it used to run the last good seed).
    seed = page.get_by_label("Seed")
    seed.fill("12abc")
    page.get_by_text("seed '12abc': the seed must be a whole number").wait_for(timeout=timeout_ms)
    assert run.is_disabled()
    seed.fill("1")
    page.wait_for_function("() => !document.body.innerText.includes('12abc')", timeout=timeout_ms)
    assert run.is_enabled()

    replicates = page.locator('[role="slider"][aria-label="Replicates"]')
    replicates.focus()
    for _ in range(3):
        replicates.press("ArrowLeft")
    assert replicates.get_attribute("aria-valuenow") == "2"
    page.locator(".v-select").filter(has_text="Regional counterfactual").click()
    page.get_by_role("option", name="no-closures-after-2010").click()
    run.click()

    page.locator(".chart-network img").wait_for(timeout=REGIONAL_SECONDS * 1000)
    text = page.inner_text("body")
    assert "2 replicate(s), seeds 1-2" in text
    assert "The network in 2023 (replicate 0, seed 1)" in text
    for chart in ("ties", "breakdown", "network", "difference"):
        assert page.locator(f".chart-{chart} img").count() == 1
        page.wait_for_function(
            f"() => Array.from(document.querySelectorAll('.chart-{chart} img'))"
            ".every(img => img.complete && img.naturalWidth > 400)",
            timeout=timeout_ms,
        )
    network = page.locator(".chart-network img")
    before = network.get_attribute("src")
    year = page.locator('[role="slider"][aria-label="Year"]')
    year.focus()
    for _ in range(13):
        year.press("ArrowLeft")
    page.get_by_text("The network in 2010 (replicate 0, seed 1)").wait_for(timeout=timeout_ms)
    page.get_by_text("Obstacles after the 2010 events in Osh").first.wait_for(timeout=timeout_ms)
    page.wait_for_function(
        "(before) => document.querySelector('.chart-network img').src !== before",
        arg=before,
        timeout=timeout_ms,
    )
    by_sector = network.get_attribute("src")
    page.get_by_role("button", name="country").click()
    page.wait_for_function(
        "(before) => document.querySelector('.chart-network img').src !== before",
        arg=by_sector,
        timeout=timeout_ms,
    )
    text = page.inner_text("body")
    assert "Cross-border ties over time" in text
    assert "Ties by country pair and by sector" in text
    assert "Counterfactual: Central Asia without the obstacles after Osh" in text
    assert "Paired difference, median [10%, 90%] over replicates" in text
    assert not re.search(r"traceback|failed", text, re.IGNORECASE), text
    assert page.locator(".v-alert").count() == 0
    # The page's main column scrolls inside the window: a window taller than the page,
    # then cut below the network (the counterfactual has a picture of its own).
    page.set_viewport_size({"width": 1500, "height": 6000})
    bottom = "() => document.querySelector('.chart-network').getBoundingClientRect().bottom"
    page.wait_for_function(f"() => ({bottom})() < 6000", timeout=timeout_ms)
    page.set_viewport_size({"width": 1500, "height": int(page.evaluate(bottom)) + 10})
    shot = Path(SCREENSHOTS or tmp_path) / "dashboard_regional.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    difference = Path(SCREENSHOTS or tmp_path) / "dashboard_regional_counterfactual.png"
    page.locator(".chart-difference").screenshot(path=str(difference))
    assert difference.stat().st_size > 10_000
    page.close()


def test_a_cut_after_a_scenarios_last_year_is_noted_and_dropped(app, monkeypatch):
    short = load_scenario(ROOT / "scenarios" / "kyrgyzstan.yaml")
    short = short.model_validate({**short.model_dump(), "end_year": 2015})
    monkeypatch.setitem(app.SCENARIOS, "short", short)
    model = app.DashboardModel(scenario_name="short", foreign_cut_year=2020, foreign_cut_depth=0.5)
    assert model.notes == ["this scenario ends in 2015: a cut from 2020 changes nothing"]
    assert model.active_levers() == []
    assert model.config == app.calibrated(short)[0]
