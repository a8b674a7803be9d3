"""The experiment file: its schema, and the scenarios it resolves to.

An experiment file (``experiments/*.yaml``, documented in ``docs/experiments.md``) names a
baseline scenario and counterfactuals, the outputs and key years to report, the end year
(for projections), and how many posterior draws and replicates to run from which seed. A
counterfactual is a scenario file (those shipped are under ``scenarios/counterfactuals/``)
that ``extends:`` the baseline and overrides a few policy or donor inputs, or the baseline
itself with levers or switches only; it may add the policy levers of
``model.levers`` on top (applied after the calibrated parameters, as in the dashboard) or
switch mechanisms of ``model.mechanisms`` off (after the calibrated parameters too).
``load_experiment`` reads a file; ``build_experiment`` resolves an already validated spec,
which is how the dashboard builds its counterfactual view. Source of the scenarios:
Jaysanov (2023), CAJOTAS 4(6), and the notes in ``scenarios/*.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from calibration.posterior import DEFAULT_POSTERIOR
from model import OUTPUT_COLUMNS, Scenario, ScenarioError
from model.config_files import (
    KeyYears,
    Name,
    Question,
    RunYear,
    Year,
    check_own_values,
    first_repeated,
    path_argument,
    plain_python,
    refuse_other_kind,
)
from model.input_errors import error_message, field_path, leading_error, named_item
from model.limits import MAX_DRAWS, MAX_NAME, MAX_REPLICATES, MAX_RUNS, MAX_SEED
from model.mechanisms import MECHANISMS, switch_off_params
from model.scenario_files import load_named_scenario
from model.yaml_files import read_yaml_mapping

from .changes import (
    check_changes_in_run,
    check_own_end_year,
    lever_changes,
    switch_changes,
)
from .replaced_values import calibrated_values, counterfactual_changes
from .scenario_refs import check_pairable

BASELINE = "baseline"
RUNS_OVER = "runs (scenarios x draws x replicates); at most"
OUTPUT_NAMES: tuple[str, ...] = tuple(c for c in OUTPUT_COLUMNS if c != "year")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Levers(_Strict):
    """Policy levers of ``model.levers.apply_levers`` (its docstring is the reference).

    Only the types are checked here; the ranges are checked by ``apply_levers`` itself.
    """

    state_grant_scale: float = 1.0
    state_funding_start: Year | None = None
    donor_budget_scale: float = 1.0
    foreign_cut_year: Year | None = None
    foreign_cut_depth: float = 0.0
    registration_burden: float | None = None
    state_reaction_scale: float = 1.0
    donor_cut_year: Year | None = None
    donor_cut_share: float = 0.0

    @model_validator(mode="after")
    def _cut_has_a_depth(self) -> Levers:
        # A year alone cuts nothing (the share defaults to 0): said, not run as no change.
        for year, share in (
            ("foreign_cut_year", "foreign_cut_depth"),
            ("donor_cut_year", "donor_cut_share"),
        ):
            if getattr(self, year) is not None and getattr(self, share) == 0:
                raise ValueError(f"{year} needs a {share} above 0 (0 cuts nothing)")
        return self

    def active(self) -> dict[str, Any]:
        """Return the levers that differ from their defaults (which change nothing)."""
        defaults = Levers()
        return {k: v for k, v in self.model_dump().items() if v != getattr(defaults, k)}


def _checked_mechanisms(names: list[str]) -> list[str]:
    """Refuse unknown mechanisms (``model.mechanisms``) and one named twice."""
    switch_off_params(names)
    if len(set(names)) != len(names):
        raise ValueError("a mechanism is listed twice")
    return names


class CounterfactualSpec(_Strict):
    """One counterfactual: a scenario file, optional levers and switches, and its question.

    ``switch_off`` names mechanisms of ``model.mechanisms`` to switch off after the
    calibrated parameters (what a mechanism does is the baseline less this run).
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=MAX_NAME)
    scenario: str
    question: Question
    levers: Levers = Levers()
    switch_off: list[str] = []

    @field_validator("switch_off")
    @classmethod
    def _known_mechanisms(cls, names: list[str]) -> list[str]:
        return _checked_mechanisms(names)


class ExperimentSpec(_Strict):
    """An experiment file as written (paths relative to the file)."""

    name: Name
    description: str = ""
    baseline: str
    counterfactuals: list[CounterfactualSpec] = Field(min_length=1)
    outputs: list[str] = Field(min_length=1)
    key_years: KeyYears
    end_year: RunYear | None = None
    draws: int = Field(ge=1, le=MAX_DRAWS)
    replicates: int = Field(ge=1, le=MAX_REPLICATES)
    seed: int = Field(ge=0, le=MAX_SEED)
    params: Literal["posterior", "scenario"] = "posterior"
    chunk_draws: int = Field(default=10, ge=1, le=MAX_DRAWS)
    notes: str = ""

    @model_validator(mode="before")
    @classmethod
    def _mechanisms_as_counterfactuals(cls, data: Any) -> Any:
        """Turn ``mechanisms:`` ('all' or names) into one counterfactual per mechanism.

        Each is the baseline scenario with that mechanism switched off, named
        ``no-<mechanism>``; the validated spec holds them as counterfactuals.
        """
        if not isinstance(data, dict) or "mechanisms" not in data:
            return data
        data = dict(data)
        names = data.pop("mechanisms")
        names = list(MECHANISMS) if names == "all" else names
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ValueError("mechanisms: 'all' or a list of mechanism names")
        if not names:
            # Beside counterfactuals of its own, an empty list added none, without a word.
            raise ValueError("mechanisms: the list is empty (name mechanisms, or 'all')")
        try:
            _checked_mechanisms(names)
        except ValueError as exc:
            raise ValueError(f"mechanisms: {exc}") from None
        listed = data.get("counterfactuals", [])
        if not isinstance(listed, list):
            return data
        added = [
            {
                "name": "no-" + name.replace("_", "-"),
                "scenario": data.get("baseline"),
                "question": f"What does this mechanism do: {MECHANISMS[name].does}?",
                "switch_off": [name],
            }
            for name in names
        ]
        return {**data, "counterfactuals": [*listed, *added]}

    @model_validator(mode="after")
    def _bounded_runs(self) -> ExperimentSpec:
        runs = (len(self.counterfactuals) + 1) * self.draws * self.replicates
        if runs > MAX_RUNS:
            raise ValueError(f"{runs:,} {RUNS_OVER} {MAX_RUNS:,}")
        return self

    @field_validator("counterfactuals")
    @classmethod
    def _unique_names(cls, items: list[CounterfactualSpec]) -> list[CounterfactualSpec]:
        names = [c.name for c in items]
        if BASELINE in names:
            raise ValueError(f"{BASELINE!r} is reserved for the baseline")
        twice = first_repeated(names)
        if twice is not None:
            raise ValueError(f"counterfactual names must be unique: {twice!r} is given twice")
        return items

    @field_validator("outputs")
    @classmethod
    def _known_outputs(cls, outputs: list[str]) -> list[str]:
        for name in outputs:
            if name not in OUTPUT_NAMES:
                raise ValueError(f"unknown output {name!r}; outputs: {', '.join(OUTPUT_NAMES)}")
        if len(set(outputs)) != len(outputs):
            raise ValueError("an output is listed twice")
        return outputs


@dataclass(frozen=True)
class Experiment:
    """A loaded, validated experiment: resolved scenarios and what each counterfactual changes."""

    path: Path
    spec: ExperimentSpec
    scenarios: dict[str, Scenario]
    changes: dict[str, list[str]]
    filed_end_year: int

    @property
    def baseline(self) -> Scenario:
        """The baseline scenario (end year applied)."""
        return self.scenarios[BASELINE]

    @property
    def projection_start(self) -> int | None:
        """The first year past the baseline file's own end year, if the runs reach it."""
        return self.filed_end_year + 1 if self.baseline.end_year > self.filed_end_year else None

    @property
    def counterfactuals(self) -> list[str]:
        """Names of the counterfactuals, in file order."""
        return [name for name in self.scenarios if name != BASELINE]

    @property
    def countries(self) -> list[str]:
        """The countries its scenarios run, sorted (a posterior's parameters apply by them)."""
        return sorted({s.country for s in self.scenarios.values()})

    @property
    def runs(self) -> int:
        """Number of model runs of the whole experiment."""
        return len(self.scenarios) * self.spec.draws * self.spec.replicates

    def question(self, name: str) -> str:
        """Return the question a counterfactual answers."""
        return self.counterfactual(name).question

    def levers(self, name: str) -> dict[str, Any]:
        """Return the levers applied to a scenario after its parameters (none: ``{}``)."""
        return {} if name == BASELINE else self.counterfactual(name).levers.active()

    def switched_off(self, name: str) -> dict[str, float]:
        """Return the parameters that switch a scenario's mechanisms off (none: ``{}``)."""
        return {} if name == BASELINE else switch_off_params(self.counterfactual(name).switch_off)

    def counterfactual(self, name: str) -> CounterfactualSpec:
        """Return a counterfactual as its file gives it."""
        return next(c for c in self.spec.counterfactuals if c.name == name)


def load_experiment(
    path: str | Path,
    draws: int | None = None,
    replicates: int | None = None,
    params: str | None = None,
    posterior: str | Path = DEFAULT_POSTERIOR,
) -> Experiment:
    """Load and validate an experiment file and its scenarios.

    Args:
        path: The experiment YAML.
        draws: Overrides the file's number of draws.
        replicates: Overrides the file's number of replicates.
        params: Overrides the file's ``params`` (``posterior`` or ``scenario``).
        posterior: The posterior whose draws the runs take (``params: posterior``).

    Raises:
        ScenarioError: one line naming the file (experiment or scenario) and the field.
    """
    path = Path(path)
    return build_experiment(path, _read_spec(path, draws, replicates, params), posterior)


def build_experiment(
    path: Path, spec: ExperimentSpec, posterior: str | Path = DEFAULT_POSTERIOR
) -> Experiment:
    """Resolve a validated experiment's scenarios and what each counterfactual changes.

    Args:
        path: The experiment file (or a name for one built in memory): scenario paths are
            relative to its folder, and errors name it.
        spec: The validated experiment.
        posterior: The posterior whose draws the runs take: a counterfactual may not
            change a parameter they set.

    Raises:
        ScenarioError: one line naming the file (experiment or scenario) and the field.
    """
    folder = path.parent
    as_filed = load_named_scenario(path, "baseline", folder / spec.baseline)
    baseline = _with_end_year(path, as_filed, spec.end_year)
    scenarios = {BASELINE: baseline}
    changes = {}
    # What the posterior's draws replace in every run; nothing when the files' values run.
    calibrated = calibrated_values(posterior, baseline) if spec.params == "posterior" else {}
    for item in spec.counterfactuals:
        item_field = named_item("counterfactuals", item.name)
        where = f"{item_field}.scenario"
        file = folder / item.scenario
        loaded = load_named_scenario(path, where, file)  # its own errors first, then its end year
        check_own_end_year(path, where, file, as_filed.end_year, baseline)
        scenario = _with_end_year(path, loaded, baseline.end_year)
        check_pairable(path, where, baseline, scenario)
        policy = counterfactual_changes(path, where, baseline, scenario, calibrated)
        where_levers = named_item("counterfactuals", item.name) + ".levers"
        others = lever_changes(path, where_levers, item.levers.active(), scenario)
        others += switch_changes(item.switch_off)
        if not policy + others:
            raise ScenarioError(path, where, "changes nothing in the baseline")
        # Levers or switches do not make a scenario change that falls after the run count.
        check_changes_in_run(path, where, baseline, scenario, policy)
        changes[item.name] = policy + others
        scenarios[item.name] = scenario
    _check_years(path, spec, baseline)
    return Experiment(path, spec, scenarios, changes, as_filed.end_year)


def experiment_from_mapping(path: str | Path, data: dict[str, Any]) -> Experiment:
    """Validate an experiment given as a mapping (as the file would hold) and resolve it.

    Args:
        path: Where errors point (the page or notebook building it); relative scenario
            paths are relative to its folder.
        data: The experiment's fields.

    Raises:
        ScenarioError: one line naming ``path`` (or a scenario file) and the field.
    """
    path = path_argument(path)
    return build_experiment(path, _validated(path, plain_python(data)))


def _read_spec(
    path: Path, draws: int | None, replicates: int | None, params: str | None
) -> ExperimentSpec:
    data = read_yaml_mapping(path)
    overrides = {"draws": draws, "replicates": replicates, "params": params}
    given = {k: plain_python(v) for k, v in overrides.items() if v is not None}
    refuse_other_kind(path, data, ("experiment",), "an experiment")
    check_own_values(ExperimentSpec, path, data, given)
    try:
        return _validated(path, {**data, **given})
    except ScenarioError as exc:
        factors = {k: v for k, v in given.items() if k in ("draws", "replicates")}
        raise run_count_error(path, exc, factors, RUNS_OVER) from None


def run_count_error(
    path: Path, exc: ScenarioError, factors: dict[str, Any], marker: str
) -> ScenarioError:
    """Return ``exc``, naming the command line's ``factors`` if it is a run count over the bound.

    Such a count (a message holding ``marker``) is the file's numbers times the command line's.
    """
    if not factors or marker not in exc.message:
        return exc
    options = ", ".join(f"--{name} {value}" for name, value in factors.items())
    return ScenarioError(path, exc.field, f"{exc.message} (with {options})")


def _validated(path: Path, data: dict[str, Any]) -> ExperimentSpec:
    try:
        return ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        err = leading_error(exc)
        raise ScenarioError(path, field_path(err["loc"], data), _message(err)) from None


def _message(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden" and "levers" in err["loc"][:-1]:
        # A mistyped lever: say which there are, as for a mechanism.
        return f"unknown lever (the levers: {', '.join(Levers.model_fields)})"
    return error_message(err)


def _with_end_year(path: Path, scenario: Scenario, end_year: int | None) -> Scenario:
    if end_year is None or end_year == scenario.end_year:
        return scenario
    try:
        return Scenario.model_validate({**scenario.model_dump(), "end_year": end_year})
    except ValidationError as exc:
        raise ScenarioError(path, "end_year", _message(leading_error(exc))) from None


def _check_years(path: Path, spec: ExperimentSpec, baseline: Scenario) -> None:
    for year in spec.key_years:
        if not baseline.start_year <= year <= baseline.end_year:
            raise ScenarioError(
                path,
                "key_years",
                f"{year} is outside the runs ({baseline.start_year}-{baseline.end_year})",
            )
