"""The article's reported figures as machine-readable targets (``calibration/targets.yaml``).

Source of every figure: Jaysanov (2023), CAJOTAS 4(6); each entry quotes its sentence and
section, says how it is read and why its tolerance is what it is (see ``docs/targets.md``).
A target names one output column (optionally divided by another), a year or a range of
years with an aggregate, or a growth multiple against a base year.

Read strictly, as scenario files are: numbers are numbers (no ``true``, no quoted '10'), a
figure the column cannot take (a share outside [0, 1], a negative count or ratio), a comparison
that is always 1 (a base year or denominator equal to the year or column) and a field the
target's kind would ignore are refused, one line naming the file and the target.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from model import COUNTRIES, OUTPUT_COLUMNS, ScenarioError
from model.config_files import (
    OtherKindError,
    Year,
    is_whole,
    refuse_other_kind,
)
from model.input_errors import error_message, field_path, first_error, leading_error
from model.yaml_files import read_yaml_mapping

DEFAULT_TARGETS = Path(__file__).with_name("targets.yaml")
# Official figures compared with the model but never fitted (``load_unfitted``).
DEFAULT_UNFITTED = Path(__file__).with_name("external_unfitted.yaml")
Kind = Literal["point", "at_least", "at_most", "range"]


def _whole_version(value: Any) -> Any:
    # Literal[1] alone takes ``true`` (True == 1).
    if not is_whole(value):
        raise ValueError("must be the whole number 1")
    return value


# The version of a calibration data file (targets, anchors): the whole number 1.
FileVersion = Annotated[Literal[1], BeforeValidator(_whole_version)]
# The held-back calibration fits the figures up to this year and forecasts the rest
# (``calibration.abc.select_targets``; the group ``holdout_post2010`` labels the latter).
HOLDOUT_LAST_YEAR = 2010
# The figures number a country's periods in Roman numerals (I to XXXIX).
MAX_PERIODS = 39
# Counts of registered NGOs in a state: over the register, a share.
PARTS_OF_REGISTER = ("operational", "funded", "reporting", "long_active")
# Strict as in scenario files: a quoted '2000' or ``true`` for a year or a figure is a typo
# in the file, which pydantic would otherwise read as 2000 or 1.
Number = Annotated[float, Field(strict=True)]
StrictYear = Annotated[Year, Field(strict=True)]


# A target id: what tables, columns and messages name a target by.
TARGET_ID = re.compile(r"^[a-z0-9_]+$")


class Target(BaseModel):
    """One reported figure and how the model's output is compared with it."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    id: str = Field(pattern=TARGET_ID.pattern)
    country: Literal[COUNTRIES]  # type: ignore[valid-type]
    column: Literal[OUTPUT_COLUMNS]  # type: ignore[valid-type]
    denominator: Literal[OUTPUT_COLUMNS] | None = None  # type: ignore[valid-type]
    year: StrictYear | None = None
    years: tuple[StrictYear, StrictYear] | None = None
    aggregate: Literal["mean", "sum", "min", "max"] | None = None
    base_year: StrictYear | None = None
    kind: Kind
    value: Number | None = None
    low: Number | None = None
    high: Number | None = None
    tolerance: float = Field(ge=0, le=1, strict=True)
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
        for problem in (self._when_problem(), self._figure_problem(), self._range_problem()):
            if problem:
                raise ValueError(problem)
        return self

    def _when_problem(self) -> str | None:
        if (self.year is None) == (self.years is None):
            return "give exactly one of year and years"
        if self.denominator == self.column:
            return "denominator is the column itself: the ratio is always 1"
        if self.years is None:
            if self.aggregate is not None:
                return "aggregate goes with years, not a single year"
            if self.base_year == self.year:
                return "base_year is the year itself: the multiple is always 1"
            return None
        if self.aggregate is None:
            return "years needs an aggregate"
        if self.years[1] < self.years[0]:
            return "years must be [first, last]"
        if self.base_year is not None:
            return "base_year goes with year, not years"
        return None

    def _figure_problem(self) -> str | None:
        # A field the kind does not read would be silently ignored: refuse it instead.
        if self.kind == "range":
            if self.low is None or self.high is None or self.low > self.high:
                return "a range needs low <= high"
            if self.value is not None:
                return "a range gives low and high, not a value"
        elif self.value is None:
            return f"a {self.kind} target needs a value"
        elif self.low is not None or self.high is not None:
            return f"a {self.kind} target gives a value, not low or high"
        return None

    def _range_problem(self) -> str | None:
        # A figure the column can never take is a typo (a percentage for a share, a sign).
        figures = {n: getattr(self, n) for n in ("value", "low", "high")}
        given = {n: v for n, v in figures.items() if v is not None}
        # A ratio of two columns may pass 1 (state to foreign income); a share may not,
        # nor a part of the register over the register.
        part = self.denominator == "registered" and self.column in PARTS_OF_REGISTER
        share = part or (self.column.startswith("share_") and self.denominator is None)
        for name, v in given.items():
            if share and self.base_year is None and not 0 <= v <= 1:
                return f"{name} {v:g} of a share is outside [0, 1]"
            if v < 0:
                return f"{name} {v:g} is negative; a count or multiple never is"
        return None

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
            return f"{_figure(self.low)}-{_figure(self.high)}"
        sign = {"point": "", "at_least": ">=", "at_most": "<="}[self.kind]
        return f"{sign}{_figure(self.value)}"


def _figure(value: float) -> str:
    """Return a figure as written: every digit of a whole number (16716150000, not 1.67162e+10)."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


class Period(BaseModel):
    """One of the article's periods of a country, shaded in plots."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    start: StrictYear
    end: StrictYear
    quote: str

    @model_validator(mode="after")
    def _in_order(self) -> Period:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class TargetFile(BaseModel):
    """The whole targets file."""

    model_config = ConfigDict(extra="forbid")

    version: FileVersion
    external: str | None = None
    targets: list[Target] = Field(min_length=1)
    periods: dict[Literal[COUNTRIES], list[Period]] = Field(default_factory=dict)  # type: ignore[valid-type]

    @field_validator("periods")
    @classmethod
    def _few_periods(cls, value: dict) -> dict:
        if any(len(items) > MAX_PERIODS for items in value.values()):
            raise ValueError(f"at most {MAX_PERIODS} periods a country")
        return value

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
    named = path.parent / parsed.external
    if not os.path.isfile(named):  # os.path: a name too long is no file, not a traceback
        # Named by the field of the file that names it, not as if given on the command line.
        raise ScenarioError(path, "external", f"{parsed.external}: not found, or not a file")
    try:
        extra = _validated(named)
    except OtherKindError as exc:
        # The mistake is the field that names the file.
        raise ScenarioError(path, "external", f"{parsed.external}: {exc.message}") from None
    if extra.external is not None:
        raise ScenarioError(path.parent / parsed.external, "external", "only one level")
    _refuse_unfitted(path.parent / parsed.external, extra)
    if extra.periods:
        # Only the naming file's periods are read: these would be dropped without a word.
        raise ScenarioError(
            named, "periods", "read only from the targets file that names this one; move them there"
        )
    try:
        return TargetFile(
            version=1, targets=[*parsed.targets, *extra.targets], periods=parsed.periods
        )
    except ValidationError as exc:
        raise ScenarioError(path, "targets", first_error(exc)[1]) from None


def load_unfitted(path: str | Path = DEFAULT_UNFITTED) -> list[Target]:
    """Load the official figures that are compared with the model and never fitted.

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
            message = (
                "an unfitted figure belongs in external_unfitted.yaml, which `compare` reads "
                "by itself; a targets file holds calibration targets"
            )
            raise ScenarioError(path, f"targets.{t.id}.group", message)


def _validated(path: Path) -> TargetFile:
    data = read_yaml_mapping(path)
    refuse_other_kind(path, data, ("targets",), "a targets file")
    try:
        return TargetFile.model_validate(data)
    except ValidationError as exc:
        err = leading_error(exc)
        loc = list(err["loc"])
        if len(loc) >= 2 and loc[0] == "targets" and isinstance(loc[1], int):
            entries = data.get("targets")
            entry = entries[loc[1]] if isinstance(entries, list) else None
            # By its id where the id can name it; a bad id (a number, a newline) by position.
            if isinstance(entry, dict) and _names_a_target(entry.get("id")):
                loc[1] = entry["id"]
        raise ScenarioError(path, field_path(tuple(loc)), error_message(err)) from None


def _names_a_target(value: Any) -> bool:
    return isinstance(value, str) and TARGET_ID.fullmatch(value) is not None
