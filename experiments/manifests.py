"""Reading a run folder's manifest: the fields the comparison reads, checked.

A manifest is the tool's own record of a run (``experiments.runs.write_run``,
``experiments.regional_runs``), but ``compare`` reads folders users may have edited by
hand, so its years, replicates and countries are checked against what a run can write
before anything is sized by them (a span of a trillion years, an end before the start).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from model import COUNTRIES, ScenarioError
from model.limits import MAX_REPLICATES, MAX_YEAR, MIN_YEAR

COUNTRY_MANIFEST_FIELDS = {"country": str, "replicates": int, "start_year": int, "end_year": int}
# A manifest records every replicate's parameters: about 2 kB each, so 10,000 replicates
# (MAX_REPLICATES) take some 20 MB. Read unbounded, a manifest linked to /dev/zero or a
# huge sparse file filled the memory before the JSON parser saw a byte.
MAX_MANIFEST_BYTES = 64_000_000


def manifest_json(path: Path) -> dict[str, Any]:
    """Return a manifest's JSON object, read only if it is a file of a manifest's size.

    Raises:
        ScenarioError: for anything else (a device, a folder, a huge file, not JSON).
    """
    if not path.is_file():
        raise ScenarioError(path, "", "malformed manifest: not a regular file")
    if path.stat().st_size > MAX_MANIFEST_BYTES:
        found = f"malformed manifest: over {MAX_MANIFEST_BYTES:,} bytes, more than a run writes"
        raise ScenarioError(path, "", found)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        # ValueError: not JSON, not UTF-8, or an integer of thousands of digits;
        # RecursionError: arrays nested thousands deep. No run writes either.
        raise ScenarioError(path, "", "malformed manifest: not JSON") from None
    if not isinstance(manifest, dict):
        raise ScenarioError(path, "", "malformed manifest: not a JSON object")
    return manifest


def read_manifest(path: Path, kinds: dict[str, type] = COUNTRY_MANIFEST_FIELDS) -> dict[str, Any]:
    """Return a run's manifest, with the fields the comparison reads (``kinds``) checked."""
    manifest = manifest_json(path)
    for field, kind in kinds.items():
        value = manifest.get(field)
        if not isinstance(value, kind) or isinstance(value, bool):
            found = "missing" if field not in manifest else repr(value)
            raise ScenarioError(path, field, f"malformed manifest: {found}")
    check_manifest_bounds(path, manifest)
    return manifest


def check_manifest_bounds(path: Path, manifest: dict[str, Any]) -> None:
    """Refuse a (hand-edited) manifest's years, replicates or countries that no run writes.

    Read as they are, a span of a trillion years or an end before the start ended the
    comparison in a traceback.
    """
    bounds = {
        "start_year": (MIN_YEAR, MAX_YEAR),
        "end_year": (MIN_YEAR, MAX_YEAR),
        "replicates": (1, MAX_REPLICATES),
    }
    for field, (low, high) in bounds.items():
        value = manifest.get(field)
        if isinstance(value, int) and not low <= value <= high:
            raise ScenarioError(path, field, f"malformed manifest: {value!r}, not {low}-{high}")
    start, end = manifest.get("start_year"), manifest.get("end_year")
    if isinstance(start, int) and isinstance(end, int) and start > end:
        raise ScenarioError(path, "end_year", "malformed manifest: before start_year")
    country = manifest.get("country")
    if isinstance(country, str) and country not in COUNTRIES:
        found = f"malformed manifest: {country!r}, not one of {', '.join(COUNTRIES)}"
        raise ScenarioError(path, "country", found)
    countries = manifest.get("countries")
    if countries is not None and not (
        countries
        and all(isinstance(c, str) and c in COUNTRIES for c in countries)
        and len(set(countries)) == len(countries)
    ):
        found = f"malformed manifest: {countries!r}, not a list of distinct country names"
        raise ScenarioError(path, "countries", found)


def check_country_years(path: Path, by_country: Any) -> None:
    """Refuse a manifest's ``country_years`` that is not first and last years by country."""
    if not isinstance(by_country, dict):
        raise ScenarioError(path, "country_years", f"malformed manifest: {by_country!r}")
    for country, years in by_country.items():
        if not (
            isinstance(years, list)
            and len(years) == 2
            and all(isinstance(y, int) and not isinstance(y, bool) for y in years)
            and MIN_YEAR <= years[0] <= years[1] <= MAX_YEAR
        ):
            where = f"country_years.{country}"
            raise ScenarioError(path, where, f"malformed manifest: {years!r}, not [first, last]")
