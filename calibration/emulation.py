"""The emulated posterior as a calibration: its training rows, its emulator, its files.

The emulator (``calibration.emulator``) is trained on the rows the committed (or
held-back) posterior estimator was trained on: the prior's reference table and the
truncated rounds its flows proposed (``calibration.amortised.estimator_tables``). A run's
statistics given the parameters do not depend on what drew the parameters, so every row
counts as it is. The posterior (``calibration.emulated_posterior``) is drawn at the
reported figures and written as every committed posterior is
(``calibration.amortised.write_posterior``). The method and its checks are in
``docs/calibration.md`` ("The emulated posterior").
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from model import ScenarioError

from .amortised import (
    POSTERIOR_DRAWS,
    estimator_path,
    estimator_tables,
    estimator_targets,
    load_estimator,
    posterior_at_reported,
    scores_of,
    write_posterior,
)
from .emulated_posterior import EmulatedPosterior
from .emulator import Emulator, EmulatorSpec, load, save, train, units
from .posterior import DEFAULT_POSTERIOR, summary_named
from .reference import DEFAULT_TABLE
from .refined_posterior import Mapper, RefinedPosterior, Simulate, model_runs

EMULATOR_DIR = Path(__file__).with_name("emulator")


def emulator_path(holdout: bool = False) -> Path:
    """Return the committed emulator's file (``.eqx``, described by its ``.json``)."""
    return EMULATOR_DIR / ("holdout.eqx" if holdout else "main.eqx")


def training_rows(table: Path = DEFAULT_TABLE, holdout: bool = False):
    """Return the committed (or held-back) estimator and the rows it was trained on."""
    estimator = load_estimator(holdout)
    rows = pd.concat(estimator_tables(estimator, table, holdout=holdout), ignore_index=True)
    least = EmulatorSpec().least_rows()
    if len(rows) < least:
        raise ScenarioError(
            table,
            "rows",
            f"the estimator was trained on {len(rows)} rows, the emulator needs at least "
            f"{least}: train the estimator on more (`calibrate npe --rows`)",
        )
    return estimator, rows


def fit_emulator(
    estimator, rows: pd.DataFrame, seed: int = 1, spec: EmulatorSpec | None = None
) -> tuple[Emulator, dict]:
    """Train the emulator on ``rows``, the estimator's training rows; return it and its cost."""
    targets = estimator_targets(estimator)
    unit = units(targets)
    z = scores_of(rows, estimator.parameters)
    stats = rows[[t.id for t in targets]].to_numpy(dtype=float)
    spec = spec or EmulatorSpec()
    net, mean, sd, moment, cost = train(z, stats, unit, spec, seed)
    emulator = Emulator(
        net,
        spec,
        list(estimator.parameters),
        [t.id for t in targets],
        unit,
        mean,
        sd,
        moment,
        estimator.table_key,
        estimator.rows,
        seed,
        list(estimator.truncated),
    )
    return emulator, {**cost, "rows": len(rows)}


def emulated_posterior(
    emulator: Emulator, estimator, runs: int = 0, simulate: Simulate = None
) -> EmulatedPosterior:
    """Return the emulated posterior of the estimator's targets, refined by ``runs`` runs.

    With ``runs`` 0, the emulated posterior alone; otherwise refined by that many model
    runs per data set (``calibration.refined_posterior``), mapped by ``simulate`` (one
    process by default). Its seed is also the features' noise seed: the estimator's, so
    that the truths' figures are the very ones ``ngo-abm validate`` gives the estimator.
    """
    targets = estimator_targets(estimator)
    if runs == 0:
        return EmulatedPosterior(emulator, targets, seed=estimator.seed)
    return RefinedPosterior(emulator, targets, seed=estimator.seed, runs=runs, simulate=simulate)


def retrain_emulated(
    committed: EmulatedPosterior, seed: int, table: Path, holdout: bool
) -> EmulatedPosterior:
    """Return ``committed`` with its emulator trained again, with ``seed``, on its rows.

    The rows are those the emulator records (its tables' keys and row counts): the prior's
    table in ``table`` and its truncated rounds.
    """
    emulator = committed.emulator
    rows = pd.concat(estimator_tables(emulator, table, holdout=holdout), ignore_index=True)
    again, _ = fit_emulator(emulator, rows, seed, emulator.spec)
    if isinstance(committed, RefinedPosterior):
        return RefinedPosterior(
            again,
            committed.targets_,
            committed.settings,
            committed.seed,
            committed.runs,
            committed.simulate,
        )
    return EmulatedPosterior(again, committed.targets_, committed.settings, committed.seed)


def calibrate_emulated(
    estimator,
    rows: pd.DataFrame,
    seed: int,
    files: tuple[Path, Path, Path],
    spec: EmulatorSpec | None = None,
    draws: int = POSTERIOR_DRAWS,
    runs: int = 0,
    simulate: Simulate = None,
    mapper: Mapper = None,
) -> pd.DataFrame:
    """Train the emulator on ``rows``; save it and write its posterior and summary.

    ``files``: the emulator's, the posterior's (``.parquet``) and the summary's; the
    emulator is saved only once the posterior is drawn. ``runs``: the refinement's
    (``emulated_posterior``), run by ``simulate``, by default the model's runs mapped by
    ``mapper``.
    """
    emulator_file, parquet, summary = files
    simulate = simulate or model_runs(estimator.parameters, estimator.targets, mapper)
    emulator, cost = fit_emulator(estimator, rows, seed, spec)
    posterior = emulated_posterior(emulator, estimator, runs, simulate)
    # Drawn with the seed every committed posterior is drawn with; ``seed`` trains.
    frame = posterior_at_reported(posterior, draws)
    emulator_file.parent.mkdir(parents=True, exist_ok=True)
    save(emulator, emulator_file)
    settings = posterior.settings
    header = {
        "source": f"emulated likelihood ({emulator.spec.members} networks) trained on the "
        f"{len(rows)} rows of the posterior estimator's (table {estimator.table_key} and "
        f"its rounds), {emulator_file.name}; tempered sequential Monte Carlo, "
        f"{max(draws, settings.particles)} particles",
        "method": "emulated",
        "draws": len(frame),
        "particles": max(draws, settings.particles),
        "last_stage_effective_sample": round(float(posterior.final_ess[0]), 1),
        "tempering_stages": int(posterior.stages[0]),
        "moves_per_stage": settings.moves,
        "refinement_runs": runs,
        "simulations": len(rows) + runs,
        "training_seconds": float(cost["training_seconds"]),
        "held_out_loss": float(cost["held_out_loss"]),
        "targets": posterior.targets,
    }
    write_posterior(frame, header, parquet, summary)
    return frame


def committed_method(holdout: bool = False) -> str:
    """Return the method that drew the committed (or held-back) posterior: its summary's."""
    return str(_committed_summary(holdout).get("method", ""))


def _committed_summary(holdout: bool) -> dict:
    parquet = DEFAULT_POSTERIOR.with_name(f"{'holdout_' if holdout else ''}posterior.parquet")
    summary = summary_named(parquet, given=False)
    if not summary.exists():
        return {}
    return yaml.safe_load(summary.read_text(encoding="utf-8")) or {}


def has_committed_sampler(holdout: bool = False) -> bool:
    """Return whether the committed posterior's sampler (emulator or estimator) is on disk."""
    files = [estimator_path(holdout)]
    if committed_method(holdout) == "emulated":
        files.append(emulator_path(holdout))
    return all(f.exists() and f.with_suffix(".json").exists() for f in files)


def load_committed(holdout: bool = False):
    """Return what drew the committed posterior: the emulated posterior, or the estimator.

    Raises:
        ScenarioError: if it is not on disk (``ngo-abm calibrate emulated`` or ``npe``),
            or if the emulator was not trained on the estimator's rows and targets.
    """
    estimator = load_estimator(holdout)
    if committed_method(holdout) != "emulated":
        return estimator
    path = emulator_path(holdout)
    if not path.exists() or not path.with_suffix(".json").exists():
        raise ScenarioError(path, "", "no emulator: run `ngo-abm calibrate emulated`")
    emulator = load(path)
    if (emulator.targets, emulator.table_key) != (list(estimator.targets), estimator.table_key):
        raise ScenarioError(
            path,
            "",
            "trained on another estimator's rows or targets: run `ngo-abm calibrate emulated`",
        )
    runs = int(_committed_summary(holdout).get("refinement_runs", 0))
    return emulated_posterior(emulator, estimator, runs)
