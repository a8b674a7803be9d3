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
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from model import ScenarioError

from .abc import load_priors, model_values, sampled_name, select_targets
from .atomic import write_atomic, write_text_atomic
from .npe import Estimator, FlowSpec, load, save, train
from .observation import observe, observed
from .posterior import WEIGHT, posterior_summary
from .reference import DEFAULT_TABLE, load_table, table_key, truncated_table
from .targets import Target, load_targets
from .truncation import TRUNCATION_STREAM, read_proposal

ESTIMATOR_DIR = Path(__file__).with_name("npe")
POSTERIOR_DRAWS = 4000
NOISE_STREAM = 7
STREAM = "stream"


def estimator_path(holdout: bool) -> Path:
    """Return the committed estimator of the main or held-back calibration."""
    return ESTIMATOR_DIR / ("holdout.eqx" if holdout else "main.eqx")


def fitted_targets(holdout: bool) -> list[Target]:
    """Return the targets the main or held-back calibration conditions on."""
    return select_targets(load_targets(), holdout)


def features_of(table: pd.DataFrame, targets: list[Target], seed: int) -> np.ndarray:
    """Return the observation model's features of the table's rows (noise keyed by row).

    Truncated rows carry their table's stream (column ``STREAM``), so that truncated row
    ``i`` does not share the noise of the prior table's row ``i``.
    """
    stats = table[[t.id for t in targets]].to_numpy(dtype=float)
    out = np.empty_like(stats)
    # One generator per row: a row's noise does not depend on which rows are read with it.
    for i, key in enumerate(row_keys(table)):
        rng = np.random.default_rng([seed, NOISE_STREAM, *key])
        out[i] = observe(targets, stats[i : i + 1], rng)[0]
    return out


def row_keys(table: pd.DataFrame) -> list[list[int]]:
    """Return each row's key: its row number, then its table's stream for truncated rows."""
    rows = table["row"].to_numpy()
    streams = table[STREAM].fillna(-1).to_numpy() if STREAM in table else np.full(len(rows), -1)
    # The stream comes last: numpy's SeedSequence reads a key with trailing zeros as the
    # shorter key, so a stream first would make truncated row 0 the prior's row ``stream``.
    return [[int(r)] if s < 0 else [int(r), int(s)] for s, r in zip(streams, rows, strict=True)]


def scores_of(table: pd.DataFrame, parameters: list[str]) -> np.ndarray:
    """Return the table's normal scores of ``parameters`` (columns in that order)."""
    return table[[sampled_name(p) for p in parameters]].to_numpy(dtype=float)


def truncated_rows_of(rows: int, folder: Path, table_seed: int = 1) -> tuple[pd.DataFrame, str]:
    """Return the first ``rows`` rows of a truncated table (marked), and their key."""
    key = table_key(table_seed, read_proposal(folder)[1])
    return load_table(folder, key, rows).assign(**{STREAM: TRUNCATION_STREAM}), key


def training_data(
    prior: pd.DataFrame, truncated: pd.DataFrame | None, targets: list[Target], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the normal scores and features of the prior's rows and the truncated rows."""
    parameters = list(load_priors())
    z = [scores_of(prior, parameters)]
    x = [features_of(prior, targets, seed)]
    if truncated is not None:
        z.append(scores_of(truncated, parameters))
        x.append(features_of(truncated, targets, seed))
    return np.concatenate(z), np.concatenate(x)


def fit(
    rows: int,
    holdout: bool = False,
    seed: int = 1,
    table_seed: int = 1,
    folder: Path = DEFAULT_TABLE,
    spec: FlowSpec | None = None,
    progress: bool = False,
    truncated_rows: int = 0,
    truncated_folder: Path | None = None,
) -> tuple[Estimator, dict]:
    """Train the estimator on the table's first ``rows`` rows; return it and its cost.

    With ``truncated_rows``, the first rows of the truncated table of the same calibration
    (``calibration.truncation``; ``truncated_folder``, by default the calibration's own)
    are trained on as well.
    """
    spec = spec or FlowSpec()
    key = table_key(table_seed)
    table = load_table(folder, key, rows)
    truncated, truncated_key = None, None
    if truncated_rows:
        truncated_folder = truncated_folder or truncated_table(holdout)
        truncated, truncated_key = truncated_rows_of(truncated_rows, truncated_folder, table_seed)
    targets = fitted_targets(holdout)
    parameters = list(load_priors())
    start = time.monotonic()
    z, x = training_data(table, truncated, targets, seed)
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
        truncated_key,
        truncated_rows,
    )
    cost = {
        "training_seconds": round(time.monotonic() - start, 1),
        "epochs": [len(v) for v in losses],
        "validation_loss": [round(min(v), 3) for v in losses],
    }
    return estimator, cost


def posterior_at_reported(estimator: Estimator, n: int = POSTERIOR_DRAWS, seed: int = 1):
    """Return ``n`` joint posterior draws at the reported figures, in model units, weighted."""
    priors = load_priors()
    targets = {t.id: t for t in load_targets()}
    x = observed([targets[i] for i in estimator.targets])
    z = estimator.sample(x, n, seed)
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
    write_atomic(parquet, lambda tmp: posterior.to_parquet(tmp, index=False))
    summary = posterior_summary(posterior)
    truncated = (
        f" and {estimator.truncated_rows} truncated rows (table {estimator.truncated_key})"
        if estimator.truncated_rows
        else ""
    )
    doc = {
        "source": f"neural posterior estimation ({estimator.spec.ensemble} masked "
        f"autoregressive flows) on {estimator.rows} reference-table rows "
        f"(table {estimator.table_key}){truncated}, {estimator_file.name}",
        "method": "tsnpe" if estimator.truncated_rows else "npe",
        "particles": len(posterior),
        "effective_sample_size": float(len(posterior)),
        "simulations": estimator.rows + estimator.truncated_rows,
        **cost,
        "targets": estimator.targets,
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
    return posterior


def load_estimator(holdout: bool = False) -> Estimator:
    """Return the committed estimator of the main or held-back calibration.

    Raises:
        ScenarioError: if there is none (``ngo-abm calibrate npe`` writes it).
    """
    path = estimator_path(holdout)
    if not path.exists() or not path.with_suffix(".json").exists():
        raise ScenarioError(path, "", "no posterior estimator: run `ngo-abm calibrate npe`")
    return load(path)
