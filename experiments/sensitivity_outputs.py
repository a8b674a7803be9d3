"""What ``ngo-abm sensitivity`` writes into its folder, and the manifest that describes it.

An analysis folder holds one method's tables (``sensitivity_<method>.csv``, ``..._evaluations
.csv``), figure (``.png``), set-up (``.json``) and ``manifest.json``: everything needed to
reproduce the numbers (method, sample size, replicates, seed, input files and their hashes,
the model code's hash, backend, versions). The manifest is removed before the first file is
written and written after the last, so a folder with a manifest is complete and the
manifest describes its numbers. The manifest's ``sensitivity_method`` key tells the folder
from the other commands' (``experiments.output_paths.outputs_kind``). JSON is written
strictly: a number that is not finite (a noise share with one replicate) is ``null``.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from calibration.atomic import write_text_atomic
from calibration.plotting import save_figure
from model import Scenario, ScenarioError
from model.code import model_fingerprint

from .git_state import git_commit, git_dirty
from .manifests import manifest_json
from .output_paths import check_outputs_kind
from .runs import file_sha256, package_versions, posterior_record, retract_manifest

MANIFEST = "manifest.json"
# The manifest key that marks a sensitivity analysis's folder (``outputs_kind``).
KIND_KEY = "sensitivity_method"
METHODS = ("sobol", "morris")
# An analysis's files besides its manifest: ``sensitivity_<method><suffix>``.
OUTPUT_SUFFIXES = ("_evaluations.csv", ".csv", ".png", ".json")


def strict_json(data: Any) -> str:
    """Return ``data`` as JSON that strict parsers accept: non-finite floats become null."""
    return json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def check_out_folder(out: Path, method: str) -> None:
    """Refuse a folder that holds another command's outputs or the other method's.

    One manifest describes one analysis: a Morris analysis written beside a Sobol one
    would leave the Sobol files described by nothing.

    Raises:
        ScenarioError: naming ``out`` and ``--out``.
    """
    writes = tuple(f"sensitivity_{method}{s}" for s in OUTPUT_SUFFIXES)
    check_outputs_kind(out, "--out", "sensitivity analysis", writes)
    for other in METHODS:
        if other != method and (_manifest_method(out) == other or _has_outputs(out, other)):
            message = (
                f"holds a {other.capitalize()} analysis's outputs (sensitivity_{other}.*); "
                f"write the {method.capitalize()} analysis elsewhere or remove them"
            )
            raise ScenarioError(out, "--out", message)


def _manifest_method(out: Path) -> str | None:
    try:
        manifest = manifest_json(out / MANIFEST)
    except ScenarioError:
        return None
    return manifest.get(KIND_KEY)


def _has_outputs(out: Path, method: str) -> bool:
    # Folders written before the manifest existed are told by their set-up file.
    return (out / f"sensitivity_{method}.json").is_file()


def build_manifest(
    *,
    method: str,
    samples: int,
    replicates: int,
    seed: int,
    scenario_path: str | Path,
    scenario: Scenario,
    problem: dict,
    source: str,
    posterior: str | Path | None,
    priors: str | Path,
    workers: int,
    scheduler: str | None,
) -> dict[str, Any]:
    """Return the manifest without its timing (``write_outputs`` adds ``wall_seconds``).

    ``posterior`` is the posterior file the ranges come from, or ``None`` when they are
    the priors' (``priors``).
    """
    ranges = dict(zip(problem["names"], problem["bounds"], strict=True))
    return {
        KIND_KEY: method,
        "samples": samples,
        "replicates": replicates,
        "seed": seed,
        "seeds": "replicate r uses derived_seed(seed, r) at every point (common random numbers)",
        "scenario_file": str(scenario_path),
        "scenario_file_sha256": file_sha256(scenario_path),
        "scenario_resolved_sha256": scenario.fingerprint(),
        "scenario_name": scenario.name,
        "country": scenario.country,
        "parameters": {
            n: {"range": ranges[n], "distribution": d}
            for n, d in zip(problem["names"], problem["dists"], strict=True)
        },
        "params_source": "posterior" if posterior is not None else "priors",
        "ranges": source,
        **posterior_record(None if posterior is None else Path(posterior)),
        "priors_file": None if posterior is not None else str(priors),
        "priors_sha256": None if posterior is not None else file_sha256(priors),
        # Country runs only: the code they execute, as a run folder's manifest records it.
        "model_code_sha256": model_fingerprint(regional=False),
        "backend": f"dask {scheduler}" if scheduler else f"{workers} local process(es)",
        "workers": None if scheduler else workers,
        "scheduler": scheduler,
        "packages": package_versions(),
        "git_commit": git_commit(),
        "git_dirty": git_dirty(),
    }


def write_outputs(
    out: Path,
    manifest: dict[str, Any],
    evaluations: pd.DataFrame,
    table: pd.DataFrame,
    figure,
    details: dict[str, Any],
    started: float,
) -> None:
    """Write the tables, figure and set-up of ``manifest[KIND_KEY]``, then the manifest.

    The set-up (``sensitivity_<method>.json``) is ``details`` (the problem, the number of
    points, the statistics and the replicate noise shares) with the manifest's sample
    size, replicates, seed, scenario, ranges and versions.
    """
    out.mkdir(parents=True, exist_ok=True)
    # The folder's checks, which read the old manifest, are done before this.
    retract_manifest(out)
    stem = f"sensitivity_{manifest[KIND_KEY]}"
    write_text_atomic(out / f"{stem}_evaluations.csv", evaluations.to_csv(index=False))
    write_text_atomic(out / f"{stem}.csv", table.to_csv(index=False))
    save_figure(figure, out / f"{stem}.png")
    wall = round(time.perf_counter() - started, 3)
    setup = {
        "method": manifest[KIND_KEY],
        **{k: manifest[k] for k in ("samples", "replicates", "seed")},
        "scenario": manifest["scenario_name"],
        "scenario_resolved_sha256": manifest["scenario_resolved_sha256"],
        "ranges": manifest["ranges"],
        **details,
        "wall_seconds": wall,
        "packages": manifest["packages"],
        "git_commit": manifest["git_commit"],
        "git_dirty": manifest["git_dirty"],
    }
    write_text_atomic(out / f"{stem}.json", strict_json(setup))
    created = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    outputs = [f"{stem}{s}" for s in OUTPUT_SUFFIXES]
    final = {**manifest, "outputs": outputs, "wall_seconds": wall, "created": created}
    write_text_atomic(out / MANIFEST, strict_json(final))
