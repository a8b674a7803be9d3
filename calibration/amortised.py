"""The amortised calibration: posterior estimators trained on the reference table.

``fit`` trains a neural posterior estimator (``calibration.npe``) on the first rows of
the reference table (``calibration.reference``), with the features of the observation
model (``calibration.observation``) for the targets it fits: every target for the main
calibration, the figures up to 2010 for the held-back one (``calibration.abc.select_targets``).
``export`` evaluates it at the reported figures and writes equally weighted joint draws
in the committed posterior format (``calibration.posterior``), so that ``--params
posterior``, the experiments and the sensitivity analysis use it unchanged. Rows after
the training rows are kept out of training for the coverage check (``ngo-abm validate``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from model import ScenarioError

from .abc import select_targets
from .atomic import write_atomic, write_text_atomic
from .npe import Estimator, FlowSpec, load, save, train
from .observation import observe, observed
from .posterior import WEIGHT, posterior_summary
from .priors import load_priors, model_values, sampled_name
from .reference import DEFAULT_TABLE, load_table, table_key, truncated_tables
from .scenario_inputs import KEY as INPUTS_KEY
from .scenario_inputs import current_inputs
from .targets import Target, load_targets
from .truncation import TRUNCATION_STREAM, read_proposal

ESTIMATOR_DIR = Path(__file__).with_name("npe")
POSTERIOR_DRAWS = 4000
NOISE_STREAM = 7
ROUND = "round"


def estimator_path(holdout: bool) -> Path:
    """Return the committed estimator of the main or held-back calibration."""
    return ESTIMATOR_DIR / ("holdout.eqx" if holdout else "main.eqx")


def fitted_targets(holdout: bool) -> list[Target]:
    """Return the targets the main or held-back calibration conditions on."""
    return select_targets(load_targets(), holdout)


def features_of(table: pd.DataFrame, targets: list[Target], seed: int) -> np.ndarray:
    """Return the observation model's features of the table's rows (noise keyed by row).

    Truncated rows carry their round (column ``ROUND``; 0 or missing for the prior's), so
    that truncated row ``i`` does not share the noise of the prior table's row ``i``.
    """
    stats = table[[t.id for t in targets]].to_numpy(dtype=float)
    out = np.empty_like(stats)
    # One generator per row: a row's noise does not depend on which rows are read with it.
    for i, key in enumerate(row_keys(table)):
        rng = np.random.default_rng([seed, NOISE_STREAM, *key])
        out[i] = observe(targets, stats[i : i + 1], rng)[0]
    return out


def row_keys(table: pd.DataFrame) -> list[list[int]]:
    """Return each row's key: its row number, then the truncation stream and round if any."""
    rows = table["row"].to_numpy()
    rounds = table[ROUND].fillna(0).to_numpy() if ROUND in table else np.zeros(len(rows))
    # The round (at least 1) comes last: numpy's SeedSequence reads a key with trailing
    # zeros as the shorter key, which would make a truncated row one of the prior's.
    return [
        [int(r)] if k < 1 else [int(r), TRUNCATION_STREAM, int(k)]
        for k, r in zip(rounds, rows, strict=True)
    ]


def scores_of(table: pd.DataFrame, parameters: list[str]) -> np.ndarray:
    """Return the table's normal scores of ``parameters`` (columns in that order)."""
    return table[[sampled_name(p) for p in parameters]].to_numpy(dtype=float)


def truncated_rows_of(
    rows: int, folder: Path, truncation_round: int, table_seed: int = 1
) -> tuple[pd.DataFrame, str]:
    """Return the first ``rows`` rows of a truncated round's table (marked), and their key."""
    key = table_key(table_seed, read_proposal(folder)[1])
    return load_table(folder, key, rows).assign(**{ROUND: truncation_round}), key


def training_data(
    tables: list[pd.DataFrame], targets: list[Target], parameters: list[str], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the normal scores of ``parameters`` and the features of every table's rows."""
    z = [scores_of(table, parameters) for table in tables]
    x = [features_of(table, targets, seed) for table in tables]
    return np.concatenate(z), np.concatenate(x)


def fit(
    rows: int,
    holdout: bool = False,
    seed: int = 1,
    table_seed: int = 1,
    folder: Path = DEFAULT_TABLE,
    spec: FlowSpec | None = None,
    progress: bool = False,
    truncated_rows: Sequence[int] = (),
    truncated_folders: Sequence[Path] | None = None,
) -> tuple[Estimator, dict]:
    """Train the estimator on the table's first ``rows`` rows; return it and its cost.

    ``truncated_rows[r - 1]`` rows of truncated round ``r`` of the same calibration
    (``calibration.truncation``; from ``truncated_folders``, by default the calibration's
    own) are trained on as well.
    """
    spec = spec or FlowSpec()
    key = table_key(table_seed)
    table = load_table(folder, key, rows)
    folders = truncated_folders or truncated_tables(holdout, len(truncated_rows))
    tables, truncated = [table], []
    for r, (n, where) in enumerate(zip(truncated_rows, folders, strict=True), start=1):
        rows_r, key_r = truncated_rows_of(n, where, r, table_seed)
        tables.append(rows_r)
        truncated.append((key_r, n))
    targets = fitted_targets(holdout)
    parameters = list(load_priors())
    return _estimate(tables, targets, parameters, key, rows, truncated, seed, spec, progress)


def retrain(
    estimator: Estimator,
    seed: int,
    folder: Path = DEFAULT_TABLE,
    truncated_folders: Sequence[Path] | None = None,
    holdout: bool = False,
) -> tuple[Estimator, dict]:
    """Train ``estimator`` again with another ``seed`` on the very rows it was trained on.

    The rows are read under the table keys the estimator recorded (so the model's code
    may have changed since, as long as the tables were not re-keyed), its truncated
    rounds from ``truncated_folders`` (by default its calibration's own, the held-back
    one's with ``holdout``); its parameters, targets and flows' specification are kept.
    The targets' values and tolerances are read from the current targets file, whose
    observation model gives the training features: a target changed since the estimator
    was trained makes another training.

    Raises:
        ScenarioError: if a target the estimator was trained on is no longer a target.
    """
    tables = estimator_tables(estimator, folder, truncated_folders, holdout)
    targets = estimator_targets(estimator)
    return _estimate(
        tables,
        targets,
        list(estimator.parameters),
        estimator.table_key,
        estimator.rows,
        list(estimator.truncated),
        seed,
        estimator.spec,
        False,
    )


def estimator_tables(
    estimator: Estimator,
    folder: Path = DEFAULT_TABLE,
    truncated_folders: Sequence[Path] | None = None,
    holdout: bool = False,
) -> list[pd.DataFrame]:
    """Return the rows ``estimator`` (or an emulator: it records the same) was trained on.

    The prior's table, then each round's.

    Read under the table keys it recorded, its truncated rounds from ``truncated_folders``
    (by default its calibration's own, the held-back one's with ``holdout``).
    """
    folders = truncated_folders or truncated_tables(holdout, len(estimator.truncated))
    tables = [load_table(folder, estimator.table_key, estimator.rows)]
    for r, ((key, n), where) in enumerate(zip(estimator.truncated, folders, strict=True), start=1):
        tables.append(load_table(where, key, n).assign(**{ROUND: r}))
    return tables


def _estimate(tables, targets, parameters, key, rows, truncated, seed, spec, progress):
    """Train the flows on the rows of ``tables``; return the estimator and its cost."""
    start = time.monotonic()
    z, x = training_data(tables, targets, parameters, seed)
    flows, mean, sd, losses = train(z, x, spec, seed, progress)
    estimator = Estimator(
        flows,
        spec,
        parameters,
        [t.id for t in targets],
        mean,
        sd,
        key,
        rows,
        seed,
        truncated,
    )
    cost = {
        "training_seconds": round(time.monotonic() - start, 1),
        "epochs": [len(v) for v in losses],
        "validation_loss": [round(min(v), 3) for v in losses],
    }
    return estimator, cost


def estimator_targets(estimator: Estimator) -> list[Target]:
    """Return the targets the estimator was trained on, in its order, as the file has them.

    Raises:
        ScenarioError: if one of them is no longer a target.
    """
    by_id = {t.id: t for t in load_targets()}
    gone = [i for i in estimator.targets if i not in by_id]
    if gone:
        raise ScenarioError("calibration/targets.yaml", gone[0], "no longer a target")
    return [by_id[i] for i in estimator.targets]


def reported_features(estimator: Estimator) -> np.ndarray:
    """Return the features of the reported figures, in the estimator's order."""
    return observed(estimator_targets(estimator))


def posterior_at_reported(estimator: Estimator, n: int = POSTERIOR_DRAWS, seed: int = 1):
    """Return ``n`` joint posterior draws at the reported figures, in model units, weighted."""
    priors = load_priors()
    z = estimator.sample(reported_features(estimator), n, seed)
    rows = [
        model_values(dict(zip(map(sampled_name, estimator.parameters), r, strict=True)), priors)
        for r in z
    ]
    frame = pd.DataFrame(rows, columns=estimator.parameters)
    frame = frame[sorted(frame.columns)]
    return frame.assign(**{WEIGHT: 1.0 / n})


def export(
    estimator: Estimator, cost: dict, estimator_file: Path, parquet: Path, summary_yaml: Path
) -> pd.DataFrame:
    """Save the estimator and write its posterior at the reported figures and a summary."""
    save(estimator, estimator_file)
    posterior = posterior_at_reported(estimator)
    truncated = "".join(
        f" and {rows} rows of truncated round {r} (table {key})"
        for r, (key, rows) in enumerate(estimator.truncated, start=1)
    )
    header = {
        "source": f"neural posterior estimation ({estimator.spec.ensemble} masked "
        f"autoregressive flows) on {estimator.rows} reference-table rows "
        f"(table {estimator.table_key}){truncated}, {estimator_file.name}",
        "method": "tsnpe" if estimator.truncated_rows else "npe",
        "particles": len(posterior),
        "effective_sample_size": float(len(posterior)),
        "simulations": estimator.rows + estimator.truncated_rows,
        **cost,
        "targets": estimator.targets,
    }
    write_posterior(posterior, header, parquet, summary_yaml)
    return posterior


def write_posterior(posterior: pd.DataFrame, header: dict, parquet: Path, summary_yaml: Path):
    """Write posterior draws and their summary: ``header``, the inputs, each parameter's."""
    write_atomic(parquet, lambda tmp: posterior.to_parquet(tmp, index=False))
    summary = posterior_summary(posterior)
    doc = {
        **header,
        INPUTS_KEY: current_inputs(),
        "parameters": {
            row.parameter: {
                "median": float(f"{row['median']:.4g}"),
                "q05": float(f"{row.q05:.4g}"),
                "q95": float(f"{row.q95:.4g}"),
            }
            for _, row in summary.iterrows()
        },
    }
    write_text_atomic(summary_yaml, yaml.safe_dump(doc, sort_keys=False))


def load_estimator(holdout: bool = False) -> Estimator:
    """Return the committed estimator of the main or held-back calibration.

    Raises:
        ScenarioError: if there is none (``ngo-abm calibrate npe`` writes it).
    """
    path = estimator_path(holdout)
    if not path.exists() or not path.with_suffix(".json").exists():
        raise ScenarioError(path, "", "no posterior estimator: run `ngo-abm calibrate npe`")
    return load(path)
