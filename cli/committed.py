"""Where the commands that rebuild committed calibration files write, and what they refuse.

``calibrate report``, ``calibrate regional`` and ``chains`` write by default where ``make
recalibrate`` writes the committed files (``calibration/report/``, and the regional
posterior beside ``calibration/posterior.parquet``). A quick check typed there (``calibrate
report --draws 20``) replaced the committed report with a 20-draw one and said nothing, so
a run there smaller than the one the committed files were made with is refused in one line
before anything runs; ``--out DIR`` takes a trial run anywhere else outside the project's
own folders.
"""

from __future__ import annotations

from pathlib import Path

from experiments.output_paths import refuse_source_folder

from .main import UsageError

PROJECT = Path(__file__).resolve().parent.parent
# experiments.calibration_report.REPORT_DIR and calibration.regional.REGIONAL_POSTERIOR,
# written out so that a command line is checked before pandas and the model are imported;
# a test holds them equal.
REPORT_FOLDER = PROJECT / "calibration" / "report"
REGIONAL_POSTERIOR = PROJECT / "calibration" / "regional_posterior.parquet"
# The size of the committed regional layer (the Makefile's `calibrate regional --draws
# 2400`, recorded in calibration/regional_posterior.yaml); the command's default is 200.
REGIONAL_DRAWS = 2400


def writes_committed(out: Path | None) -> bool:
    """Return whether ``--out`` (``None`` if not given) is the committed report folder.

    Any other folder is a trial's, refused inside the project's own folders
    (``experiments.output_paths.refuse_source_folder``): a trial's regional posterior
    written into ``calibration/`` would be the committed one.
    """
    if out is None or out.resolve() == REPORT_FOLDER:
        return True
    refuse_source_folder(out, "--out")
    return False


def refuse_smaller(command: str, what: str, sizes: dict[str, tuple[int, int]], typed=None) -> None:
    """Raise ``UsageError`` if a size is below the one the committed files were made with.

    Args:
        command: The command as typed before its options (``calibrate report``).
        what: What the command would replace (``the committed report``).
        sizes: ``{option: (given, committed)}``, options as typed (``--draws``).
        typed: The options given on the command line; the others are shown as defaults.
            ``None``: every option counts as typed.
    """
    smaller = [name for name, (given, made) in sizes.items() if given < made]
    if not smaller:
        return

    def shown(name: str) -> str:
        default = typed is not None and name not in typed
        return f"{name} {sizes[name][0]}" + (" (the default)" if default else "")

    given = " ".join(shown(name) for name in smaller)
    made = " ".join(f"{name} {sizes[name][1]}" for name in smaller)
    raise UsageError(
        f"{command} {given} would replace {what}, made with {made}; give --out DIR for a trial run"
    )
