"""The model's agents: the State, foreign Donors and NGOs (Mesa agents).

Source: Jaysanov (2023), "The Dynamics of Non-Governmental Organizations and Their
Development in Central Asia", CAJOTAS 4(6); the article's actors are the state (grants,
prizes, registration and reporting rules, political shocks), foreign donors (Soros
Foundation, UNDP, Eurasia Foundation, NDI, Global Environment Facility, ...) and NGOs.
Each NGO agent is one real organisation; its state lives in the model's ``Population``
arrays so that the NGO rules run vectorised (``model.population``), and its attributes
read its own row.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from mesa import Agent

from . import decisions, timeline
from .engines import Funder
from .population import STATUS_NAMES, ApplicantPool, Population
from .scenario import SECTORS, StatePolicy
from .scenario import Donor as DonorConfig

if TYPE_CHECKING:
    from .model import NGOModel


class NGO(Agent):
    """One registered non-governmental organisation (a view on its population row)."""

    def __init__(self, model: NGOModel, row: int):
        super().__init__(model)
        self.row = row

    @property
    def _pop(self) -> Population:
        return self.model.population

    @property
    def ngo_id(self) -> int:
        """Stable id: founding year * 1,000,000 + order of founding within the year."""
        return int(self._pop.ngo_id[self.row])

    @property
    def founding_year(self) -> int:
        """Year the NGO was registered."""
        return int(self._pop.founded[self.row])

    @property
    def sector(self) -> str:
        """Field of work (one of ``SECTORS``)."""
        return SECTORS[self._pop.sector[self.row]]

    @property
    def one_day(self) -> bool:
        """Whether it was founded to carry out a single project."""
        return bool(self._pop.one_day[self.row])

    @property
    def state_founded(self) -> bool:
        """Whether the State founded it (a GONGO; ``founding.state_registrations``)."""
        return bool(self._pop.state_founded[self.row])

    @property
    def capacity(self) -> float:
        """Capacity / track record (1 is typical at founding)."""
        return float(self._pop.capacity[self.row])

    @property
    def status(self) -> str:
        """``operating``, ``dormant`` or ``deregistered``.

        ``operating`` is funded, running programmes: the table's ``funded``.
        """
        return STATUS_NAMES[self._pop.status[self.row]]

    @property
    def active(self) -> bool:
        """Whether it showed any activity this year (the table's ``operational``).

        Wider than ``status == "operating"`` (funded, running programmes): any income, a
        registration this year, or volunteers carrying on last year's work.
        """
        return bool(self._pop.active[self.row])

    @property
    def reported(self) -> bool:
        """Whether it filed its annual report this year."""
        return bool(self._pop.reported[self.row])

    @property
    def reserves(self) -> float:
        """Savings carried between years (constant US dollars of ``cpi_base_year``)."""
        return float(self._pop.reserves[self.row])

    @property
    def income(self) -> dict[str, float]:
        """This year's income by source (constant US dollars of ``cpi_base_year``).

        The table's income bands are in nominal dollars: these times
        ``model.constant_to_nominal_usd(model.year)``.
        """
        p, r = self._pop, self.row
        return {
            "foreign": float(p.income_foreign[r]),
            "state": float(p.income_state[r] + p.income_prize[r]),
            "domestic": float(p.income_domestic[r]),
        }


class Donor(Agent):
    """A foreign donor: budget path, sector priorities and reactions to shocks and laws."""

    def __init__(self, model: NGOModel, config: DonorConfig):
        super().__init__(model)
        self.config = config
        self.name = config.name
        self.budget_usd = 0.0
        self.priorities = config.priorities.vector()
        self.share = timeline.donor_share(model.config, config)

    def path_usd(self, year: int) -> float:
        """Return the donor's planned money for ``year`` before reactions (constant US$).

        Its share (``weight`` over the country's total weight) of the country's foreign
        money at plateau (``donor_budget_scale``, million constant US$), on one path shared
        by all donors: growth in a straight line from arrival to the plateau over
        ``donor_ramp_years``, then a decline of ``donor_decline`` a year after
        ``donor_peak_year``, when donors' civil-society money for the former Soviet Union
        turned elsewhere. Only the arrival and exit years and the weight are the donor's own
        on this path, and a counterfactual's yearly ``budget_factor``. Nothing outside its
        entry and exit years.
        """
        level = self.model.config.donor_budget_scale.value * 1e6 * self.share
        return timeline.donor_path_usd(self.config, self.model.behaviour, level, year)

    def plan_year(self, year: int, instability: float, restriction: float) -> None:
        """Set this year's budget and priorities from its path and the politics it sees.

        The path (``path_usd``) times what the donor still gives under the restriction in
        force and the instability (``donor_restriction_cut``, ``donor_instability_cut``);
        priorities move towards the State's grant priorities, the fields the State itself
        funds, by ``donor_restriction_shift`` times the restriction. The sector's
        absorptive capacity is applied to all donors together afterwards
        (``absorb_donor_money``).
        """
        b = self.model.behaviour
        self.priorities = self.config.priorities.vector()
        self.budget_usd = self.path_usd(year) * decisions.donor_political_factor(
            restriction, instability, b["donor_restriction_cut"], b["donor_instability_cut"]
        )
        self.priorities = decisions.shifted_priorities(
            self.priorities, self.model.state.priorities, b["donor_restriction_shift"] * restriction
        )

    @property
    def mean_grant_usd(self) -> float:
        """Return the donor's mean grant (its scenario's, times ``donor_grant_scale``)."""
        return self.config.mean_grant_usd.value * self.model.behaviour["donor_grant_scale"]

    @property
    def active(self) -> bool:
        """Whether the donor has money in the country this year."""
        return self.budget_usd > 0

    def award_grants(self, year: int, pool: ApplicantPool) -> float:
        """Award this year's grants among the applicants by track record and sector fit.

        Returns:
            The money spent (constant US dollars).
        """
        if self.budget_usd <= 0 or pool.rows.size == 0:
            return 0.0
        b = self.model.behaviour
        funder = Funder(
            self.budget_usd,
            self.mean_grant_usd,
            b["grant_cap_multiple"],
            self.priorities,
            f"grant:{self.name}",
            year,
        )
        amounts = self.model.rules.award(pool, funder, self.model.population.income_foreign)
        return float(amounts.sum())


def plan_donors(model: NGOModel, year: int) -> None:
    """Let every donor plan its budget for ``year`` from its path and the politics."""
    state = model.state
    for donor in model.donors:
        donor.plan_year(year, state.instability, state.restriction)


def absorb_donor_money(model: NGOModel, capable_ngos: int) -> None:
    """Scale the donors' planned budgets to what the sector can absorb.

    All donors together can place only as many grants as the NGOs able to spend them
    (``capable_ngos``, those funded last year) absorb, so each budget is scaled by
    ``decisions.absorption_factor`` of the grants planned by all donors.
    """
    budgets = decisions.absorbed_budgets(
        [d.budget_usd for d in model.donors],
        [d.mean_grant_usd for d in model.donors],
        capable_ngos,
        model.behaviour["donor_absorption"],
    )
    for donor, budget in zip(model.donors, budgets, strict=True):
        donor.budget_usd = budget


class State(Agent):
    """The state: registration burden, grants and prizes, reporting rules, shocks.

    Its documented instruments follow the scenario's timeline; its restriction on foreign
    funding is the stricter of the documented laws and its reaction to the foreign share
    of NGO income under the threat it feels (``decide_restriction``).
    """

    def __init__(self, model: NGOModel, policy: StatePolicy):
        super().__init__(model)
        self.policy = policy
        self.priorities = policy.grant_priorities.vector()
        self.burden = 0.0
        self.enforcement = 0.0
        self.restriction = 0.0
        self.reactive_restriction = 0.0
        self.threat = 0.0
        self.instability = 0.0
        self.purge_share = 0.0
        self.strike_off = 0.0
        self.founding = 0.0
        self.grant_budget_local = 0.0
        self.prize_budget_local = 0.0
        self.grants_paid_local = 0.0
        self.prizes_paid_local = 0.0

    def apply_policy(self, year: int, foreign_share: float = 0.0) -> None:
        """Read this year's policy timeline and the shocks in force, and decide the restriction.

        Args:
            year: The calendar year.
            foreign_share: The foreign share of all NGO income last year (the model's
                output), what the State sees of the sector's dependence on donors.
        """
        p = self.policy
        self.burden = self.registration_burden(year)
        self.strike_off = p.strike_off_inactive.at(year)
        self.founding = p.state_founding.at(year)
        self.enforcement = p.reporting_enforcement.at(year)
        self.grant_budget_local = p.grant_budget_local.at(year)
        self.prize_budget_local = p.prize_budget_local.at(year)
        self.instability, self.purge_share = timeline.shocks_in_force(p, year)
        self.decide_restriction(year, foreign_share)
        self.grants_paid_local = 0.0
        self.prizes_paid_local = 0.0

    def decide_restriction(self, year: int, foreign_share: float) -> None:
        """Set this year's restriction on foreign funding.

        The threat the State feels (``decisions.perceived_threat``: the shocks in force, a
        neighbour's revolution this year, last year's threat remembered) times the foreign
        share of NGO income last year gives its reaction
        (``decisions.reactive_restriction``); the restriction in force is the stricter of
        the reaction and the documented laws (``foreign_funding_restriction``).
        """
        b = self.model.behaviour
        neighbour = timeline.neighbour_revolution(self.policy, year)
        self.threat = decisions.perceived_threat(
            self.instability,
            neighbour,
            self.threat,
            b["state_neighbour_threat"],
            b["state_threat_memory"],
        )
        self.reactive_restriction = decisions.reactive_restriction(
            foreign_share, self.threat, b["state_restriction_reaction"]
        )
        self.restriction = decisions.restriction_in_force(
            self.policy.foreign_funding_restriction.at(year), self.reactive_restriction
        )

    def registration_burden(self, year: int) -> float:
        """Return the share of founding that registration holds back in ``year`` (``timeline``)."""
        return timeline.registration_burden(self.policy, year, self.model.behaviour)

    def eligible(self, pool: ApplicantPool) -> ApplicantPool:
        """Return the applicants eligible for state money.

        Eligible are applicants that operated last year and, where the programme requires
        it, filed last year's report.
        """
        pop = self.model.population
        ok = pop.view("prev_operating").copy()
        if self.policy.grant_requires_report:
            ok &= pop.view("prev_reported")
        return pool.subset(ok)

    def award_grants(self, year: int, pool: ApplicantPool) -> None:
        """Award the state grant budget among eligible NGOs by capacity and priority sector."""
        model = self.model
        to_usd = model.to_usd
        budget = self.grant_budget_local * to_usd
        if budget <= 0:
            return
        eligible = self.eligible(pool)
        if eligible.rows.size == 0:
            return
        funder = Funder(
            budget,
            self.policy.grant_mean_local.at(year) * to_usd,
            model.behaviour["grant_cap_multiple"],
            self.priorities,
            "state_grant",
            year,
        )
        amounts = model.rules.award(eligible, funder, model.population.income_state)
        self.grants_paid_local = float(amounts.sum()) / to_usd

    def award_prizes(self, year: int, pool: ApplicantPool) -> None:
        """Award the prize budget in equal prizes to the highest-scoring eligible NGOs.

        Merit is the score times a keyed draw between 0.5 and 1.5 (``prize_merit``): chance
        can rank an NGO above one with up to three times its score, and the ranking is
        reproducible.
        """
        count = int(self.policy.prize_count.value)
        if self.prize_budget_local <= 0 or count <= 0:
            return
        eligible = self.eligible(pool)
        if eligible.rows.size == 0:
            return
        merit = self.prize_merit(year, eligible)
        winners = eligible.rows[np.argsort(-merit, kind="stable")[:count]]
        prize_local = self.prize_budget_local / count
        self.model.population.income_prize[winners] += prize_local * self.model.to_usd
        self.prizes_paid_local = prize_local * winners.size

    def prize_merit(self, year: int, eligible: ApplicantPool) -> np.ndarray:
        """Return each eligible NGO's merit for a prize: its score times a keyed draw."""
        noise = self.model.streams.uniform("prize", year, eligible.ids)
        return eligible.scores(self.priorities) * (0.5 + noise)
