"""The held-back forecasts over several trainings of the held-back sampler (``validate``).

The held-back check (``experiments.calibration_report.holdout_section``) forecasts the
figures after 2010 from one training of the held-back sampler (its committed seed): the
estimator's flows, or the emulated posterior's emulator.
From the figures up to 2010 the later Kyrgyz register is known only within a factor of
six, and where the median of so wide a forecast falls moves with the training: seeds 1
to 5 on the same rows move it by ten points or more (1,000 draws each; the ranges are in
``docs/calibration.md`` and ``calibration/report/heldback_trainings.csv``).
A median compared with a curve's forecast means little without that spread, so this
check trains it again on the same rows with other seeds, forecasts with each
(the same draws of the same scenarios), and sets the medians' errors beside the curves'.

Source of the procedure: the held-back calibration of ``calibration.amortised.fit``
(issue "A posterior you can trust", ``docs/calibration.md``); the curves are
``calibration.baselines``'s, read from ``heldback.csv``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from calibration.abc import HOLDOUT_LAST_YEAR
from calibration.amortised import estimator_tables, posterior_at_reported, retrain
from calibration.atomic import write_atomic
from calibration.compare import compare, signed_percent
from calibration.emulated_posterior import EmulatedPosterior
from calibration.emulation import retrain_emulated
from calibration.targets import DEFAULT_TARGETS, load_target_file

from .calibration_report import predictive_runs


def check_training_rows(committed, table: Path) -> None:
    """Read the rows a retraining of the held-back ``committed`` sampler reads (``trainings``).

    Raises:
        ScenarioError: naming the table without them, before any check has run.
    """
    sampler = committed.emulator if isinstance(committed, EmulatedPosterior) else committed
    estimator_tables(sampler, table, holdout=True)


def trainings(committed, count: int, table: Path) -> dict:
    """Return the committed held-back sampler and ``count - 1`` retrainings of it.

    Each retraining takes the next seed after the committed one and the very rows the
    committed one was trained on: the reference table's in ``table`` and its truncated
    rounds' (``calibration.amortised.retrain`` for the flows,
    ``calibration.emulation.retrain_emulated`` for the emulated posterior's emulator).
    """
    if isinstance(committed, EmulatedPosterior):
        first = committed.emulator.seed

        def retrained(seed: int):
            return retrain_emulated(committed, seed, table, holdout=True)
    else:
        first = committed.seed

        def retrained(seed: int):
            return retrain(committed, seed, table, holdout=True)[0]

    trained = {first: committed}
    for seed in range(first + 1, first + count):
        trained[seed] = retrained(seed)
    return trained


def forecasts_over_trainings(estimators: dict, draws: int, seed: int, workers: int) -> pd.DataFrame:
    """Return each training's forecast of every held-back figure (long: one row each)."""
    held = [t for t in load_target_file(DEFAULT_TARGETS).targets if t.last_year > HOLDOUT_LAST_YEAR]
    countries = tuple(dict.fromkeys(t.country for t in held))
    frames = []
    for training, estimator in estimators.items():
        runs = predictive_runs(posterior_at_reported(estimator), draws, seed, workers, countries)
        compared = compare(runs, held)
        frames.append(
            pd.DataFrame(
                {
                    "target": compared["id"],
                    "training_seed": training,
                    "model_median": compared["model_median"],
                    "model_median_error": compared["rel_error"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def spread_table(forecasts: pd.DataFrame, heldback: pd.DataFrame) -> pd.DataFrame:
    """Return, per held-back figure, the trainings' median errors beside the curves'.

    ``heldback`` is the held-back check's table (``heldback.csv``), whose curve errors
    are signed relative errors like the model's (0 inside a bound).
    """
    errors = forecasts.pivot(index="target", columns="training_seed", values="model_median_error")
    errors.columns = [f"seed_{s}" for s in errors.columns]
    table = pd.DataFrame(
        {
            "lowest": errors.min(axis=1),
            "highest": errors.max(axis=1),
            "largest_abs": errors.abs().max(axis=1),
        }
    ).join(errors)
    columns = ["reported", "logistic_error", "gompertz_error", "linear_error"]
    curves = heldback.set_index("target")[columns]
    order = [t for t in heldback["target"] if t in table.index]
    return table.join(curves).loc[order].reset_index(names="target")


def spread_section(table: pd.DataFrame, count: int, draws: int) -> str:
    """Return the paragraph that reads the table (``validation.md``)."""
    curved = table.dropna(subset=["logistic_error"])
    lines = [
        f"The held-back posterior trained {count} times on the same rows (the committed "
        f"seed and the next {count - 1}), each forecasting from {draws} posterior draws "
        "run on the same seeds: the signed error of each training's median, relative to "
        "the reported figure (0 inside a bound), beside the curves' errors "
        "(`heldback_trainings.csv`)."
    ]
    seeds = table.filter(like="seed_").abs()
    for row in curved.itertuples():
        if str(row.reported).startswith((">=", "<=")):
            lines.append(_bound_line(row, int((seeds.loc[row.Index] == 0).sum()), count))
            continue
        beaten = int((seeds.loc[row.Index] <= abs(row.logistic_error)).sum())
        lines.append(
            f"- {row.target}: the trainings' medians from {signed_percent(row.lowest)} to "
            f"{signed_percent(row.highest)}; the logistic curve "
            f"{signed_percent(row.logistic_error)}; "
            f"{beaten} of {count} trainings as close as the curve or closer."
        )
    return "\n".join(lines)


def _bound_line(row, met: int, count: int) -> str:
    """Say whether a bound is met: every value beyond it scores 0, so none is closer."""
    error = row.logistic_error
    curve = "meets it" if error == 0 else f"misses it ({signed_percent(error)})"
    return (
        f"- {row.target}: a bound ({row.reported}), so no forecast is closer than another "
        f"that meets it; {met} of {count} trainings' medians meet it, the logistic curve {curve}."
    )


def heldback_spread(
    committed, count: int, draws: int, seed: int, workers: int, table: Path, out: Path
) -> str:
    """Run the check; write ``heldback_trainings.csv`` to ``out``; return its section.

    Needs the held-back check's ``heldback.csv`` in ``out`` (its curves).
    """
    forecasts = forecasts_over_trainings(trainings(committed, count, table), draws, seed, workers)
    spread = spread_table(forecasts, pd.read_csv(out / "heldback.csv"))
    write_atomic(out / "heldback_trainings.csv", lambda tmp: spread.to_csv(tmp, index=False))
    return spread_section(spread, count, draws)
