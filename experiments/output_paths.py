"""Output paths, checked before any work: creatable, writable, not a file, not a system folder.

A command checks where it will write before it simulates anything, so that a mistyped
``--out`` or ``--db`` costs one line (exit 2) rather than a traceback after all the
computing. ``make_folder`` creates what is missing and says what it created, so that a
command that stops early can remove it again (``remove_empty``) and leave nothing behind.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from model import ScenarioError
from model.extends import resolve_path

from .manifests import manifest_json

# The pairs of files that tell the calibration report's folder, one pair per command that
# writes there (calibrate report, validate, chains, calibrate regional): a report of the
# user's own named report.md is not one.
REPORT_PAIRS = (
    ("report.md", "coverage.csv"),
    ("validation.md", "sbc.csv"),
    ("chains.json", "chains_states.npz"),
    ("regional.md", "regional_draws.csv"),
)
# The commands whose outputs are a user's (not the committed reports and tables), and the
# project's folders they never write into.
RUN_KINDS = frozenset({"run", "experiment", "regional experiment", "sensitivity analysis"})
PROJECT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = (
    "calibration",
    "cli",
    "dashboard",
    "docs",
    "experiments",
    "model",
    "scenarios",
    "tests",
)
# Kernel and device file systems, and the system's programs, libraries and settings:
# never a place for outputs (nor is the file system's root itself).
SYSTEM_ROOTS = tuple(
    Path(p)
    for p in (
        "/proc",
        "/sys",
        "/dev",
        "/etc",
        "/boot",
        "/bin",
        "/sbin",
        "/lib",
        "/lib32",
        "/lib64",
        "/usr/bin",
        "/usr/sbin",
        "/usr/lib",
        "/usr/lib64",
        "/usr/include",
        "/usr/share",
    )
)


def check_folder(path: str | Path, flag: str) -> None:
    """Raise ``ScenarioError`` unless ``path`` is, or can be made, a writable folder.

    Args:
        path: The folder.
        flag: The option that named it (``--out``), for the message.
    """
    path = Path(path)
    resolved = resolve_path(path, flag)
    _refuse_system_folder(path, resolved, flag)
    existing = _nearest_existing(path, resolved, flag)
    if not existing.is_dir():
        what = "is a file" if existing == resolved else f"is under the file {existing}"
        raise ScenarioError(path, flag, f"{what}, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ScenarioError(path, flag, f"folder {existing} is not writable")


def check_file(path: str | Path, flag: str) -> None:
    """Raise ``ScenarioError`` unless ``path`` can be written as a file (atomically).

    The file is replaced by a rename, so what matters is its folder: creatable and
    writable. The path itself must not be a folder.
    """
    path = Path(path)
    resolved = resolve_path(path, flag)
    try:
        is_folder = resolved.is_dir()
    except OSError as exc:
        raise ScenarioError(path, flag, f"cannot be checked: {exc.strerror}") from None
    if is_folder:
        raise ScenarioError(path, flag, "is a folder, not a file")
    if resolved.exists() and not resolved.is_file():
        # Renamed over, a pipe or a device some other program reads would be gone.
        raise ScenarioError(path, flag, "not a regular file (a device or a pipe?)")
    _refuse_system_folder(path, resolved, flag)
    check_folder(path.parent, flag)


def make_folder(path: str | Path, flag: str) -> list[Path]:
    """Check ``path`` (``check_folder``) and create it.

    Returns:
        The folders created, outermost first.
    """
    path = Path(path)
    check_folder(path, flag)
    missing = [p for p in (path, *path.parents) if not p.exists()][::-1]
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScenarioError(path, flag, f"cannot create the folder ({exc.strerror})") from None
    return missing


# The files each kind of command removes before its runs (its manifest, an experiment's
# summary): refused before any run if a folder has their name.
RETRACTED_FIRST = {
    "run": ("manifest.json",),
    "sensitivity analysis": ("manifest.json",),
    "experiment": ("manifest.json", "summary.csv"),
    "regional experiment": ("manifest.json", "summary.csv"),
}


def outputs_kind(folder: Path) -> str | None:
    """Return which command's outputs ``folder`` holds, or ``None`` if none of this tool's.

    Told by the manifest each command writes last, from its own keys: a sensitivity
    analysis's names its ``sensitivity_method`` (and a ``scenario_file`` too, so it is
    looked for first), a run's (country or regional, which clear each other's files) its
    ``scenario_file``, an experiment's its ``experiment_file`` and the chunks it ran
    (``runs_run``), a regional experiment's its ``experiment_file`` alone. An experiment
    stopped before its manifest is told by its chunks (``runs/<scenario>/draws-*.parquet``),
    which a resumed run reuses. The commands that write no manifest are told by their
    files: a reference table by its chunks (``rows_0000000.parquet``), the calibration
    report's folder (which ``calibrate report``, ``validate``, ``chains`` and ``calibrate
    regional`` share) by a report with its data (``REPORT_PAIRS``).
    """
    try:
        manifest = manifest_json(folder / "manifest.json")
    except ScenarioError:
        manifest = None
    if manifest is not None:
        if "sensitivity_method" in manifest:
            return "sensitivity analysis"
        if "experiment_file" in manifest:
            return "experiment" if "runs_run" in manifest else "regional experiment"
        if "scenario_file" in manifest:
            return "run"
    if any(folder.glob("runs/*/draws-*.parquet")):
        return "experiment"
    if any(re.fullmatch(r"rows_[0-9]{7}\.parquet", p.name) for p in folder.glob("rows_*")):
        return "reference table"
    if any(all((folder / name).exists() for name in pair) for pair in REPORT_PAIRS):
        return "calibration report"
    return None


def check_outputs_kind(folder: Path, flag: str, kind: str, writes: tuple[str, ...] = ()) -> None:
    """Raise ``ScenarioError`` if ``folder`` holds the outputs of another kind of command.

    Writing one command's outputs over another's would leave a folder whose manifest
    describes one and whose other files the other (``compare`` would then call the
    manifest malformed). A run's or an experiment's outputs never go among the project's
    own files (``refuse_source_folder``). ``writes`` names the files the command will
    write there: one that is a folder is refused before any work, rather than after the
    runs with the files written before it left behind.
    """
    if kind in RUN_KINDS:
        refuse_source_folder(folder, flag)
    refuse_folders_named(folder, flag, (*RETRACTED_FIRST.get(kind, ()), *writes))
    found = outputs_kind(folder)
    if found is not None and found != kind:
        article = "an" if found[0] in "aeiou" else "a"
        message = f"holds {article} {found}'s outputs; write elsewhere or remove them"
        raise ScenarioError(folder, flag, message)


def refuse_folders_named(folder: Path, flag: str, names: tuple[str, ...]) -> None:
    """Raise ``ScenarioError`` if one of ``names`` in ``folder`` is a folder.

    A file of that name is replaced by a rename (``calibration.atomic``), whatever it is; a
    folder is not, and its write would fail after all the computing.
    """
    for name in dict.fromkeys(names):
        if (folder / name).is_dir():
            found = f"holds a folder named {name}, where the command writes its {name}: remove it"
            raise ScenarioError(folder, flag, found)


def refuse_files_named(folder: Path, flag: str, names: tuple[str, ...]) -> None:
    """Raise ``ScenarioError`` if one of ``names`` in ``folder`` is there but no folder.

    ``names`` are the folders the command keeps its runs in (``runs/<scenario>``): it
    would make them only when it stores its first runs, and fail there after the computing.
    """
    for name in dict.fromkeys(names):
        path = folder / name
        if path.exists() and not path.is_dir():
            found = f"holds a file named {name}, where the command keeps its runs in a folder"
            found += ": remove it"
            raise ScenarioError(folder, flag, found)


def refuse_folders_globbed(folder: Path, flag: str, patterns: tuple[str, ...]) -> None:
    """Raise ``ScenarioError`` if a folder matches one of the glob ``patterns`` in ``folder``.

    The patterns are the files the command writes there (an experiment's stored runs,
    ``runs/<scenario>/draws-*.parquet``), whose names depend on its size: a folder where
    one goes would fail its write after the earlier outputs were retired.
    """
    for pattern in patterns:
        for path in sorted(folder.glob(pattern)):
            if path.is_dir():
                name = path.relative_to(folder)
                found = f"holds a folder named {name}, where the command writes its runs: remove it"
                raise ScenarioError(folder, flag, found)


def refuse_source_folder(folder: Path, flag: str) -> None:
    """Raise ``ScenarioError`` if ``folder`` is in one of the project's folders or a root.

    ``compare.csv`` beside ``calibration/compare.py`` invites a ``rm calibration/compare.*``.
    """
    resolved = resolve_path(folder, flag)
    inside = [d for d in SOURCE_DIRS if resolved.is_relative_to(PROJECT / d)]
    if inside:
        found = f"is in the project's {inside[0]}/ folder: write outputs elsewhere (out/, say)"
        raise ScenarioError(folder, flag, found)
    if resolved == PROJECT or (resolved / "pyproject.toml").exists():
        found = "is a project's root folder: write outputs in a folder of their own (out/, say)"
        raise ScenarioError(folder, flag, found)


def remove_empty(folders: list[Path]) -> None:
    """Remove the folders ``make_folder`` created that are still empty, innermost first."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


def _refuse_system_folder(path: Path, resolved: Path, flag: str) -> None:
    if resolved == Path(resolved.anchor):
        raise ScenarioError(path, flag, "is the file system's root: write outputs in a folder")
    for root in SYSTEM_ROOTS:
        if resolved.is_relative_to(root):
            raise ScenarioError(path, flag, f"is under {root}, a system folder")


def _nearest_existing(path: Path, resolved: Path, flag: str) -> Path:
    """Return the nearest of ``resolved`` and its parents that exists."""
    try:
        return next(p for p in (resolved, *resolved.parents) if p.exists())
    except OSError as exc:
        raise ScenarioError(path, flag, f"cannot be checked: {exc.strerror}") from None
