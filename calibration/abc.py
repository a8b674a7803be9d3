"""ABC-SMC calibration (pyabc) of the shared behavioural parameters, jointly on all countries.

Each particle runs the Kazakh, Kyrgyz and Uzbek scenarios with the same behavioural
parameters (plus each country's donor budget level) and is scored on the targets of
``calibration/targets.yaml`` with ``calibration.compare.target_error``: the root mean
square of the targets' errors in tolerance units, so counts, shares and growth multiples
weigh alike. Model randomness: each particle is one run per country with a fresh seed, so
the ABC posterior integrates over the model's noise (the standard ABC treatment of a
stochastic simulator); at 1:1 scale run-to-run noise is small next to the tolerances.

The priors and the space pyabc samples them in are ``calibration.priors``, the particle's
runs and distance ``calibration.simulator``; this module sets up, runs and resumes pyabc
and exports the posterior.

pyabc keeps the history in SQLite; every completed generation is stored, so an
interrupted calibration resumes from its last complete generation (``ABCSMC.load``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import sqlite3
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyabc
import sqlalchemy
import yaml

from model import ScenarioError

from .atomic import write_atomic, write_text_atomic
from .posterior import WEIGHT, effective_sample_size, posterior_summary
from .priors import PRIORS, PriorSpec, load_priors, model_values, pyabc_prior, sampled_name
from .proposal import CollapsedPopulation, StudentTProposal
from .scenario_inputs import KEY as INPUTS_KEY
from .scenario_inputs import current_inputs
from .simulator import Simulator, TargetDistance
from .targets import DEFAULT_TARGETS, HOLDOUT_LAST_YEAR, Target, load_targets

RUNS_DIR = Path(__file__).with_name("runs")


def select_targets(targets: list[Target], holdout: bool) -> list[Target]:
    """Return the targets a calibration fits.

    The full calibration fits every target; the held-back calibration fits only figures
    up to 2010, so that the Kyrgyz 2017 and 2023 figures test its forecasts.
    """
    if not holdout:
        return targets
    return [t for t in targets if t.last_year <= HOLDOUT_LAST_YEAR]


def fingerprint(priors: Mapping[str, PriorSpec], targets: list[Target], sim: Simulator) -> str:
    """Return a hash of what a calibration depends on: priors, targets and scenarios.

    A scenario counts by what its runs read (``Scenario.inputs_fingerprint``), so a
    reworded source note keeps the calibration's tables and database.
    """
    payload = {
        "priors": {k: v.model_dump() for k, v in priors.items()},
        "sampled": sorted(sampled_name(k) for k in priors),
        "targets": [t.model_dump() for t in targets],
        "scenarios": {c: s.inputs_fingerprint() for c, s in sim.scenarios.items()},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def make_sampler(workers: int, scheduler: str | None):
    """Return pyabc's multicore sampler, or its dask sampler on an existing cluster."""
    if scheduler:
        from .scheduler import open_client

        return pyabc.sampler.DaskDistributedSampler(
            dask_client=open_client(scheduler), batch_size=4
        )
    if workers <= 1:
        return pyabc.sampler.SingleCoreSampler()
    return pyabc.sampler.MulticoreEvalParallelSampler(n_procs=workers)


def _has_pyabc_tables(path: Path) -> bool:
    """Return whether ``path`` is an SQLite file holding pyabc's tables, read-only.

    Read before pyabc opens it: pyabc creates its tables in any SQLite file it is given,
    an empty file included, so a file given by mistake would be changed by the check.
    """
    if not path.is_file():
        return False  # a pipe is not opened: it would wait for a writer
    try:
        with path.open("rb") as file:
            if file.read(16) != b"SQLite format 3\x00":
                return False
        with contextlib.closing(
            sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        ) as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    except (OSError, sqlite3.Error):
        return False
    return {"abc_smc", "populations"} <= tables


def _db_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"


def _stored_fingerprint(path: Path) -> str | None:
    if not _has_pyabc_tables(path):
        raise ScenarioError(path, "", "not a complete pyabc calibration database")
    try:
        options = pyabc.History(_db_url(path)).get_abc().json_parameters
    except (AssertionError, sqlalchemy.exc.SQLAlchemyError):
        # pyabc asserts on a database it did not finish creating or cannot read.
        raise ScenarioError(path, "", "not a complete pyabc calibration database") from None
    try:
        return json.loads(options.replace("'", '"')).get("fingerprint")
    except (json.JSONDecodeError, AttributeError):
        return None


def calibrate(
    db: Path,
    population: int = 200,
    generations: int = 8,
    resume: bool = False,
    force: bool = False,
    workers: int = 2,
    scheduler: str | None = None,
    holdout: bool = False,
    max_minutes: float | None = 9.0,
    min_epsilon: float = 0.0,
    priors_path: Path = PRIORS,
    targets_path: Path = DEFAULT_TARGETS,
    log: Callable[[str], None] = print,
) -> pyabc.History:
    """Run (or resume) an ABC-SMC calibration; one line per generation goes to ``log``.

    Args:
        db: SQLite history database.
        population: Particles per generation.
        generations: Generations to run in this call (on top of stored ones if resuming).
        resume: Continue the stored calibration from its last complete generation.
        force: Start afresh even if ``db`` holds a calibration.
        workers: Local processes (ignored with ``scheduler``).
        scheduler: Address of an existing dask.distributed scheduler.
        holdout: Fit only the figures up to 2010 (the held-back check).
        max_minutes: Stop starting new generations after this wall time (pyabc's
            ``max_walltime``).
        min_epsilon: Stop once the acceptance threshold falls below this.
        priors_path: Priors file.
        targets_path: Targets file.
        log: Where progress lines go.

    Raises:
        ScenarioError: bad priors or targets, a database of another calibration set-up,
            an existing finished database without ``force``, or a missing one to resume.
    """
    priors, targets, sim = _setup(holdout, priors_path, targets_path)
    key = fingerprint(priors, targets, sim)
    abc = pyabc.ABCSMC(
        sim,
        pyabc_prior(priors),
        TargetDistance(targets),
        population_size=population,
        transitions=StudentTProposal(),
        sampler=make_sampler(workers, scheduler),
        # A new calibration's generation 0 takes the prior sample as it is; each later
        # threshold is the median distance of the previous generation. This spares pyabc's
        # separate calibration sample from the prior, whose corners are the costliest runs.
        # A resumed one takes its first threshold from the last stored generation.
        eps=pyabc.MedianEpsilon(initial_epsilon="from_sample" if resume else math.inf),
    )
    _open_history(abc, db, key, resume, force, targets)
    progress = GenerationLog(log)
    pyabc_logger = logging.getLogger("ABC")
    previous = (pyabc_logger.level, pyabc_logger.propagate)
    pyabc_logger.setLevel(logging.INFO)
    pyabc_logger.propagate = False
    pyabc_logger.addHandler(progress)
    try:
        with warnings.catch_warnings():
            # pyabc compares the first threshold (inf) with the previous one: inf - inf.
            warnings.filterwarnings("ignore", "invalid value encountered in scalar subtract")
            abc.run(
                minimum_epsilon=min_epsilon,
                max_nr_populations=generations,
                max_walltime=None if max_minutes is None else timedelta(minutes=max_minutes),
            )
    except (AssertionError, CollapsedPopulation) as exc:
        # pyabc stops when a generation's importance weights do not sum to a number, the
        # proposal when they sit on one particle; the generations stored before are
        # complete and stay usable.
        if isinstance(exc, AssertionError) and "not normalized" not in str(exc):
            raise
        log(f"stopped: the next generation's importance weights degenerated ({exc})")
    finally:
        pyabc_logger.removeHandler(progress)
        pyabc_logger.setLevel(previous[0])
        pyabc_logger.propagate = previous[1]
    return abc.history


class GenerationLog(logging.Handler):
    """Turns pyabc's log records into one progress line per generation.

    pyabc logs ``t: T, eps: E.`` when a generation starts and ``Accepted: A / N = ...``
    when it ends; the line printed combines them with the elapsed wall time.
    """

    def __init__(self, log: Callable[[str], None]):
        super().__init__(level=logging.INFO)
        self.log = log
        self.started = time.perf_counter()
        self.generation: tuple[int, float] | None = None

    def emit(self, record: logging.LogRecord) -> None:
        """Remember a generation's epsilon; print the line when it is accepted."""
        text = record.getMessage()
        start = re.match(r"t: (-?\d+), eps: ([^ ]+)\.$", text)
        if start:
            self.generation = (int(start.group(1)), float(start.group(2)))
            return
        done = re.match(r"Accepted: (\d+) / (\d+) = [^,]+, ESS: ([^ ]+?)\.?$", text)
        if done and self.generation is not None:
            t, eps = self.generation
            accepted, samples = int(done.group(1)), int(done.group(2))
            self.log(
                f"generation {t}: epsilon {eps:.3f}, acceptance {accepted / samples:.1%} "
                f"({accepted}/{samples}), particles {accepted}, "
                f"effective sample size {float(done.group(3)):.1f}, "
                f"elapsed {time.perf_counter() - self.started:.0f} s"
            )


def _setup(
    holdout: bool, priors_path: Path, targets_path: Path
) -> tuple[dict[str, PriorSpec], list[Target], Simulator]:
    priors = load_priors(priors_path)
    targets = select_targets(load_targets(targets_path), holdout)
    return priors, targets, Simulator(targets, priors)


def setup_fingerprint(
    holdout: bool, priors_path: Path = PRIORS, targets_path: Path = DEFAULT_TARGETS
) -> str:
    """Return the fingerprint a calibration of this set-up stores in its database."""
    return fingerprint(*_setup(holdout, priors_path, targets_path))


def require_fingerprint(db: Path, key: str) -> None:
    """Raise ``ScenarioError`` unless ``db`` holds a calibration with fingerprint ``key``."""
    if _stored_fingerprint(db) != key:
        raise ScenarioError(
            db, "fingerprint", "database is from another model, priors or targets version"
        )


def _open_history(
    abc: pyabc.ABCSMC, db: Path, key: str, resume: bool, force: bool, targets: list[Target]
) -> None:
    if resume:
        if not db.exists():
            raise ScenarioError(db, "--resume", "no calibration database to resume")
        require_fingerprint(db, key)
        abc.load(_db_url(db), 1)
        return
    if db.exists():
        if not force:
            raise ScenarioError(db, "", "a calibration database exists: use --resume or --force")
        # --force replaces a calibration database, never another file given by mistake.
        _stored_fingerprint(db)
        db.unlink()
    db.parent.mkdir(parents=True, exist_ok=True)
    observed = {t.id: t.reference for t in targets}

    run_id = []

    def create(tmp: str) -> None:
        os.remove(tmp)  # pyabc takes an empty file for an existing database of no version
        run_id.append(abc.new(_db_url(Path(tmp)), observed, meta_info={"fingerprint": key}).id)

    # Created beside and renamed, so that a kill during pyabc's set-up leaves no database
    # that --resume would refuse. pyabc opens a session per call, so none holds the file,
    # but any call on the first History would reopen the temporary path.
    write_atomic(db, create)
    abc.history = pyabc.History(_db_url(db), _id=run_id[0])


def export_posterior(
    db: Path,
    parquet: Path,
    summary_yaml: Path,
    priors_path: Path = PRIORS,
    generation: int | None = None,
) -> pd.DataFrame:
    """Write one generation's weighted particles (the last by default) and a summary.

    An earlier generation is for when the last ones' importance weights have degenerated
    (a low effective sample size): the summary names the generation it holds.

    Returns:
        The posterior table (parameters in model units, and ``weight``).

    Raises:
        ScenarioError: if the database has no such generation.
    """
    priors = load_priors(priors_path)
    history = pyabc.History(_db_url(db))
    if history.max_t < 0:
        raise ScenarioError(db, "", "holds no complete generation to export")
    t = history.max_t if generation is None else generation
    if not 0 <= t <= history.max_t:
        raise ScenarioError(db, "generation", f"{t} is not stored (0 to {history.max_t})")
    sampled, weights = history.get_distribution(t=t)
    params = pd.DataFrame(
        [model_values(row, priors) for row in sampled.to_dict("records")], columns=list(priors)
    )
    posterior = params.assign(**{WEIGHT: np.asarray(weights, dtype=float)})
    posterior = posterior[sorted(c for c in posterior.columns if c != WEIGHT) + [WEIGHT]]
    parquet.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(parquet, lambda tmp: posterior.to_parquet(tmp, index=False))
    pops = history.get_all_populations()
    pops = pops[pops.t <= t]
    summary = posterior_summary(posterior)
    doc = {
        "source": f"ABC-SMC (pyabc) history {db.name}, generation {t} "
        f"(generations 0-{history.max_t} stored)",
        "generations": int(t) + 1,
        "particles": len(posterior),
        "effective_sample_size": _round(effective_sample_size(posterior)),
        "final_epsilon": float(pops.epsilon.iloc[-1]),
        "simulations": int(pops.samples.sum()),
        "wall_seconds": float(pops.wall_time.fillna(0).sum()) if "wall_time" in pops else None,
        "parameters": {
            row.parameter: {
                "median": _round(row["median"]),
                "q05": _round(row.q05),
                "q95": _round(row.q95),
            }
            for _, row in summary.iterrows()
        },
        # The country files' inputs now, which are the run's: ``calibrate`` exports only a
        # history whose stored fingerprint (``fingerprint``: the scenarios among its
        # inputs) is the current set-up's (``require_fingerprint``).
        INPUTS_KEY: current_inputs(),
    }
    text = yaml.safe_dump(doc, sort_keys=False)
    summary_yaml.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(summary_yaml, text)
    return posterior


def _round(x: float) -> float:
    return float(f"{x:.4g}") if math.isfinite(x) else x


def default_db(holdout: bool) -> Path:
    """Return the default history database of the full or held-back calibration."""
    return RUNS_DIR / ("holdout.db" if holdout else "main.db")
