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
writes ``input_screen.csv`` (every input, side and target) and ``input_screen.md``.
"""

from __future__ import annotations

import argparse
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import ValidationError

from calibration.atomic import write_text_atomic
from calibration.compare import signed_target_error, statistic
from calibration.priors import load_priors
from calibration.simulator import SCENARIO_FILES
from calibration.targets import load_targets
from model import COUNTRIES, RunawayError, Scenario, ScenarioError, load_scenario, simulate
from model.config_files import read_yaml_mapping

from .assumed_inputs import (
    SIDES,
    AssumedInput,
    assumed_inputs,
    entry_at,
    move_description,
    perturbed,
)
from .markdown import markdown_table
from .run_params import replicate_params
from .runner import map_runs, replicate_seeds
from .screen import MOVES_A_FIGURE

REPORT = Path(__file__).resolve().parent.parent / "calibration" / "report"
DRAWS = 40
SEED = 0


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
            raise ScenarioError(SCENARIO_FILES[country], ".".join(path), scenario)
    targets = _targets(country)
    try:
        frame = simulate(scenario, seed=seed, agents=False)
    except RunawayError:
        return [float("nan")] * len(targets)
    return [float(statistic(frame, t).iloc[0]) for t in targets]


def screen_inputs(
    draws: int, workers: int, seed: int = SEED, inputs: list[AssumedInput] | None = None
) -> pd.DataFrame:
    """Return every input's effect on every target it reaches, per side.

    One row per input, country, side and target (``effect``, ``se``, ``relative``,
    ``draws``; ``_effects``), or one per input, country and side that cannot move
    (``status`` says why).
    """
    inputs = screened_inputs() if inputs is None else inputs
    params, _ = replicate_params("posterior", draws, seed)
    at = list(zip(params, replicate_seeds(seed, draws), strict=True))
    why_not = move_problems(inputs)
    runnable = [key for key, problem in why_not.items() if problem is None]
    tasks = [(c, None, None, *draw) for draw in at for c in COUNTRIES]
    tasks += [(c, inputs[i].path, side, *draw) for draw in at for i, c, side in runnable]
    results = iter(map_runs(country_statistics, tasks, workers, progress=sys.stderr.isatty()))
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
    ``relative``: the statistic's relative change; ``se``: the effect's standard error.
    """
    a, b = np.asarray(unmoved, dtype=float), np.asarray(moved, dtype=float)
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
    }


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Return each input's largest mean effect, with its target and side.

    ``moves a figure``: at least ``MOVES_A_FIGURE`` units and twice its standard error.
    """
    ran = table[table.status == "run"].copy()
    ran["size"] = ran.effect.abs()
    key = ["file", "input"]
    top = ran.sort_values("size", ascending=False, kind="stable").drop_duplicates(key)
    top["moves a figure"] = (top["size"] >= MOVES_A_FIGURE) & (top["size"] > 2 * top.se)
    skipped = table[table.status != "run"].drop_duplicates(key)
    skipped = skipped[~skipped.set_index(key).index.isin(top.set_index(key).index)]
    columns = ["input", "file", "side", "move", "target", "effect", "se", "relative"]
    columns.append("moves a figure")
    return pd.concat([top[columns], skipped[["input", "file", "status"]]], ignore_index=True)


def report_text(table: pd.DataFrame, draws: int) -> str:
    """Return ``input_screen.md``: the summary, largest effects first."""
    top = summary(table)
    moving = int(top["moves a figure"].fillna(False).astype(bool).sum())
    ran = int(top["effect"].notna().sum())
    shown = top.round({"effect": 2, "se": 2, "relative": 3}).astype(object).fillna("")
    return "\n\n".join(
        [
            "# Screen of the assumed inputs",
            "Written by `python -m experiments.input_screen` (`docs/calibration.md`): each "
            "scenario number whose source is an assumption moved one at a time, a quarter "
            f"either way, at {draws} posterior draws with common random numbers. Per input, "
            "the move and target with the largest mean change of the target's signed error "
            "(`effect`, in tolerance units, 0 inside the reported interval: negative is lower), "
            "its standard error over the draws, and the statistic's mean relative change. "
            f"{moving} of the {ran} inputs that move a number move a figure by at least "
            f"{MOVES_A_FIGURE:g} unit (and twice the standard error); the rest change no "
            "number when moved (`status`).",
            markdown_table(shown),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Run the screen and write its tables."""
    parser = argparse.ArgumentParser(prog="python -m experiments.input_screen")
    parser.add_argument("--draws", type=int, default=DRAWS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    try:
        check_arguments(args)
        table = screen_inputs(args.draws, args.workers, args.seed)
    except ScenarioError as exc:
        print(f"python -m experiments.input_screen: error: {exc}", file=sys.stderr)
        return 2
    csv = args.out / "input_screen.csv"
    write_text_atomic(csv, table.to_csv(index=False, float_format="%.4g"))
    # The summary reads the table as written, so that the two files always agree.
    text = report_text(pd.read_csv(csv), args.draws)
    write_text_atomic(args.out / "input_screen.md", text + "\n")
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


if __name__ == "__main__":
    sys.exit(main())
