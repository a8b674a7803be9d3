"""RegionalModel: the three countries' NGO sectors side by side, with cross-border ties.

Source: Jaysanov (2023), read "from the perspective of regional cooperation". One Mesa
model holds one country model per country (each with its own State, Donors and NGOs, run
exactly as when the country runs alone) and a networkx graph of ties between NGOs of
different countries (``model.ties``). Each year every country takes its step in two
halves, with regional donors moving money between countries in between (what they
withhold where they are constrained goes partly to freer programmes next door); then ties
lapse, the year's regional programmes and the regional donors' programmes (their grantees
in several countries brought together) form new ones, and the ties feed back: an NGO that
gained a tie gains capacity (joint projects: the Kyrgyz People's Assembly "won grants by
participating in joint projects"), and where a state's prizes count regional cooperation
(Kazakhstan from 2017) tied NGOs rank higher. With the two feedbacks and the donors'
mobility at zero each country's table is the one it gives alone, bit for bit: the
regional layer draws only from its own keyed streams. The full description is
``docs/ODD.md`` (section 8).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from mesa import Model

from .agents import Donor, State
from .metrics import OUTPUT_COLUMNS
from .model import NGOModel
from .population import ApplicantPool
from .regional_files import load_region
from .regional_scenario import Programme, Region
from .rng import KeyedStreams, decision_code, plain_seed
from .scenario import COUNTRIES, SECTORS, Scenario
from .steps import CalendarSteps, refuse_step_past
from .tie_arrays import EDGE_COLUMNS, MIXED, regional_ids
from .ties import Participants, TieNetwork, select_participants

# The regional layer's streams are keyed by (seed, this code): no country stream shares it.
REGIONAL_STREAM = decision_code("regional cooperation")
TIE_COLUMNS: tuple[str, ...] = ("cross_border_ties", "share_cross_border", "ties_formed")
TIE_TABLE_COLUMNS: tuple[str, ...] = ("year", "pair", "sector", "ties")
PAIRS: tuple[str, ...] = tuple(
    f"{a}-{b}" for i, a in enumerate(COUNTRIES) for b in COUNTRIES[i + 1 :]
)


class RegionalState(State):
    """A country's State whose prizes may count cross-border ties (from a dated year).

    ``tied`` is the mask of population rows with a tie (set by the regional model before
    the year); ``tie_weight`` multiplies a tied NGO's prize merit by ``1 + tie_weight``.
    """

    def __init__(self, model: NGOModel, policy):
        super().__init__(model, policy)
        self.tied: np.ndarray | None = None
        self.tie_weight = 0.0

    def prize_merit(self, year: int, eligible: ApplicantPool) -> np.ndarray:
        """Return the prize merit, raised for NGOs with ties when the criterion is in force."""
        merit = super().prize_merit(year, eligible)
        if self.tied is None or self.tie_weight <= 0:
            return merit
        rows = eligible.rows
        tied = np.zeros(rows.size, dtype=bool)
        known = rows < self.tied.size
        tied[known] = self.tied[rows[known]]
        return merit * (1.0 + self.tie_weight * tied)


class RegionalDonor(Donor):
    """A country's Donor that remembers its last award: whom it funded and how much.

    The regional layer brings a regional donor's grantees of several countries together,
    as many as its money there pays places for (``grantees``, ``awarded_usd``).
    """

    def __init__(self, model: NGOModel, config):
        super().__init__(model, config)
        self.grantees = np.zeros(0, dtype=np.int64)
        self.awarded_usd = 0.0

    def award_grants(self, year: int, pool: ApplicantPool) -> float:
        """Award the year's grants as a Donor does; keep the rows whose foreign income rose."""
        income = self.model.population.income_foreign
        before = income[pool.rows]
        spent = super().award_grants(year, pool)
        self.grantees = pool.rows[income[pool.rows] > before]
        self.awarded_usd = spent
        return spent


class CountryModel(NGOModel):
    """A country's ``NGOModel`` in the region: the same model, regional State and Donors.

    The region calls its two half-steps (``begin_year``, ``finish_year``) rather than
    ``step``, so Mesa's own step counter of a country model stays at 0; its ``year`` is
    the clock.
    """

    def __init__(self, scenario: Scenario, rng: int, agents: bool, engine: str):
        super().__init__(scenario, rng=rng, agents=agents, engine=engine)
        self.state.remove()
        self.state = RegionalState(self, scenario.state)
        for donor in self.donors:
            donor.remove()
        self.donors = [RegionalDonor(self, d.config) for d in self.donors]


class RegionalModel(CalendarSteps, Model):
    """Central Asia's NGO sectors in one model, one step per calendar year.

    Args:
        region: A loaded regional scenario (``load_region``), parameters applied.
        rng: The run's seed; every country model runs with it, as it would alone.
        agents: Create the Mesa ``NGO`` agents in the country models.
        engine: ``"compiled"`` or ``"numpy"`` country rules.
    """

    def __init__(self, region: Region, rng: int = 0, agents: bool = True, engine: str = "compiled"):
        rng = plain_seed(rng, "rng")  # before Mesa's own generator, so that it is named
        super().__init__(rng=rng)
        self.guard_steps(region.end_year, "region")
        self.region = region
        self.params = region.params
        self.year = region.start_year - 1
        self.countries = {
            c: CountryModel(s, rng, agents, engine) for c, s in region.countries.items()
        }
        self.streams = KeyedStreams((rng, REGIONAL_STREAM))
        transboundary = region.spec.transboundary
        self.network = TieNetwork(
            self.streams, self.params, transboundary.mask() if transboundary else None
        )
        self.tie_rows: dict[str, list[dict]] = {c: [] for c in self.countries}
        self.pair_rows: list[dict] = []
        self.snapshots: dict[int, pd.DataFrame] = {}

    def openness(self, country: str, year: int) -> float:
        """Return a country's openness to regional cooperation (1 open, 0 closed).

        Each restriction in force cuts it by its strength parameter; several multiply.
        """
        value = 1.0
        for r in self.region.spec.restrictions:
            if country in r.countries and r.first_year <= year <= r.last_year:
                value *= 1.0 - self.params[r.strength]
        return value

    def step(self) -> None:
        """Simulate one calendar year in every country, then the year's ties.

        Raises:
            ValueError: past the region's end year (``refuse_step_past``).
        """
        refuse_step_past(self.year, self.region.end_year, "region")
        self.year += 1
        year = self.year
        running = {
            c: m
            for c, m in self.countries.items()
            if m.config.start_year <= year <= m.config.end_year
        }
        for country, model in running.items():
            self._set_prize_criterion(country, model, year)
            model.begin_year()
        self._move_donor_money(running, year)
        for model in running.values():
            model.finish_year()
        pops = {c: m.population for c, m in self.countries.items()}
        openness = {c: self.openness(c, year) for c in self.countries}
        self.network.lapse(year, pops, openness)
        formed: list[tuple[tuple[str, int], tuple[str, int]]] = []
        for programme in self.region.spec.programmes:
            if programme.runs_in(year):
                people = self._participants(programme, year, running, openness)
                full = self._participants_when_open(programme, running)
                rate = self._tie_rate(programme)
                formed += self.network.form(year, programme.name, people, full, rate)
        for name in self._regional_donor_names():
            people, full = self._grantees(name, year, running, openness)
            formed += self.network.form(year, f"grantees/{name}", people, full)
        self._joint_project_gain({node for tie in formed for node in tie})
        self._record(year, running, formed)
        if year >= self.region.end_year:
            self.running = False

    def _tie_rate(self, programme: Programme) -> float:
        """Return the programme's tie rate relative to a meeting (1 for a meeting).

        Reading a bulletin is one-way: it makes NGOs known to each other (CASDIN's
        "information bridge") but a partnership needs the two sides to meet.
        """
        return self.params["information_tie_rate"] if programme.kind == "information" else 1.0

    def _move_donor_money(self, running: dict, year: int) -> None:
        """Move a share of what regional donors withhold from one country to freer ones.

        A regional donor (``regional_donors``) withholds part of its planned money from a
        country under restriction and instability (``Donor.plan_year``): it keeps the share
        ``factor = budget / path`` of its plan there. It moves the share ``donor_mobility``
        of what it withholds to its programmes in the region's other countries where its
        rules let it keep more (a higher ``factor``), in proportion to their budgets times
        how much more; the rest leaves the region. Programmes under the same constraint
        exchange nothing. Donors keep money where their rules let them work (Dupuy, Ron and
        Prakash 2016): when one government closes in, programmes next door grow.
        """
        mobility = self.params["donor_mobility"]
        if mobility <= 0:
            return
        for name in self._regional_donor_names():
            donors = [d for m in running.values() for d in m.donors if d.name == name]
            paths = [d.path_usd(year) for d in donors]
            budgets = [d.budget_usd for d in donors]
            received = moved_money(paths, budgets, mobility)
            for donor, extra in zip(donors, received, strict=True):
                donor.budget_usd += extra

    def _regional_donor_names(self) -> list[str]:
        named = self.region.spec.regional_donors
        return [] if named is None else named.names

    def _grantees(
        self, name: str, year: int, running: dict, openness: dict[str, float]
    ) -> tuple[Participants, np.ndarray]:
        """Return the grantees of a regional donor that take part in its regional activities.

        A donor's regional activities (conferences, network meetings, cross-border joint
        projects) have ``grantee_places`` places per million dollars it awarded this year
        in a country, taken by that year's grantees there: each takes part with
        probability places / grantees (at most 1) times the country's openness. The places
        follow the money, not the number of grants it is split into, so a donor of many
        small grants sends no more NGOs than one of a few large ones. Also returns the
        expected participants per country at openness 1, the scale its ties form against
        (``TieNetwork.form``), as for a programme.
        """
        places = self.params["grantee_places"]
        full = np.zeros(len(COUNTRIES))
        parts = []
        for country, model in running.items():
            for donor in (d for d in model.donors if d.name == name):
                pop, funded = model.population, donor.grantees
                if funded.size == 0:
                    continue
                expected = min(float(funded.size), places * donor.awarded_usd / 1e6)
                full[COUNTRIES.index(country)] += expected
                share = expected / funded.size
                u = self.streams.uniform(f"grantees/{name}/{country}", year, pop.ngo_id[funded])
                rows = funded[u < share * openness[country]]
                code = np.full(rows.size, COUNTRIES.index(country))
                ids = regional_ids(country, pop.ngo_id[rows])
                parts.append((code, rows, ids, pop.sector[rows]))
        return joined(parts), full

    def _set_prize_criterion(self, country: str, model: CountryModel, year: int) -> None:
        """Let the State's prizes count ties when its regional criterion is in force."""
        live = any(
            p.country == country and year >= p.first_year for p in self.region.spec.prize_criteria
        )
        state = model.state
        state.tie_weight = self.params["prize_tie_weight"] if live else 0.0
        state.tied = self.network.tied_rows(country, model.population.size) if live else None

    def _participants(
        self, programme: Programme, year: int, running: dict, openness: dict[str, float]
    ) -> Participants:
        """Return the year's participants of a programme from the countries running."""
        weights = programme.sectors.vector() if programme.sectors else np.ones(len(SECTORS))
        parts = []
        for country, share in programme.country_shares().items():
            if country not in running:
                continue
            pop = running[country].population
            expected = programme.participants.value * share * openness[country]
            decision = f"participate/{programme.name}/{country}"
            rows = select_participants(self.streams, decision, year, pop, expected, weights)
            code = np.full(rows.size, COUNTRIES.index(country))
            parts.append((code, rows, regional_ids(country, pop.ngo_id[rows]), pop.sector[rows]))
        return joined(parts)

    @staticmethod
    def _participants_when_open(programme: Programme, running: dict) -> np.ndarray:
        """Return a programme's expected participants per country at openness 1.

        In ``COUNTRIES`` order, from the countries running: the scale ties form against.
        """
        full = np.zeros(len(COUNTRIES))
        for country, share in programme.country_shares().items():
            if country in running:
                full[COUNTRIES.index(country)] = programme.participants.value * share
        return full

    def _joint_project_gain(self, gained: set[tuple[str, int]]) -> None:
        """Raise the capacity of each NGO that gained a tie this year by ``tie_capacity_gain``.

        Capacity is the track record funders score applicants on, so the joint project
        raises the NGO's chances of a grant (and of surviving) from next year.
        """
        gain = self.params["tie_capacity_gain"]
        if gain <= 0:
            return
        for country, row in gained:
            self.countries[country].population.capacity[row] *= 1.0 + gain

    def _record(self, year: int, running: dict, formed: list) -> None:
        """Record the year's working ties (both NGOs operational) and the ties formed."""
        pops = {c: m.population for c, m in self.countries.items()}
        live = self.network.operational_ties(pops)
        for country, model in running.items():
            pop = model.population
            operational = int(pop.view("active").sum())
            tied = live.tied_rows(country, pop.size)
            self.tie_rows[country].append(
                {
                    "cross_border_ties": live.ties_of(country),
                    "share_cross_border": float(tied.sum() / max(operational, 1)),
                    "ties_formed": sum(country in (a[0], b[0]) for a, b in formed),
                }
            )
        counts = live.by_pair_and_sector()
        for pair in PAIRS:
            for sector in (*SECTORS, MIXED):
                self.pair_rows.append(
                    {"year": year, "pair": pair, "sector": sector, "ties": counts[pair, sector]}
                )
        if year in self.region.spec.network_years:
            self.snapshots[year] = self.network.operational_table(pops)

    def results(self) -> pd.DataFrame:
        """Return the regional yearly table: each country's rows, its ties, a ``country`` column."""
        frames = []
        for country, model in self.countries.items():
            frame = model.results()
            ties = pd.DataFrame(self.tie_rows[country], columns=list(TIE_COLUMNS))
            frame = pd.concat([frame, ties], axis=1)
            frame.insert(0, "country", country)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def tie_table(self) -> pd.DataFrame:
        """Return the ties by year, country pair and sector (``mixed`` across sectors)."""
        return pd.DataFrame(self.pair_rows, columns=list(TIE_TABLE_COLUMNS))

    def network_table(self) -> pd.DataFrame:
        """Return the ties at the scenario's ``network_years`` (one row per tie and year)."""
        frames = [frame.assign(year=year) for year, frame in self.snapshots.items()]
        if not frames:
            return pd.DataFrame(columns=[*EDGE_COLUMNS, "year"])
        return pd.concat(frames, ignore_index=True)


def joined(parts: list[tuple[np.ndarray, ...]]) -> Participants:
    """Return the participants of several countries (country, row, id, sector each) as one."""
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Participants(empty, empty, empty.astype(np.uint64), empty)
    return Participants(*(np.concatenate(column) for column in zip(*parts, strict=True)))


def moved_money(paths: list[float], budgets: list[float], mobility: float) -> list[float]:
    """Return what each of a donor's country programmes receives from the others.

    Programme ``g`` keeps ``factor_g = budget_g / path_g`` of its planned money and
    withholds ``path_g - budget_g``; the share ``mobility`` of that goes to the programmes
    with a higher factor, each weighted by ``budget_k * (factor_k - factor_g)``. Nothing
    goes where the donor spends nothing or is as constrained, so equal cuts everywhere
    move nothing.
    """
    factors = [b / p if p > 0 else 0.0 for b, p in zip(budgets, paths, strict=True)]
    received = [0.0] * len(budgets)
    for g, (path, budget) in enumerate(zip(paths, budgets, strict=True)):
        withheld = max(0.0, path - budget)
        weights = [budgets[k] * max(0.0, factors[k] - factors[g]) for k in range(len(budgets))]
        total = sum(weights)
        if withheld <= 0 or total <= 0:
            continue
        for k, weight in enumerate(weights):
            received[k] += mobility * withheld * weight / total
    return received


REGIONAL_COLUMNS: tuple[str, ...] = ("country", *OUTPUT_COLUMNS, *TIE_COLUMNS)


def simulate_region(
    region: Region | str | Path, seed: int = 0, agents: bool = False, engine: str = "compiled"
) -> RegionalModel:
    """Run a regional scenario from its first to its last year; return the finished model.

    ``region`` is a loaded region or a regional scenario file (``load_region``), as
    ``simulate`` takes a country's scenario or its file.
    """
    if isinstance(region, (str, Path)):
        region = load_region(region)
    if not isinstance(region, Region):
        raise TypeError(f"region must be a Region or a file name, got {type(region).__name__}")
    model = RegionalModel(region, rng=plain_seed(seed), agents=agents, engine=engine)
    model.run_for(region.end_year - region.start_year + 1)
    return model
