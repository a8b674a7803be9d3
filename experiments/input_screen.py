"""Screen of the scenarios' assumed numbers: how far each moves the calibration's figures.

The calibration fits the parameters of ``calibration/priors.yaml`` with every other
number of the scenario files fixed; the numbers that rest on an assumption
(``experiments.assumed_inputs``) carry uncertainty the posterior does not. This screen
moves each one at a time, a quarter either way (``docs/calibration.md``), and measures
each target's statistic against the same runs unmoved: posterior draws, each run on its
own seed with and without the move (common random numbers), so that the difference is
the move's. An effect is in tolerance units (``calibration.compare.tolerance_scales``,
the calibration's own measure), averaged over the draws with its standard error. An
assumption moves a figure when its mean effect on some target is at least one unit
(``experiments.screen.MOVES_A_FIGURE``, the bar under which a parameter is not worth
calibrating) and twice its standard error; the parameters stay at their draws, so it says
how much the fit as calibrated depends on the number, not how a recalibration would
answer it.

Run: ``python -m experiments.input_screen [--draws 40] [--workers 2] [--out FOLDER]``;
writes ``input_screen.csv`` (every input, side and target) and ``input_screen.md``. With
``--holdout`` the draws are the held-back posterior's (``input_screen_holdout.*``): what
the forecasts of the figures after 2010 rest on among the assumptions.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from calibration.atomic import write_text_atomic
from calibration.compare import signed_target_error, statistic
from calibration.posterior import DEFAULT_POSTERIOR, draw_posterior
from calibration.priors import load_priors
from calibration.simulator import SCENARIO_FILES
from calibration.targets import load_targets
from model import COUNTRIES, RunawayError, Scenario, ScenarioError, load_scenario, simulate
from model.yaml_files import read_yaml_mapping

from .assumed_inputs import (
    SIDES,
    AssumedInput,
    assumed_inputs,
    entry_at,
    move_description,
    path_label,
    perturbed,
)
from .calibration_report import HOLDOUT_POSTERIOR
from .markdown import markdown_table
from .options import OneLineParser
from .runner import map_runs, replicate_seeds
from .screen import MOVES_A_FIGURE

REPORT = Path(__file__).resolve().parent.parent / "calibration" / "report"
DRAWS = 40
SEED = 0
KEY = ["file", "input"]
SUMMARY_FLAGS = ["undefined", "moves a figure", "changes a statistic", "status"]
# A statistic's relative change below this is floating-point rounding, not an effect (the
# US price index, read only as a ratio to its base year, moves nothing when scaled).
ROUNDING = 1e-9
ROUNDING_NOTE = "no statistic changes beyond rounding"
HELD_BACK_NOTE = (
    "the held-back posterior (calibrated on the figures up to 2010: its effects on the later "
    "figures are on its forecasts)"
)


@cache
def _scenario(country: str) -> Scenario:
    return load_scenario(SCENARIO_FILES[country])


@cache
def _targets(country: str) -> tuple:
    return tuple(t for t in load_targets() if t.country == country)


def screened_inputs() -> list[AssumedInput]:
    """Return every assumed, uncalibrated entry of the country scenarios, shared ones once."""
    calibrated = set(load_priors())
    found: dict[tuple[str, str], AssumedInput] = {}
    for country in COUNTRIES:
        path = SCENARIO_FILES[country]
        own = set(read_yaml_mapping(path))
        data = _scenario(country).model_dump(mode="python")
        for item in assumed_inputs(data, f"scenarios/{path.name}", own, calibrated):
            found.setdefault((item.file, item.label), item)
    return list(found.values())


def countries_of(item: AssumedInput) -> tuple[str, ...]:
    """Return the countries whose runs read the entry."""
    if item.shared:
        return COUNTRIES
    return tuple(c for c in COUNTRIES if item.file == f"scenarios/{SCENARIO_FILES[c].name}")


def moved_scenario(scenario: Scenario, path: tuple[str, ...], side: str) -> Scenario | str:
    """Return ``scenario`` with the entry at ``path`` moved, or why it cannot be."""
    data = perturbed(scenario.model_dump(mode="python"), path, side)
    if data is None:
        return "unchanged: the move changes no number"
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        return f"invalid: {exc.errors()[0]['msg']}"


def country_statistics(task: tuple) -> list[float]:
    """Run one country, moved or not, at one draw; return its targets' statistics."""
    country, path, side, params, seed = task
    scenario = _scenario(country).with_params(params)
    if path is not None:
        scenario = moved_scenario(scenario, path, side)
        if isinstance(scenario, str):
            # Checked unmoved before the runs; the draw's parameters touch no assumed entry.
            raise ScenarioError(SCENARIO_FILES[country], path_label(path), scenario)
    targets = _targets(country)
    try:
        frame = simulate(scenario, seed=seed, agents=False)
    except RunawayError:
        return [float("nan")] * len(targets)
    return [float(statistic(frame, t).iloc[0]) for t in targets]


def screen_inputs(
    draws: int,
    workers: int,
    seed: int = SEED,
    inputs: list[AssumedInput] | None = None,
    posterior: Path = DEFAULT_POSTERIOR,
) -> pd.DataFrame:
    """Return every input's effect on every target it reaches, per side.

    One row per input, country, side and target (``effect``, ``se``, ``relative``,
    ``draws``; ``_effects``), or one per input, country and side that cannot move
    (``status`` says why).
    """
    inputs = screened_inputs() if inputs is None else inputs
    seeds = replicate_seeds(seed, draws)
    at = list(zip(draw_posterior(draws, seed, posterior), seeds, strict=True))
    why_not = move_problems(inputs)
    runnable = [key for key, problem in why_not.items() if problem is None]
    tasks = [(c, None, None, *draw) for draw in at for c in COUNTRIES]
    tasks += [(c, inputs[i].path, side, *draw) for draw in at for i, c, side in runnable]
    results = iter(map_runs(country_statistics, tasks, workers, progress=True))
    base = {(c, d): next(results) for d in range(draws) for c in COUNTRIES}
    moved = {(key, d): next(results) for d in range(draws) for key in runnable}
    rows = []
    for (i, country, side), problem in why_not.items():
        item = inputs[i]
        head = {
            "input": item.label,
            "file": item.file,
            "side": side,
            "move": move_description(_entry(country, item), side),
        }
        if problem is not None:
            rows.append({**head, "status": problem})
            continue
        for j, target in enumerate(_targets(country)):
            unmoved = [base[country, d][j] for d in range(draws)]
            after = [moved[(i, country, side), d][j] for d in range(draws)]
            effects = _effects(target, unmoved, after)
            rows.append({**head, "status": "run", "target": target.id, **effects})
    return pd.DataFrame(rows)


def move_problems(inputs: list[AssumedInput]) -> dict[tuple[int, str, str], str | None]:
    """Return, per input, country and side, why the move cannot run (None if it can)."""
    problems = {}
    for i, item in enumerate(inputs):
        for country in countries_of(item):
            for side in SIDES:
                moved = moved_scenario(_scenario(country), item.path, side)
                problems[i, country, side] = moved if isinstance(moved, str) else None
    return problems


def _entry(country: str, item: AssumedInput) -> dict:
    return entry_at(_scenario(country).model_dump(mode="python"), item.path)


def _effects(target, unmoved: list[float], moved: list[float]) -> dict[str, float]:
    """Return the move's mean change of a target's error and statistic over the draws.

    ``effect``: the change of the signed error (``signed_target_error``, tolerance units,
    0 inside the reported interval, so a bound met before and after moves nothing);
    ``se``: its standard error; ``relative``: the statistic's relative change; ``draws``:
    the draws with both statistics defined; ``undefined``: those where the move makes the
    statistic undefined or defined (a register that runs away, say), which the mean
    cannot count and the summary does.
    """
    a, b = np.asarray(unmoved, dtype=float), np.asarray(moved, dtype=float)
    undefined = int((np.isfinite(a) != np.isfinite(b)).sum())
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    error = np.array([signed_target_error(target, x) for x in b])
    error -= np.array([signed_target_error(target, x) for x in a])
    relative = (b - a) / np.where(a != 0, np.abs(a), 1.0)
    n = len(error)
    return {
        "effect": float(error.mean()) if n else float("nan"),
        "se": float(error.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"),
        "relative": float(relative.mean()) if n else float("nan"),
        "draws": n,
        "undefined": undefined,
    }


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return one row per input: its move and target with the largest mean effect.

    ``moves a figure``: some target's mean effect is at least ``MOVES_A_FIGURE`` units and
    twice its standard error, or the move makes a statistic undefined in some draw;
    ``changes a statistic``: some statistic changes by more than ``ROUNDING``; ``status``:
    why a side did not run, where one did not.
    """
    ran = table[table.status == "run"].copy()
    ran["size"] = ran.effect.abs()
    big = (ran["size"] >= MOVES_A_FIGURE) & (ran["size"] > 2 * ran.se)
    ran["meets"] = big | (ran.undefined > 0)
    ran["changes"] = (ran.relative.abs() > ROUNDING) | (ran.undefined > 0)
    by = ran.groupby(KEY, sort=False)
    order = ran.sort_values("size", ascending=False, kind="stable", na_position="last")
    top = order.drop_duplicates(KEY).set_index(KEY)
    top["moves a figure"] = by.meets.any()
    top["changes a statistic"] = by.changes.any()
    top["undefined"] = by.undefined.sum()
    notes = _side_notes(table[table.status != "run"])
    alone = notes.index.difference(top.index)
    top["status"] = notes.reindex(top.index).fillna("")
    still = ~top["changes a statistic"].astype(bool)
    top.loc[still, "status"] = (ROUNDING_NOTE + "; " + top.loc[still, "status"]).str.rstrip("; ")
    rest = pd.DataFrame({"status": notes.loc[alone]}, index=alone)
    rows = pd.concat([top, rest]).reset_index()
    return rows[[*KEY, "side", "move", "target", "effect", "se", "relative", *SUMMARY_FLAGS]]


def _side_notes(skipped: pd.DataFrame) -> pd.Series:
    """Return, per input, why its sides did not run (once if both say the same)."""

    def note(group: pd.DataFrame) -> str:
        if group.status.nunique() == 1 and set(group.side) == set(SIDES):
            return group.status.iloc[0]
        pairs = zip(group.side, group.status, strict=True)
        return "; ".join(dict.fromkeys(f"{side}: {why}" for side, why in pairs))

    if skipped.empty:
        return pd.Series(dtype=object)
    return skipped.groupby(KEY, sort=False)[["side", "status"]].apply(note)


def report_text(table: pd.DataFrame, draws: int, held_back: bool = False) -> str:
    """Return ``input_screen.md``: the summary, largest effects first.

    ``held_back``: the draws are the held-back posterior's (``--holdout``).
    """
    posterior = HELD_BACK_NOTE if held_back else "the committed posterior"
    top = summary(table)
    moving = int(top["moves a figure"].eq(True).sum())
    changing = int(top["changes a statistic"].eq(True).sum())
    shown = top.round({"effect": 2, "se": 2, "relative": 3}).astype(object).fillna("")
    return "\n\n".join(
        [
            "# Screen of the assumed inputs",
            "Written by `python -m experiments.input_screen` (`docs/calibration.md`): each "
            "scenario number whose source is an assumption moved one at a time (a number or "
            "series a quarter either way, a donor's year by two, weights flatter and sharper) "
            f"at {draws} draws of {posterior}, with common random numbers. Per input, the move and "
            "target with the largest mean change of the target's signed error (`effect`, in "
            "tolerance units, 0 inside the reported interval: negative is lower), its "
            "standard error over the draws, and the statistic's mean relative change; "
            "`undefined` counts the draws where the move made a statistic undefined. "
            f"{changing} of the {len(top)} inputs change a statistic when moved, and {moving} "
            f"move a figure by at least {MOVES_A_FIGURE:g} tolerance unit (and twice the "
            "standard error); `status` says why a move did not run.",
            markdown_table(shown),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the screen and write its tables."""
    parser = OneLineParser(prog="python -m experiments.input_screen")
    parser.add_argument("--draws", type=int, default=DRAWS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=REPORT)
    parser.add_argument(
        "--holdout", action="store_true", help="draws of the held-back posterior instead"
    )
    args = parser.parse_args(argv)
    posterior = HOLDOUT_POSTERIOR if args.holdout else DEFAULT_POSTERIOR
    name = "input_screen_holdout" if args.holdout else "input_screen"
    try:
        check_arguments(args)
        table = screen_inputs(args.draws, args.workers, args.seed, posterior=posterior)
    except ScenarioError as exc:
        print(f"python -m experiments.input_screen: error: {exc}", file=sys.stderr)
        return 2
    written = table.to_csv(index=False, float_format="%.4g")
    # The summary reads the table as written, so that the two files always agree; both
    # are made before either is written.
    text = report_text(pd.read_csv(io.StringIO(written)), args.draws, args.holdout)
    write_text_atomic(args.out / f"{name}.csv", written)
    write_text_atomic(args.out / f"{name}.md", text + "\n")
    print(text)
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any run, options the screen would fail on after its runs."""
    if args.draws < 2:
        raise ScenarioError("--draws", "", f"{args.draws}: at least 2 (for a standard error)")
    if args.workers < 1:
        raise ScenarioError("--workers", "", f"{args.workers}: at least 1")
    if not args.out.is_dir():
        found = "is a file" if args.out.exists() else "not found"
        raise ScenarioError(args.out, "--out", f"{found}: the screen writes into a folder")
    if not os.access(args.out, os.W_OK):
        raise ScenarioError(args.out, "--out", "not writable: the screen writes into it")


if __name__ == "__main__":
    sys.exit(main())
