"""``ngo-abm compare``: run folders (or scenarios, run first) against the reported figures.

Every source is checked before any scenario runs or any file is written: a folder another
command wrote, a scenario or folder whose years leave out a figure, a run table a target
cannot read, a scenario whose calibrated values the parameters would replace. The table
and its verdicts are ``calibration.compare``'s; the official figures never fitted are
compared beside them (``experiments.runs.compare_unfitted``).
"""

from __future__ import annotations

import argparse
from contextlib import ExitStack
from pathlib import Path

from calibration.targets import DEFAULT_TARGETS, load_target_file, load_unfitted
from experiments.locks import output_folder
from experiments.run_params import PARAM_MODES, median_intervals_note
from model import ScenarioError, load_scenario
from model.extends import path_exists, resolve_path
from model.regional_files import is_regional_file

from .arguments import file_path, replicates, seeds, workers
from .main import UsageError, cmd_run, print_notes


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare run folders (or freshly run scenarios) with the article's figures.

    A regional scenario or run folder compares each country's rows with its figures.
    Every source is checked before any scenario runs or any file is written.
    """
    plan = _compare_plan(args)
    _check_run_options(args, plan)
    _refuse_other_outputs(plan)
    with ExitStack() as held:
        # Every folder claimed before its contents are checked and before the first run:
        # one held by another command stops the comparison before anything is written,
        # and no other command changes a folder between its check and its comparison.
        for source, run_dir, scenario in plan:
            writes = _writes(source, scenario)
            flag = _flag(scenario, args.out)
            held.enter_context(output_folder(run_dir, flag, kind="run", writes=writes))
        _check_comparable(plan, args)
        for source, run_dir, scenario in plan:
            _compare_one(args, source, run_dir, scenario)
    return 0


# The options that say how a scenario source runs, and their values when not given. The
# parser's defaults are None, so that one typed with only run folders to compare is seen.
RUN_OPTIONS = {"replicates": 20, "params": "auto", "seed": 1, "workers": 1}


def _check_run_options(args: argparse.Namespace, plan: list[tuple[Path, Path, bool]]) -> None:
    """Refuse a run option when no source is a scenario; else give each its default.

    A run folder keeps the runs it holds, with the parameters they were run with: an option
    that would change them is refused, not ignored.
    """
    if not any(scenario for _, _, scenario in plan):
        for name in RUN_OPTIONS:
            if getattr(args, name) is not None:
                raise UsageError(
                    f"--{name}: says how a scenario runs; every source is a run folder, "
                    "compared as it was run (run the scenario again to change it)"
                )
    for name, default in RUN_OPTIONS.items():
        if getattr(args, name) is None:
            setattr(args, name, default)


def _refuse_other_outputs(plan: list[tuple[Path, Path, bool]]) -> None:
    """Refuse a source folder that another command wrote: compare reads run folders."""
    from experiments.output_paths import outputs_kind

    for _, run_dir, scenario in plan:
        kind = None if scenario else outputs_kind(run_dir)
        if kind not in (None, "run"):
            article = "an" if kind[0] in "aeiou" else "a"
            found = f"holds {article} {kind}'s outputs: compare reads the folders of ngo-abm run"
            raise ScenarioError(run_dir, "source", found)


def _compare_one(args: argparse.Namespace, source: Path, run_dir: Path, scenario: bool) -> None:
    """Run a scenario source into its folder if need be, then compare the folder and print."""
    import pandas as pd

    from calibration.compare import format_table
    from experiments.runs import (
        COMPARE_RECORD,
        UNFITTED_CSV,
        UNFITTED_FILE,
        compare_and_write,
        runs_described,
    )

    if scenario:
        run = dict(params=args.params, seed=args.seed, replicates=args.replicates)
        cmd_run(argparse.Namespace(scenario=source, workers=args.workers, out=run_dir, **run))
    runs, manifest = _folder_runs(run_dir)
    table = compare_and_write(run_dir, runs, manifest, args.targets)
    # Each table under its folder: with several sources, the country alone tells none apart;
    # and with the parameters its runs used, which decide what its intervals mean.
    print(f"{run_dir}: {runs_described(manifest)}")
    print_notes(None if scenario else median_intervals_note(manifest))  # a run said it already
    print(format_table(table))
    wrote = [run_dir / "compare.csv", run_dir / "compare.png", run_dir / COMPARE_RECORD]
    unfitted = run_dir / UNFITTED_CSV
    if unfitted.exists():
        print(f"\nOfficial figures the calibration never saw ({UNFITTED_FILE}):")
        counts = pd.read_csv(unfitted)
        # Countries in the order of the table above, not of the counts' file.
        order = {c: i for i, c in enumerate(dict.fromkeys(table["country"]))}
        counts = counts.sort_values("country", key=lambda c: c.map(order), kind="stable")
        print(format_table(counts, noun="figures"))
        wrote.append(unfitted)
    print(f"wrote {', '.join(map(str, wrote))}")


def _flag(scenario: bool, out: Path | None) -> str:
    """Return what named a run folder, for a message: the option, or what it defaults to."""
    if not scenario:
        return "source"
    return "--out" if out is not None else "the run folder out/<scenario>"


def _compare_plan(args: argparse.Namespace) -> list[tuple[Path, Path, bool]]:
    """Return each source with its run folder and whether it is a scenario to run first.

    Raises:
        UsageError: a source that is neither a folder nor a scenario, ``--out`` with several
            scenarios or none, or two sources sharing a run folder.
        ScenarioError: a bad targets file, or a folder name that cannot be resolved.
    """
    try:
        load_target_file(args.targets)
    except ScenarioError as exc:
        raise ScenarioError(exc.file, exc.field or "--targets", exc.message) from None
    # Read after the runs for their table of official figures: checked before them.
    load_unfitted()
    plan = []
    for source in args.sources:
        if path_exists(source, source, "source", folder=True):
            plan.append((source, source, False))
        elif source.suffix in (".yaml", ".yml") or not path_exists(source, source, "source"):
            plan.append((source, args.out or Path("out") / source.stem, True))
        else:
            raise UsageError(f"{source}: neither a run folder nor a scenario file")
    scenarios = sum(scenario for _, _, scenario in plan)
    if args.out is not None and scenarios > 1:
        raise UsageError("--out: one run folder for several scenarios; give each its own run")
    if args.out is not None and not scenarios:
        # A run folder's comparison is written beside its run, never elsewhere.
        raise UsageError("--out: names the run folder of a scenario to run; no source is one")
    claimed: dict[Path, Path] = {}
    for source, run_dir, scenario in plan:
        folder = resolve_path(run_dir, _flag(scenario, args.out))
        if folder in claimed:
            both = f"{claimed[folder]} and {source}"
            raise UsageError(f"{both} would compare in one run folder, {run_dir}: one at a time")
        claimed[folder] = source
    return plan


def _writes(source: Path, scenario: bool) -> tuple[str, ...]:
    """Return the files a source's comparison writes in its run folder (a scenario's run too)."""
    from experiments.runs import COMPARE_FILES, COUNTRY_RUN_FILES, REGIONAL_RUN_FILES

    if not scenario:
        return COMPARE_FILES
    return (
        *COMPARE_FILES,
        *(REGIONAL_RUN_FILES if is_regional_file(source) else COUNTRY_RUN_FILES),
    )


def _check_comparable(plan: list[tuple[Path, Path, bool]], args: argparse.Namespace) -> None:
    """Refuse a bad scenario or run folder, or one whose years leave out a figure.

    A scenario is also refused, as ``ngo-abm run`` would, when it changes a calibrated value
    that the parameters replace, or when the posterior they come from holds a value out of
    its bounds: here, before the first source runs.

    Raises:
        ScenarioError: naming the scenario (or the country's file), the posterior or the
            folder's file.
    """
    from calibration.run_checks import check_run_table
    from experiments.replaced_values import check_source_values_kept
    from experiments.runs import check_comparable, run_spans

    targets = args.targets
    for source, run_dir, scenario in plan:
        if scenario:
            spans, files = _scenario_years(source)
            check_comparable(spans, targets, files)
            check_source_values_kept(source, args.params)
            _check_drawn(source, args)
        else:
            runs = _folder_runs(run_dir)[0]
            try:
                _, chosen = check_comparable(run_spans(runs), targets)
            except ScenarioError as exc:
                # A figure outside the run may be the run's doing (a short run) or the
                # targets file's: the message names both.
                found = f"{exc.message} of {run_dir / 'timeseries.csv'}"
                raise ScenarioError(exc.file, exc.field, found) from None
            # Every folder's cells checked before the first folder's comparison is written.
            for country, frame in runs.items():
                mine = [t for t in chosen if t.country == country]
                check_run_table(frame, mine, run_dir / "timeseries.csv")


def _check_drawn(source: Path, args: argparse.Namespace) -> None:
    """Refuse a scenario's parameters read from a posterior with a value out of its bounds."""
    from calibration.posterior import check_drawn
    from experiments.regional_runs import regional_params_file, regional_replicate_params
    from experiments.run_params import params_file, replicate_params
    from model.regional_files import load_region

    if is_regional_file(source):
        drawn = regional_replicate_params(args.params, args.replicates, args.seed)[0]
        check_drawn(load_region(source), drawn, regional_params_file(args.params))
    else:
        drawn = replicate_params(args.params, args.replicates, args.seed)[0]
        check_drawn(load_scenario(source), drawn, params_file(args.params))


def _scenario_years(path: Path) -> tuple[dict[str, tuple[int, int]], dict[str, Path]]:
    """Return a (regional) scenario's years by country and the file that sets each."""
    from model.regional_files import load_region

    if is_regional_file(path):
        region = load_region(path)
        # A country's years are set in its own file, which the regional file names.
        files = {c: region.path.parent / f for c, f in region.spec.countries.items()}
        countries = region.countries
    else:
        scenario = load_scenario(path)
        files, countries = {scenario.country: path}, {scenario.country: scenario}
    return {c: (s.start_year, s.end_year) for c, s in countries.items()}, files


def _folder_runs(run_dir: Path) -> tuple[dict, dict]:
    """Return a run folder's tables by country and its manifest (country or regional)."""
    from experiments.regional_runs import is_regional_run, read_regional_runs
    from experiments.run_tables import read_run

    if is_regional_run(run_dir):
        return read_regional_runs(run_dir)
    frame, manifest = read_run(run_dir)
    return {manifest["country"]: frame}, manifest


def register(sub) -> None:
    """Add ``ngo-abm compare``."""
    cmp_ = sub.add_parser(
        "compare", help="compare run folders (or scenarios, run first) with reported figures"
    )
    cmp_.add_argument(
        "sources", type=file_path, nargs="+", help="run folder(s) or scenario YAML(s)"
    )
    cmp_.add_argument(
        "--targets", type=file_path, default=DEFAULT_TARGETS, help="figures to compare with"
    )
    cmp_.add_argument(
        "--replicates", type=replicates, default=None, help="when running a scenario (20)"
    )
    cmp_.add_argument(
        "--params", choices=PARAM_MODES, default=None, help="when running a scenario (auto)"
    )
    cmp_.add_argument("--seed", type=seeds, default=None, help="when running a scenario (1)")
    cmp_.add_argument("--workers", type=workers, default=None, help="when running a scenario (1)")
    cmp_.add_argument("--out", type=file_path, default=None, help="run folder for a scenario")
    cmp_.set_defaults(func=cmd_compare)
