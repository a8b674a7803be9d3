"""Reading a regional scenario file: its ``extends:`` chain, its country files, its checks.

Source: as ``model.regional_scenario``, whose ``RegionalSpec`` says what a regional file
holds; this module reads one from disk, loads each country scenario it names, and checks
what needs the loaded countries (dated items inside the run's years, regional donors that
work in at least two countries).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from .config_files import OtherKindError, ScenarioError, file_kind, named_file, path_argument
from .error_origin import validation_error, written_by
from .extends import resolve_extends, resolve_path
from .input_errors import named_item
from .regional_scenario import Region, RegionalSpec
from .scenario import Scenario
from .scenario_files import load_named_scenario
from .yaml_files import read_yaml_mapping

# The project's regional scenario, which the regional layer is calibrated on.
REGIONAL_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "central_asia.yaml"


def is_regional_file(path: str | Path) -> bool:
    """Return whether a YAML file is a regional scenario (``countries:``, its own or extended).

    Any ``countries`` key counts, well formed or not, so that a malformed regional file is
    reported by the regional loader, and so does its own where a file it extends does not
    read (the regional loader names that file). A file that does not read is no regional file.
    """
    try:
        return "countries" in resolve_region(Path(path))
    except ScenarioError:
        pass
    try:
        # Its parent refused (of another kind, say): its own key still says what it is.
        return "countries" in read_yaml_mapping(Path(path))
    except ScenarioError:
        return False


def is_country_file(path: str | Path) -> bool:
    """Return whether a YAML file is a country's scenario (``country:``, its own or extended)."""
    try:
        return "country" in resolve_extends(Path(path))
    except ScenarioError:
        return False


def load_named_region(owner: Path, field: str, name: str) -> Region:
    """Return the regional scenario that ``owner``'s ``field`` names (``name``, from its folder).

    A file that does not read is named with its fault, in the field that names it when the
    fault is the whole file's; a file of another kind is named as that kind.
    """
    file = named_file(owner, field, owner.parent / name)
    try:
        data = resolve_region(file)
    except OtherKindError as exc:
        raise ScenarioError(owner, field, f"{name}: {exc.found()}") from None
    except ScenarioError as exc:
        if exc.field or exc.file != str(resolve_path(file)):
            raise  # a fault inside it, or in a file it extends: named where it is
        raise ScenarioError(owner, field, f"{name}: {exc.message}") from None
    if "countries" not in data:
        kind = file_kind(data)
        found = f"{name} is {kind.name if kind else 'no scenario'}, not a regional one (countries:)"
        raise ScenarioError(owner, field, found)
    return load_region(file)


def _anchor_countries(data: dict, folder: Path) -> None:
    """Name the country files relative to the file that names them.

    So a counterfactual in another folder can extend the baseline; lists of named items
    merge by name (an item with ``remove: true`` removes the parent's), others are replaced.
    """
    countries = data.get("countries")
    if isinstance(countries, dict):
        data["countries"] = {
            c: str(folder / f) if isinstance(f, str) else f for c, f in countries.items()
        }


def resolve_region(path: Path) -> dict:
    """Read a regional file and everything it ``extends:``, child fields winning.

    Raises:
        ScenarioError: naming the file and the fault if it, or a file it extends, does not
            read.
    """
    return resolve_extends(path, (), _anchor_countries, ("regional", "a regional scenario file"))


def _country_scenario(path: Path, country: str, name: str) -> Scenario:
    """Return a country's scenario; an error of the field naming it is in the file that wrote it."""
    field = f"countries.{country}"
    try:
        return load_named_scenario(path, field, Path(name))
    except ScenarioError as exc:
        if (exc.file, exc.field) != (str(path), field):
            raise
        owner = written_by(path, [("key", "countries"), ("key", country)])
        raise ScenarioError(owner, field, exc.message) from None


def load_region(path: str | Path) -> Region:
    """Load a regional scenario file and each country scenario it names.

    Raises:
        ScenarioError: one line naming the file and field of the first problem (in the
            regional file, or in a country file it names).
    """
    path = path_argument(path)
    data = resolve_region(path)
    if "country" in data and "countries" not in data:
        # Not a misspelt ``countries:`` (what the missing key alone would suggest).
        raise ScenarioError(path, "", "a country's scenario file, not a regional one")
    try:
        spec = RegionalSpec.model_validate(data)
    except ValidationError as exc:
        raise validation_error(path, exc, data) from None
    countries: dict[str, Scenario] = {}
    for country, name in spec.countries.items():
        scenario = _country_scenario(path, country, name)
        if scenario.country != country:
            found = f"{name} is a {scenario.country} scenario"
            raise ScenarioError(path, f"countries.{country}", found)
        countries[country] = scenario
    region = Region(path, spec, countries)
    _check_years(path, region)
    _check_regional_donors(path, region)
    return region


def _check_regional_donors(path: Path, region: Region) -> None:
    """Raise ``ScenarioError`` for a regional donor that works in fewer than two countries."""
    if region.spec.regional_donors is None:
        return
    for k, name in enumerate(region.spec.regional_donors.names):
        where = [c for c, s in region.countries.items() if name in {d.name for d in s.donors}]
        if len(where) < 2:
            found = f"{name!r} is a donor of {len(where)} of the regional countries (at least 2)"
            raise ScenarioError(path, f"regional_donors.names.{k}", found)


def _check_years(path: Path, region: Region) -> None:
    """Raise ``ScenarioError`` for a dated item of the file outside the run's years.

    Reported years, programmes, restrictions and prize criteria: a year no country runs
    would silently do nothing.
    """
    first, last = region.start_year, region.end_year
    dated: list[tuple[str, list[int]]] = [
        ("network_years", region.spec.network_years),
        ("report_years", region.spec.report_years),
    ]
    items = (
        ("programmes", region.spec.programmes, ("years", "first_year", "last_year")),
        ("restrictions", region.spec.restrictions, ("first_year", "last_year")),
        ("prize_criteria", region.spec.prize_criteria, ("first_year",)),
    )
    for field, listed, names in items:
        for k, item in enumerate(listed):
            # By name, as the file's other errors give them (prize criteria have none).
            label = named_item(field, item.name) if hasattr(item, "name") else f"{field}.{k}"
            for name in names:
                if value := getattr(item, name):
                    dated.append((f"{label}.{name}", value if name == "years" else [value]))
    for field, years in dated:
        outside = [y for y in years if not first <= y <= last]
        if outside:
            raise ScenarioError(path, field, f"{outside[0]} is outside the run ({first}-{last})")
