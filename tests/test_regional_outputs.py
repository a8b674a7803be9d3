"""The regional run's outputs and command (``ngo-abm run``, ``compare``), and bad input.

The tables' columns and their agreement with the tie network, the run folder and its
printed ties, the comparison of each country's rows with its figures, replicates on one
or two workers, parameters of counterfactuals and out of range, and bad regional input
stopping in one line with exit status 2. The model itself is tested in
``tests/test_regional.py``, whose run helpers these tests share.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from cli_helpers import run_cli
from test_regional import REGIONAL, SCENARIOS, SEED, country_params, regional_run

from calibration.compare import compare
from calibration.targets import DEFAULT_TARGETS, load_targets
from experiments.git_state import git_dirty
from experiments.regional_runs import (
    region_fingerprint,
    regional_params_file,
    run_region_replicates,
)
from experiments.runs import REGIONAL_RUN_FILES
from model import COUNTRIES, ScenarioError
from model.code import model_fingerprint
from model.regional import REGIONAL_COLUMNS, TIE_TABLE_COLUMNS
from model.regional_files import load_region

# Outputs and the command -----------------------------------------------------------------


def test_the_tables_have_their_columns_and_agree():
    model = regional_run()
    frame, ties = model.results(), model.tie_table()
    assert list(frame.columns) == list(REGIONAL_COLUMNS)
    assert list(ties.columns) == list(TIE_TABLE_COLUMNS)
    assert frame.share_cross_border.between(0, 1).all()
    # Every tie joins two countries: counted once for each.
    per_year = frame.groupby("year").cross_border_ties.sum()
    assert (per_year == 2 * ties.groupby("year").ties.sum().reindex(per_year.index)).all()
    assert set(model.network_table().year) <= set(model.region.spec.network_years)


def test_the_tie_columns_count_only_ties_between_operational_ngos():
    """``cross_border_ties`` and ``share_cross_border`` agree with the network's ties whose
    two NGOs are operational in the last year; dormant NGOs' ties are not counted."""
    model = regional_run()
    last = model.results().query("year == 2023").set_index("country")
    pops = {c: m.population for c, m in model.countries.items()}
    live = [
        (a, b)
        for a, b in model.network.graph.edges
        if pops[a[0]].active[a[1]] and pops[b[0]].active[b[1]]
    ]
    assert len(live) < model.network.graph.number_of_edges()  # some ties are dormant
    for country, pop in pops.items():
        ends = {n for e in live for n in e if n[0] == country}
        assert last.loc[country, "cross_border_ties"] == sum(
            country in (a[0], b[0]) for a, b in live
        )
        share = len(ends) / pop.view("active").sum()
        assert last.loc[country, "share_cross_border"] == pytest.approx(share)


def test_run_writes_the_regional_folder_and_prints_the_ties(tmp_path):
    out = tmp_path / "ca"
    # A folder reused from a country's compared run: its files describe a run that is
    # gone and are removed; a file of the user's stays.
    out.mkdir()
    for name in ("timeseries.png", "compare.csv", "compare.png", "unfitted.csv", "notes.txt"):
        (out / name).write_text("old")
    (out / "manifest.json").write_text("{}")
    status, stdout, stderr = run_cli(["run", str(REGIONAL), "--replicates", "2", "--out", str(out)])
    assert status == 0, stderr
    assert {p.name for p in out.iterdir()} == {*REGIONAL_RUN_FILES, "notes.txt"}
    frame = pd.read_csv(out / "timeseries.csv")
    assert list(frame.columns) == ["replicate", *REGIONAL_COLUMNS]
    assert set(frame.country) == set(COUNTRIES) and set(frame.replicate) == {0, 1}
    assert "uzbekistan" in stdout
    header = next(line for line in stdout.splitlines() if line.startswith("year"))
    assert header.split()[1:] == [str(y) for y in load_region(REGIONAL).spec.report_years]
    # Medians of tie counts: whole (or half, of two replicates), never "312.0"
    rows = [line.split() for line in stdout.splitlines() if line.split()[:1] == ["kyrgyzstan"]]
    assert rows and all(not cell.endswith(".0") for cell in rows[0][1:]), rows
    # The default parameters come from the file the manifest names, with its hash.
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    posterior = regional_params_file("auto")
    assert manifest["posterior_file"] == (None if posterior is None else str(posterior))
    if posterior is not None:
        expected = hashlib.sha256(posterior.read_bytes()).hexdigest()
        assert manifest["posterior_sha256"] == expected
    assert manifest["model_code_sha256"] == model_fingerprint()
    # What the files resolve to (a behaviour file's values included), and the tree's state.
    assert manifest["scenario_resolved_sha256"] == region_fingerprint(load_region(REGIONAL))
    assert manifest["git_dirty"] == git_dirty()


def test_compare_on_the_regional_file_compares_each_countrys_rows_with_its_figures(tmp_path):
    out = tmp_path / "ca"
    argv = ["compare", str(REGIONAL), "--replicates", "1", "--out", str(out)]
    status, stdout, stderr = run_cli(argv)
    assert status == 0, stderr
    table = pd.read_csv(out / "compare.csv")
    assert set(table.country) == set(COUNTRIES)
    frame = pd.read_csv(out / "timeseries.csv")
    targets = load_targets(DEFAULT_TARGETS)
    for country in COUNTRIES:
        rows = frame[frame.country == country].drop(columns="country")
        alone_table = compare({country: rows}, targets)
        pd.testing.assert_frame_equal(
            table[table.country == country].reset_index(drop=True),
            pd.read_csv(io.StringIO(alone_table.to_csv(index=False))),
        )
        assert f"{country}: " in stdout
    # The folder itself compares the same way.
    status, _, stderr = run_cli(["compare", str(out)])
    assert status == 0, stderr
    pd.testing.assert_frame_equal(pd.read_csv(out / "compare.csv"), table)
    # A table cut short in one country is not the run its manifest describes.
    frame[(frame.country != "uzbekistan") | (frame.year <= 2015)].to_csv(
        out / "timeseries.csv", index=False
    )
    (out / "compare.csv").unlink()
    status, _, stderr = run_cli(["compare", str(out)])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert (
        "timeseries.csv: year: uzbekistan's replicate 0 has no row for 2016 (the manifest" in stderr
    )
    assert not (out / "compare.csv").exists()
    (out / "manifest.json").write_text("{", encoding="utf-8")
    status, _, stderr = run_cli(["compare", str(out)])
    assert status == 2 and "manifest.json: malformed manifest: not JSON" in stderr


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"country_years": [1]}, "manifest.json: country_years: malformed manifest: [1]"),
        ({"country_years": {"kazakhstan": [2030, 1991]}}, "country_years.kazakhstan: malformed"),
        ({"countries": []}, "manifest.json: countries: malformed manifest: [], not a list"),
        ({"countries": [["a"]]}, "manifest.json: countries: malformed manifest: [['a']]"),
    ],
)
def test_compare_refuses_a_hand_edited_regional_manifest_in_one_line(
    regional_folder, tmp_path, changes, message
):
    out = tmp_path / "edited"
    shutil.copytree(regional_folder, out)
    data = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    (out / "manifest.json").write_text(json.dumps({**data, **changes}), encoding="utf-8")
    status, _, stderr = run_cli(["compare", str(out)])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    assert message in stderr
    assert not (out / "compare.csv").exists()


@pytest.fixture(scope="module")
def regional_folder(tmp_path_factory) -> Path:
    """A regional run folder of one replicate (``ngo-abm run``)."""
    out = tmp_path_factory.mktemp("regional") / "run"
    status, _, stderr = run_cli(["run", str(REGIONAL), "--replicates", "1", "--out", str(out)])
    assert status == 0, stderr
    return out


def region_with_uzbekistan_to(tmp_path, end_year: int) -> str:
    """Write the regional file with an Uzbekistan that ends in ``end_year``; return its path."""
    data = yaml.safe_load((SCENARIOS / "uzbekistan.yaml").read_text(encoding="utf-8"))
    data["extends"] = str(SCENARIOS / "base.yaml")
    data["end_year"] = end_year
    short = tmp_path / f"uzbekistan_{end_year}.yaml"
    short.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return bad_regional(tmp_path, lambda d: d["countries"].update(uzbekistan=str(short)))


def test_a_country_that_ends_before_the_others_compares_within_its_own_years(tmp_path):
    # Uzbekistan to 2020 (its figures end in 2020) beside countries that run to 2023.
    region = region_with_uzbekistan_to(tmp_path, 2020)
    status, _, stderr = run_cli(
        ["compare", region, "--replicates", "1", "--out", str(tmp_path / "r")]
    )
    assert status == 0, stderr
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["country_years"]["uzbekistan"] == [1991, 2020]
    assert manifest["country_years"]["kyrgyzstan"] == [1991, 2023]


def test_a_run_folder_that_ends_before_a_figure_is_named_beside_the_targets_file(tmp_path):
    # Named the targets file only: with several folders, which one is short was not said.
    region = region_with_uzbekistan_to(tmp_path, 2009)
    out = tmp_path / "r"
    status, _, stderr = run_cli(["run", region, "--replicates", "1", "--out", str(out)])
    assert status == 0, stderr
    status, _, stderr = run_cli(["compare", str(out)])
    assert status == 2 and len(stderr.strip().splitlines()) == 1, stderr
    expected = "targets.yaml: targets.uz_registered_2010_floor: years outside the run (1991-2009)"
    assert f"{expected} of {out / 'timeseries.csv'}" in stderr
    assert not (out / "compare.csv").exists()


def test_replicates_are_the_same_on_one_or_two_workers():
    region = load_region(REGIONAL)
    params = [dict(country_params())] * 2
    one, _ = run_region_replicates(region, SEED, 2, params, workers=1)
    two, _ = run_region_replicates(region, SEED, 2, params, workers=2)
    for name in ("timeseries", "ties", "network"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name), check_exact=True)


def test_a_counterfactuals_fixed_parameter_holds_whatever_the_calibration_says():
    keep = SCENARIOS / "counterfactuals" / "regional" / "ca_donors_keep_money_in_each_country.yaml"
    region = load_region(keep)
    assert region.params["donor_mobility"] == 0.0
    moved = region.with_params({"donor_mobility": 0.9, "tie_decay": 0.05})
    assert moved.params["donor_mobility"] == 0.0 and moved.params["tie_decay"] == 0.05
    baseline = load_region(REGIONAL).with_params({"donor_mobility": 0.9})
    assert baseline.params["donor_mobility"] == 0.9


def test_a_second_with_params_keeps_the_first_ones_overrides():
    region = load_region(REGIONAL).with_params({"tie_decay": 0.05})
    again = region.with_params({"closure_decay": 0.1})
    assert again.params["tie_decay"] == 0.05 and again.params["closure_decay"] == 0.1


def test_regional_parameters_out_of_range_are_refused():
    with pytest.raises(ScenarioError, match="tie_decay = 3 is outside"):
        load_region(REGIONAL).with_params({"tie_decay": 3})


def bad_regional(tmp_path, change) -> str:
    data = yaml.safe_load(REGIONAL.read_text(encoding="utf-8"))
    data["countries"] = {c: str(SCENARIOS / f) for c, f in data["countries"].items()}
    change(data)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda d: d["parameters"]["tie_decay"].update(value=2), "parameters"),
        (lambda d: d["programmes"][0].update(colour="red"), "programmes[CASDIN bulletin].colour"),
        (
            lambda d: d["programmes"][1].update(
                host="uzbekistan", countries=["kazakhstan", "kyrgyzstan"]
            ),
            "programmes[Association of NGOs of Kazakhstan ou...]",
        ),
        (
            lambda d: d["countries"].update(kazakhstan=str(SCENARIOS / "kyrgyzstan.yaml")),
            "countries.kazakhstan",
        ),
        (
            lambda d: d["restrictions"][0].update(strength="nothing"),
            "restrictions[Uzbekistan before its opening].strength",
        ),
        (lambda d: d["parameters"].pop("tie_decay"), "parameters.tie_decay"),
        (lambda d: d.update(countries=["kazakhstan", "kyrgyzstan"]), "countries"),
        (lambda d: d.update(network_years=[2000, 2030]), "network_years"),
        (lambda d: d.update(report_years=[1980]), "report_years"),
        (
            lambda d: d["programmes"][0].update(first_year=1970),
            "programmes[CASDIN bulletin].first_year",
        ),
        (
            lambda d: d["programmes"][1].update(years=[2024]),
            "programmes[Association of NGOs of Kazakhstan ou...].years",
        ),
        (
            lambda d: d["programmes"][0].update(last_year=2030),
            "programmes[CASDIN bulletin].last_year",
        ),
        (lambda d: d["programmes"][0].update(kind="rumour"), "programmes[CASDIN bulletin].kind"),
        (lambda d: d["regional_donors"]["names"].append("Nobody"), "regional_donors.names.4"),
        (lambda d: d.update(fixed={"tie_decay": {"value": 3, "source": "x" * 5}}), "fixed"),
        (lambda d: d.update(fixed={"colour": {"value": 0, "source": "x" * 5}}), "fixed.colour"),
        (
            lambda d: d["regional_donors"]["names"].append(d["regional_donors"]["names"][0]),
            "regional_donors",
        ),
        # Checks of the whole file, which named no field before.
        (
            lambda d: d["countries"].pop("uzbekistan"),
            "programmes[CASDIN bulletin]: uzbekistan is not among the regional countries",
        ),
        (
            lambda d: d["programmes"][1].update(name="CASDIN bulletin"),
            "'CASDIN bulletin' names two programmes or restrictions",
        ),
        (
            lambda d: d["prize_criteria"].append(dict(d["prize_criteria"][0], first_year=2020)),
            "prize_criteria: kazakhstan has two criteria",
        ),
        (
            lambda d: d["transboundary"].update(sectors=["ecology", "ecology"]),
            "transboundary.sectors: 'ecology' is listed twice",
        ),
    ],
)
def test_bad_regional_input_stops_in_one_line_naming_file_and_field(tmp_path, change, field):
    path = bad_regional(tmp_path, change)
    out = tmp_path / "out"
    status, stdout, stderr = run_cli(["run", path, "--out", str(out)])
    assert status == 2
    assert len(stderr.strip().splitlines()) == 1
    assert path in stderr and field in stderr
    assert not out.exists() or not any(out.iterdir())
