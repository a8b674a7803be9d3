"""Morris screen of the calibrated parameters on the calibration targets' errors (SALib).

Which parameters move any target enough to be worth calibrating: each parameter's
Morris mean absolute elementary effect (mu*, Campolongo et al. 2007) on every target's
error in tolerance units (``calibration.compare.target_error``, the calibration's own
measure), over the prior (probabilities 0.02-0.98 mapped through the prior quantiles of
``calibration/priors.yaml``). A parameter whose largest mu* over all targets is below one
tolerance unit moves no figure by as much as its tolerance and is fixed at its documented
value in ``scenarios/behaviour.yaml`` rather than calibrated (``docs/calibration.md``).

All countries run with one seed (common random numbers across points). A parameter set
whose register runs away (``RunawayError``) scores ``ERROR_CAP`` on every target.

Run: ``python -m experiments.screen [--trajectories 8] [--workers 2] [--out FILE]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from calibration.atomic import write_atomic
from calibration.compare import statistic, target_error
from calibration.priors import PRIORS, load_priors
from calibration.simulator import SCENARIO_FILES
from calibration.targets import load_targets
from model import RunawayError, ScenarioError, load_scenario, simulate

from .options import OneLineParser
from .runner import map_runs

OUT = Path(__file__).resolve().parent.parent / "calibration" / "report" / "screen.csv"
ERROR_CAP = 50.0
# A parameter whose largest mu* is below this many tolerance units moves no figure.
MOVES_A_FIGURE = 1.0
LEVELS = 4
SEED = 11


def target_errors(values: dict[str, float]) -> list[float]:
    """Return every target's error (tolerance units, capped) for one parameter set."""
    targets = load_targets()
    # A refused value is the user's error; only a register that runs away scores the cap.
    scenarios = {c: load_scenario(f, values) for c, f in SCENARIO_FILES.items()}
    try:
        frames = {c: simulate(s, seed=SEED, agents=False) for c, s in scenarios.items()}
    except RunawayError:
        return [ERROR_CAP] * len(targets)
    errors = []
    for t in targets:
        value = float(statistic(frames[t.country], t).iloc[0])
        errors.append(min(target_error(t, value), ERROR_CAP))
    return errors


def screen(
    trajectories: int, workers: int, priors_path: Path = PRIORS, seed: int = 3
) -> pd.DataFrame:
    """Return mu* per parameter (rows) and target (columns), with ``max`` over targets.

    ``priors_path`` names the candidates: the calibrated parameters, or a file that adds
    parameters fixed earlier, to check that they still move no target.
    """
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    priors = load_priors(priors_path)
    names = list(priors)
    problem = {"num_vars": len(names), "names": names, "bounds": [[0.02, 0.98]] * len(names)}
    points = sample.sample(problem, trajectories, num_levels=LEVELS, seed=seed)
    param_sets = [
        {n: float(priors[n].quantiles(np.array(q))) for n, q in zip(names, x, strict=True)}
        for x in points
    ]
    errors = np.array(map_runs(target_errors, param_sets, workers, progress=True))
    ids = [t.id for t in load_targets()]
    mu_star = {
        target: analyze.analyze(problem, points, errors[:, j], num_levels=LEVELS)["mu_star"]
        for j, target in enumerate(ids)
    }
    table = pd.DataFrame(mu_star, index=pd.Index(names, name="parameter"))
    table.insert(0, "max", table.max(axis=1))
    return table.sort_values("max")


def main(argv: list[str] | None = None) -> int:
    """Run the screen and write its table."""
    parser = OneLineParser(prog="python -m experiments.screen")
    parser.add_argument("--trajectories", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--priors", type=Path, default=PRIORS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    try:
        check_arguments(args)
        load_priors(args.priors)  # a bad file is named before the runs, not after
        table = screen(args.trajectories, args.workers, args.priors)
    except ScenarioError as exc:
        print(f"python -m experiments.screen: error: {exc}", file=sys.stderr)
        return 2
    write_atomic(args.out, lambda tmp: table.to_csv(tmp, float_format="%.4g"))
    print(table["max"].to_string(float_format="%.2f"))
    return 0


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse, before any run, options the screen would fail on after hours of runs."""
    if args.trajectories < 2:
        raise ScenarioError("--trajectories", "", f"{args.trajectories}: at least 2")
    if args.workers < 1:
        raise ScenarioError("--workers", "", f"{args.workers}: at least 1")
    if args.out.is_dir() or not args.out.parent.is_dir():
        found = "is a folder" if args.out.is_dir() else "its folder does not exist"
        raise ScenarioError(args.out, "--out", f"{found}: the screen writes one CSV file")


if __name__ == "__main__":
    sys.exit(main())
