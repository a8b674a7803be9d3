"""Build or extend the reference table of prior simulations (``calibration.reference``).

A table of truncated rows (``calibration.truncation``) is built the same way from a
proposal file, which ``write_truncated_proposal`` draws from the committed estimator.

Chunks already stored under the table's key are kept, so an interrupted or time-limited
build resumes where it stopped and a larger ``rows`` extends the table. Chunks run
in-process, on local processes or on a dask.distributed cluster (``experiments.runner``);
every row is the same whichever.
"""

from __future__ import annotations

import time
from pathlib import Path

from calibration.amortised import estimator_path, fitted_targets
from calibration.npe import load
from calibration.observation import observed
from calibration.priors import load_priors, sampled_name
from calibration.reference import (
    ChunkTask,
    chunk_path,
    chunk_tasks,
    is_stored,
    simulate_chunk,
    stored_key,
    table_key,
    write_chunk,
)
from calibration.restricted_prior import DEFAULT, Settings
from calibration.truncation import (
    EPS,
    PROPOSAL_FILE,
    proposal_key,
    read_proposal,
    sampler_key,
    truncated_draws,
    write_proposal,
)
from experiments.progress import progress_bar
from model import ScenarioError

from .runner import imap_runs


def missing_chunks(
    folder: Path, seed: int, rows: int, proposal: Path | None = None, truncation_round: int = 1
) -> list[ChunkTask]:
    """Return the chunks of the first ``rows`` rows that are not stored yet."""
    key = table_key(seed, None if proposal is None else read_proposal(proposal)[1])
    source = None if proposal is None else str(proposal)
    tasks = chunk_tasks(key, seed, rows, source, truncation_round)
    return [task for task in tasks if not is_stored(folder, task)]


def write_truncated_proposal(
    folder: Path,
    holdout: bool,
    rows: int,
    eps: float = EPS,
    seed: int = 1,
    estimator_file: Path | None = None,
    truncation_round: int = 1,
    sampler: str = "rejection",
    settings: Settings = DEFAULT,
) -> dict:
    """Write ``rows`` draws of the prior truncated to a posterior's HPD region.

    The region is that of ``estimator_file`` (by default the committed estimator of the main
    or held-back calibration) at the reported figures; round ``r`` needs an estimator
    trained on the rows of the ``r - 1`` rounds before it. A proposal already stored under
    the same key with enough rows is kept; a longer one starts with the same rows (draws
    are kept in order). ``sampler`` is ``rejection`` or ``mcmc`` (with ``settings``,
    ``calibration.restricted_prior``); an MCMC proposal has a key of its own.

    Raises:
        ScenarioError: if the folder holds rows of the priors' table, or the estimator
            was trained on other parameters than the priors', or on another number of
            rounds.
    """
    if not (folder / PROPOSAL_FILE).exists() and any(folder.glob("rows_*.parquet")):
        # Refused before the draws (minutes at a late round): rows with no proposal are
        # a table drawn from the priors, which a proposal written here would relabel.
        raise ScenarioError(
            folder,
            "",
            "holds rows of a table drawn from the priors, not of a truncated round: "
            "give the round its own folder (--out)",
        )
    estimator_file = estimator_file or estimator_path(holdout)
    if not estimator_file.with_suffix(".json").exists():
        raise ScenarioError(
            estimator_file, "", "no posterior estimator: run `ngo-abm calibrate npe`"
        )
    estimator = load(estimator_file)
    names = list(load_priors())
    if estimator.parameters != names:
        raise ScenarioError(
            estimator_file, "parameters", "differ from calibration/priors.yaml: retrain"
        )
    if len(estimator.truncated) != truncation_round - 1:
        raise ScenarioError(
            estimator_file,
            "truncated",
            f"trained on {len(estimator.truncated)} truncated rounds; round "
            f"{truncation_round} needs {truncation_round - 1}",
        )
    features = observed(fitted_targets(holdout))
    key = proposal_key(estimator_file, features, eps, seed, sampler_key(sampler, settings))
    if (folder / PROPOSAL_FILE).exists():
        stored, stored_key, meta = read_proposal(folder)
        if stored_key == key and len(stored) >= rows:
            return meta
        if stored_key != key and any(folder.glob("rows_*.parquet")):
            # A new round must not silently replace the rows an estimator was trained on.
            raise ScenarioError(
                folder / PROPOSAL_FILE,
                "",
                f"holds rows of another proposal (estimator {meta.get('estimator')}, sampler "
                f"{meta.get('sampler', 'rejection')}, eps {meta.get('eps')}, seed "
                f"{meta.get('seed')}; another estimator's weights, sampler settings, --eps or "
                "seed): move the folder away or give --out",
            )
    draws, tau, details = truncated_draws(
        estimator, features, rows, eps, seed, truncation_round, sampler, settings
    )
    meta = {
        "estimator": estimator_file.name,
        "holdout": holdout,
        "round": truncation_round,
        "eps": eps,
        "seed": seed,
        "log_density_threshold": tau,
        "sampler": sampler,
        **(details if sampler == "rejection" else {"mcmc": details}),
    }
    write_proposal(folder, draws, [sampled_name(n) for n in names], key, meta)
    return meta


def refuse_other_rows(folder: Path, todo: list[ChunkTask]) -> None:
    """Raise ``ScenarioError`` if building ``todo`` would overwrite rows of another table.

    A chunk stored under another key (another seed or proposal, or a model or set-up
    since changed) is a table's worth of simulations, 44 minutes for the 10,600 rows of
    the committed one: it is never replaced without a word. An unreadable chunk is
    rebuilt. The message names the remedy for the cause it can tell: a truncated round's
    folder built without ``--truncate``.
    """
    truncated = all(task.proposal is None for task in todo) and (folder / PROPOSAL_FILE).exists()
    for task in todo:
        other = stored_key(chunk_path(folder, task.start))
        if other is None or other == task.key:
            continue
        if truncated:
            found = (
                f"holds the rows of a truncated round ({PROPOSAL_FILE}): extend it with "
                "--truncate and its --round, or build the prior's table elsewhere (--out)"
            )
        else:
            found = (
                f"holds rows of another table (key {other}; this model, seed and proposal "
                f"make {task.key}): another --seed or --truncate round, or a model since "
                "changed; build into another folder (--out) or remove them. If the code "
                "changed no run, `ngo-abm reference --rekey` keeps them"
            )
        raise ScenarioError(folder, "", found)


def build_table(
    folder: Path,
    rows: int,
    seed: int = 1,
    workers: int = 1,
    scheduler: str | None = None,
    max_minutes: float | None = None,
    progress: bool = False,
    proposal: Path | None = None,
    truncation_round: int = 1,
) -> int:
    """Simulate the missing chunks of the first ``rows`` rows; return how many rows are stored.

    With ``max_minutes``, no chunk is waited for after that time: the build stops and
    resumes on the next call. With ``proposal`` (a folder with a proposal file), the rows'
    normal scores are the proposal's, and their seeds those of ``truncation_round``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    todo = missing_chunks(folder, seed, rows, proposal, truncation_round)
    refuse_other_rows(folder, todo)
    deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
    bar = progress_bar(total=sum(t.stop - t.start for t in todo), show=progress, desc="rows")
    results = imap_runs(simulate_chunk, todo, workers, scheduler)
    try:
        for index, frame in results:
            write_chunk(folder, todo[index], frame)
            bar.update(len(frame))
            if deadline is not None and time.monotonic() > deadline:
                break
    finally:
        results.close()
        bar.close()
    missing = missing_chunks(folder, seed, rows, proposal, truncation_round)
    return rows - sum(t.stop - t.start for t in missing)
