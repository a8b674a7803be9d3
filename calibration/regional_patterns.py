"""The article's regional story as patterns of the regional model's ties, read from a file.

Source: Jaysanov (2023) on regional cooperation. The article gives dated events and a few
participant counts but no count of ties, so its story is read as qualitative patterns
(pattern-oriented modelling, Grimm et al. 2005, Science 310), each quoting its passage,
in ``calibration/regional_patterns.yaml``. The regional calibration
(``calibration.regional``) keeps the parameter sets that reproduce the fitted ones, and the
tests and the report check all of them on the posterior predictive. A pattern whose
passage also dates an input of ``scenarios/central_asia.yaml`` (the programmes of the
2000s, the obstacles after Osh, Uzbekistan's opening) says so in ``not_fitted``: a passage
is an input or a target, never both, so such a pattern checks that the mechanism turns
the dated inputs into the story's shape, and is reported, not fitted.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import pandas as pd
from pydantic import Field, StringConstraints, ValidationError, field_validator, model_validator

from model import ScenarioError
from model.config_files import Strict, Year, first_repeated
from model.input_errors import first_error
from model.regional import RegionalModel
from model.regional_scenario import SectorList
from model.scenario import SECTORS
from model.yaml_files import read_yaml_mapping

from .targets import FileVersion

PATTERNS_FILE = Path(__file__).with_name("regional_patterns.yaml")
# A pattern's id names a column of the regional calibration's table of draws.
PatternId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)]


class _Passage(Strict):
    """What every pattern gives: its id, its passage and whether the passage is an input's."""

    id: PatternId
    quote: str = Field(min_length=10)
    section: str = Field(min_length=3)
    reading: str | None = Field(default=None, min_length=10)
    # Which input the passage also dates; such a pattern is checked, not fitted.
    not_fitted: str | None = Field(default=None, min_length=10)

    @property
    def fitted(self) -> bool:
        """Whether the regional calibration keeps only the draws in which it holds."""
        return self.not_fitted is None

    @property
    def passage(self) -> str:
        """The quote with its section (and its reading, where given), for the reports."""
        where = self.section if self.reading is None else f"{self.section}; {self.reading}"
        return f"'{self.quote}' ({where})"


class TiesPattern(_Passage):
    """The region's working ties in one year against another."""

    rule: Literal["ties_above", "ties_at_most"]
    earlier: Year
    later: Year

    @model_validator(mode="after")
    def _in_order(self) -> TiesPattern:
        if self.later <= self.earlier:
            raise ValueError(f"later ({self.later}) must come after earlier ({self.earlier})")
        return self

    @property
    def years(self) -> dict[str, int]:
        """The years the rule reads, by field."""
        return {"earlier": self.earlier, "later": self.later}

    @property
    def description(self) -> str:
        """What holds, in words."""
        than = "above" if self.rule == "ties_above" else "at most those of"
        return f"working ties in {self.later} {than} {self.earlier}"

    def holds(self, totals: pd.Series, concentration: pd.Series) -> bool:
        """Whether the rule holds for these tie totals (by year)."""
        later, earlier = totals.loc[self.later], totals.loc[self.earlier]
        return bool(later > earlier if self.rule == "ties_above" else later <= earlier)


class SectorPattern(_Passage):
    """The sectors most over-represented among the last year's tie ends."""

    rule: Literal["top_sectors"]
    sectors: SectorList = Field(min_length=1, max_length=len(SECTORS) - 1)

    @property
    def years(self) -> dict[str, int]:
        """The years the rule reads, by field: none but the run's last."""
        return {}

    @property
    def description(self) -> str:
        """What holds, in words."""
        *others, last = self.sectors
        which = f"{last} is the sector"
        if others:
            which = f"{', '.join(others)} and {last} are the {len(self.sectors)} sectors"
        return f"{which} most over-represented among the last year's tie ends"

    def holds(self, totals: pd.Series, concentration: pd.Series) -> bool:
        """Whether the listed sectors are the most over-represented ones."""
        return set(concentration.nlargest(len(self.sectors)).index) == set(self.sectors)


Pattern = Annotated[TiesPattern | SectorPattern, Field(discriminator="rule")]


class PatternFile(Strict):
    """The patterns file."""

    version: FileVersion
    patterns: list[Pattern] = Field(min_length=1, max_length=50)

    @field_validator("patterns")
    @classmethod
    def _unique_ids(cls, patterns: list[Pattern]) -> list[Pattern]:
        twice = first_repeated([p.id for p in patterns])
        if twice is not None:
            raise ValueError(f"the id {twice!r} is given twice")
        if not any(p.fitted for p in patterns):
            # The calibration would then keep every draw whose countries keep their figures.
            raise ValueError("every pattern is not_fitted: the regional calibration fits none")
        return patterns


def load_patterns(path: Path | None = None) -> tuple[Pattern, ...]:
    """Return the patterns of ``path`` (default ``PATTERNS_FILE``), read once per process.

    Raises:
        ScenarioError: one line naming the file and the field.
    """
    return _read_patterns(PATTERNS_FILE if path is None else Path(path))


@cache
def _read_patterns(path: Path) -> tuple[Pattern, ...]:
    data = read_yaml_mapping(path)
    try:
        return tuple(PatternFile.model_validate(data).patterns)
    except ValidationError as exc:
        raise ScenarioError(path, *first_error(exc, data)) from None


def fitted_ids(patterns: tuple[Pattern, ...]) -> tuple[str, ...]:
    """Return the ids of the patterns the regional calibration fits."""
    return tuple(p.id for p in patterns if p.fitted)


def check_years(first: int, last: int, path: Path | None = None) -> None:
    """Refuse a pattern that reads a year outside a regional run of ``first``-``last``.

    Raises:
        ScenarioError: naming the pattern's field.
    """
    for i, pattern in enumerate(load_patterns(path)):
        for field, year in pattern.years.items():
            if not first <= year <= last:
                message = f"{year} is outside the regional run ({first}-{last})"
                raise ScenarioError(path or PATTERNS_FILE, f"patterns.{i}.{field}", message)


def tie_totals(model: RegionalModel) -> pd.Series:
    """Return the region's working cross-border ties by year (each tie counted once)."""
    return model.tie_table().groupby("year").ties.sum()


def sector_concentration(model: RegionalModel) -> pd.Series:
    """Return each sector's share of the last year's tie ends over its share of operational NGOs.

    Above 1: the sector's NGOs hold more of the working ties than their number gives them.
    """
    pops = {c: m.population for c, m in model.countries.items()}
    edges = model.network.operational_table(pops)
    ends = pd.concat([edges.sector_a, edges.sector_b]).value_counts(normalize=True)
    operational = pd.concat(
        [pd.Series(p.view("sector")[p.view("active")]) for p in pops.values()]
    ).map(dict(enumerate(SECTORS)))
    share = operational.value_counts(normalize=True)
    return (ends.reindex(list(SECTORS), fill_value=0) / share.reindex(list(SECTORS))).fillna(0)


def pattern_inputs(model: RegionalModel) -> tuple[pd.Series, pd.Series]:
    """Return what the patterns read from one finished run: tie totals and concentration."""
    return tie_totals(model), sector_concentration(model)


def holds(totals: pd.Series, concentration: pd.Series) -> dict[str, bool]:
    """Return whether each pattern holds for these tie totals and sector concentration."""
    return {p.id: p.holds(totals, concentration) for p in load_patterns()}


def pattern_values(model: RegionalModel) -> dict[str, bool]:
    """Return whether each pattern holds in one finished regional run."""
    return holds(*pattern_inputs(model))


def median_pattern_values(inputs: list[tuple[pd.Series, pd.Series]]) -> dict[str, bool]:
    """Return whether each pattern holds in the median over runs (``pattern_inputs`` each)."""
    totals = pd.concat([t for t, _ in inputs], axis=1).median(axis=1)
    concentration = pd.concat([c for _, c in inputs], axis=1).median(axis=1)
    return holds(totals, concentration)
