"""The article's reported figures as machine-readable targets (``calibration/targets.yaml``).

Source of every figure: Jaysanov (2023), CAJOTAS 4(6); each entry quotes its sentence and
section, says how it is read and why its tolerance is what it is (see ``docs/targets.md``).
A target names one output column (optionally divided by another), a year or a range of
years with an aggregate, or a growth multiple against a base year.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from model import COUNTRIES, OUTPUT_COLUMNS, ScenarioError
from model.config_files import Year, first_error, read_yaml_mapping

DEFAULT_TARGETS = Path(__file__).with_name("targets.yaml")
# Official counts compared with the model but never fitted (``load_unfitted``).
DEFAULT_UNFITTED = Path(__file__).with_name("external_unfitted.yaml")
Kind = Literal["point", "at_least", "at_most", "range"]


class Target(BaseModel):
    """One reported figure and how the model's output is compared with it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    country: Literal[COUNTRIES]  # type: ignore[valid-type]
    column: Literal[OUTPUT_COLUMNS]  # type: ignore[valid-type]
    denominator: Literal[OUTPUT_COLUMNS] | None = None  # type: ignore[valid-type]
    year: Year | None = None
    years: tuple[Year, Year] | None = None
    aggregate: Literal["mean", "sum", "min", "max"] | None = None
    base_year: Year | None = None
    kind: Kind
    value: float | None = None
    low: float | None = None
    high: float | None = None
    tolerance: float = Field(ge=0, le=1)
    quote: str | None = Field(default=None, min_length=10)
    section: str | None = Field(default=None, min_length=3)
    source: str | None = Field(default=None, min_length=10)
    date: str | None = Field(default=None, min_length=4)
    definition: str | None = Field(default=None, min_length=10)
    reading: str = Field(min_length=10)
    group: Literal["fit", "holdout_post2010", "unfitted"] = "fit"

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        article = self.quote is not None and self.section is not None
        external = None not in (self.source, self.date, self.definition)
        if article == external:
            raise ValueError(
                "give quote and section (an article figure) or source, date and definition "
                "(an external figure), not both"
            )
        if (self.year is None) == (self.years is None):
            raise ValueError("give exactly one of year and years")
        if self.years is not None:
            if self.aggregate is None:
                raise ValueError("years needs an aggregate")
            if self.years[1] < self.years[0]:
                raise ValueError("years must be [first, last]")
            if self.base_year is not None:
                raise ValueError("base_year goes with year, not years")
        if self.kind == "range":
            if self.low is None or self.high is None or self.low > self.high:
                raise ValueError("a range needs low <= high")
        elif self.value is None:
            raise ValueError(f"a {self.kind} target needs a value")
        return self

    @property
    def external(self) -> bool:
        """Whether the figure comes from an external source rather than the article."""
        return self.source is not None

    @property
    def first_year(self) -> int:
        """Earliest year the target reads."""
        years = [self.years[0] if self.years else self.year]
        if self.base_year is not None:
            years.append(self.base_year)
        return min(years)

    @property
    def last_year(self) -> int:
        """Latest year the target reads."""
        years = [self.years[1] if self.years else self.year]
        if self.base_year is not None:
            years.append(self.base_year)
        return max(years)

    @property
    def reference(self) -> float:
        """The reported value (the midpoint for a range)."""
        if self.kind == "range":
            return 0.5 * (self.low + self.high)
        return float(self.value)

    @property
    def label(self) -> str:
        """A short human description of what is compared."""
        what = self.column if self.denominator is None else f"{self.column}/{self.denominator}"
        when = (
            f"{self.year}"
            if self.years is None
            else f"{self.aggregate} {self.years[0]}-{self.years[1]}"
        )
        if self.base_year is not None:
            when = f"{self.year}/{self.base_year}"
        return f"{what} {when}"

    @property
    def reported(self) -> str:
        """The reported figure as text (with its kind)."""
        if self.kind == "range":
            return f"{self.low:g}-{self.high:g}"
        sign = {"point": "", "at_least": ">=", "at_most": "<="}[self.kind]
        return f"{sign}{self.value:g}"


class Period(BaseModel):
    """One of the article's periods of a country, shaded in plots."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    start: Year
    end: Year
    quote: str


class TargetFile(BaseModel):
    """The whole targets file."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1]
    external: str | None = None
    targets: list[Target] = Field(min_length=1)
    periods: dict[Literal[COUNTRIES], list[Period]] = Field(default_factory=dict)  # type: ignore[valid-type]

    @model_validator(mode="after")
    def _unique_ids(self) -> TargetFile:
        ids = [t.id for t in self.targets]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate target ids: {', '.join(dupes)}")
        return self


def load_targets(path: str | Path = DEFAULT_TARGETS) -> list[Target]:
    """Load and validate a targets file and return its targets.

    Raises:
        ScenarioError: one line naming the file and the entry (by id where it has one).
    """
    return load_target_file(path).targets


def load_target_file(path: str | Path = DEFAULT_TARGETS) -> TargetFile:
    """Load and validate a targets file (targets and the article's periods).

    A file may name a file of external figures (``external:``, relative to itself) whose
    targets are added to its own.

    Raises:
        ScenarioError: one line naming the file and the entry (by id where it has one).
    """
    path = Path(path)
    parsed = _validated(path)
    _refuse_unfitted(path, parsed)
    if parsed.external is None:
        return parsed
    extra = _validated(path.parent / parsed.external)
    if extra.external is not None:
        raise ScenarioError(path.parent / parsed.external, "external", "only one level")
    _refuse_unfitted(path.parent / parsed.external, extra)
    try:
        return TargetFile(
            version=1, targets=[*parsed.targets, *extra.targets], periods=parsed.periods
        )
    except ValidationError as exc:
        raise ScenarioError(path, "targets", first_error(exc)[1]) from None


def load_unfitted(path: str | Path = DEFAULT_UNFITTED) -> list[Target]:
    """Load the official counts that are compared with the model and never fitted.

    Every entry is an external figure (source, date, definition) of group ``unfitted``; a
    targets file may hold none of them (``load_target_file``), so no calibration reads them.

    Raises:
        ScenarioError: one line naming the file and the entry.
    """
    path = Path(path)
    parsed = _validated(path)
    if parsed.external is not None:
        raise ScenarioError(path, "external", "the unfitted file names no other file")
    if parsed.periods:
        raise ScenarioError(path, "periods", "the unfitted file gives no periods")
    for t in parsed.targets:
        if t.group != "unfitted" or not t.external:
            message = "an unfitted figure is external, of group 'unfitted'"
            raise ScenarioError(path, f"targets.{t.id}", message)
    return parsed.targets


def _refuse_unfitted(path: Path, parsed: TargetFile) -> None:
    for t in parsed.targets:
        if t.group == "unfitted":
            message = "an unfitted figure belongs in external_unfitted.yaml"
            raise ScenarioError(path, f"targets.{t.id}.group", message)


def _validated(path: Path) -> TargetFile:
    data = read_yaml_mapping(path)
    try:
        return TargetFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):
            entries = data.get("targets")
            entry = entries[loc[1]] if isinstance(entries, list) else None
            if isinstance(entry, dict) and "id" in entry:
                loc[1] = entry["id"]
        _, msg = first_error(exc)
        raise ScenarioError(path, ".".join(str(p) for p in loc), msg) from None
