"""Reports, strike-offs and any activity at the year's end, on small hand-made populations."""

from __future__ import annotations

import numpy as np
from test_rules import STREAMS, YEAR, binomial_ok

from model import population as rules
from model.population import DEREGISTERED, DORMANT, OPERATING

# Reports and deregistration -------------------------------------------------------------


def test_state_grantees_always_report_and_paper_ngos_never(make_population):
    # An operating, an operating, a dormant active, a dormant paper and a struck-off NGO.
    pop = make_population(
        5,
        status=[OPERATING, OPERATING, DORMANT, DORMANT, DEREGISTERED],
        active=[True, True, True, False, False],
    )
    must = np.array([True, False, True, True, True])
    rules.file_reports(
        pop, YEAR, STREAMS, report_prob=0.0, habit=0.0, unfunded=1.0, must_report=must
    )
    np.testing.assert_array_equal(pop.view("reported"), [True, False, False, False, False])
    rules.file_reports(
        pop, YEAR, STREAMS, report_prob=1.0, habit=0.0, unfunded=1.0, must_report=np.zeros(5, bool)
    )
    np.testing.assert_array_equal(pop.view("reported"), [True, True, True, False, False])
    rules.file_reports(
        pop, YEAR, STREAMS, report_prob=1.0, habit=1.0, unfunded=0.0, must_report=np.zeros(5, bool)
    )
    np.testing.assert_array_equal(pop.view("reported"), [True, True, False, False, False])


def test_operating_ngos_report_at_the_report_probability(make_population):
    n = 20_000
    pop = make_population(n, active=True)
    rules.file_reports(
        pop, YEAR, STREAMS, report_prob=0.4, habit=0.9, unfunded=0.0, must_report=np.zeros(n, bool)
    )
    assert binomial_ok(int(pop.view("reported").sum()), n, 0.4)


def test_active_ngos_without_programmes_report_at_the_unfunded_share(make_population):
    # Half operate, half are active without programmes; half of each filed last year.
    n = 40_000
    idle = np.arange(n) % 2 == 1
    routine = np.arange(n) % 4 >= 2
    pop = make_population(n, status=np.where(idle, DORMANT, OPERATING), active=True)
    pop.view("prev_reported")[:] = routine
    rules.file_reports(
        pop, YEAR, STREAMS, report_prob=0.4, habit=0.5, unfunded=0.25, must_report=np.zeros(n, bool)
    )
    reported = pop.view("reported")
    keep = 1 - 0.6 * 0.5
    assert binomial_ok(int(reported[~idle & ~routine].sum()), n // 4, 0.4)
    assert binomial_ok(int(reported[~idle & routine].sum()), n // 4, keep)
    assert binomial_ok(int(reported[idle & ~routine].sum()), n // 4, 0.4 * 0.25)
    assert binomial_ok(int(reported[idle & routine].sum()), n // 4, keep * 0.25)


def test_ngos_that_filed_last_year_file_again_more_often(make_population):
    n = 20_000
    pop = make_population(n, active=True)
    routine = np.arange(n) % 2 == 0
    pop.view("prev_reported")[:] = routine
    rules.file_reports(
        pop, YEAR, STREAMS, report_prob=0.4, habit=0.5, unfunded=0.0, must_report=np.zeros(n, bool)
    )
    reported = pop.view("reported")
    assert binomial_ok(int(reported[~routine].sum()), n // 2, 0.4)
    assert binomial_ok(int(reported[routine].sum()), n // 2, 1 - 0.6 * 0.5)


def test_a_stronger_habit_never_stops_an_ngo_from_filing(make_population):
    n = 5_000
    filed = {}
    for habit in (0.2, 0.7):
        idle = np.arange(n) % 5 == 0
        pop = make_population(n, status=np.where(idle, DORMANT, OPERATING), active=True)
        pop.view("prev_reported")[:] = np.arange(n) % 3 != 0
        rules.file_reports(
            pop,
            YEAR,
            STREAMS,
            report_prob=0.3,
            habit=habit,
            unfunded=0.5,
            must_report=np.zeros(n, bool),
        )
        filed[habit] = pop.view("reported").copy()
    assert np.all(filed[0.7] >= filed[0.2])
    assert filed[0.7].sum() > filed[0.2].sum()


def test_full_habit_keeps_every_operating_filer_filing(make_population):
    pop = make_population(3, status=[OPERATING, OPERATING, DORMANT], active=[True, True, False])
    pop.view("prev_reported")[:] = True
    rules.file_reports(
        pop, YEAR, STREAMS, report_prob=0.0, habit=1.0, unfunded=1.0, must_report=np.zeros(3, bool)
    )
    np.testing.assert_array_equal(pop.view("reported"), [True, True, False])


def test_only_registered_ngos_without_activity_are_struck_off(make_population):
    status = [OPERATING, DORMANT, DEREGISTERED, DORMANT]
    pop = make_population(4, status=status, active=[True, True, False, False])
    struck = rules.deregister(pop, YEAR, STREAMS, rate=1.0)
    np.testing.assert_array_equal(struck, [False, False, False, True])
    np.testing.assert_array_equal(
        pop.view("status"), [OPERATING, DORMANT, DEREGISTERED, DEREGISTERED]
    )
    kept = make_population(2, status=DORMANT, active=False)
    assert not rules.deregister(kept, YEAR, STREAMS, rate=0.0).any()


def test_idle_ngos_are_struck_off_at_about_the_rate(make_population):
    n = 50_000
    pop = make_population(n, status=DORMANT, active=False)
    struck = rules.deregister(pop, YEAR, STREAMS, rate=0.02)
    assert binomial_ok(int(struck.sum()), n, 0.02)
    assert int((pop.view("status") == DEREGISTERED).sum()) == int(struck.sum())


# Any activity ---------------------------------------------------------------------------


def test_funded_new_and_earning_ngos_are_active_and_stopped_ones_stay_stopped(make_population):
    #         funded  new    earns  carried idle   struck  retired
    status = [OPERATING, DORMANT, DORMANT, DORMANT, DORMANT, DEREGISTERED, DORMANT]
    founded = [YEAR - 3, YEAR, YEAR - 3, YEAR - 3, YEAR - 3, YEAR - 3, YEAR - 3]
    prev_active = [True, False, False, True, False, True, True]
    retired = [False, False, False, False, False, False, True]
    pop = make_population(
        7, status=status, founded=founded, prev_active=prev_active, retired=retired
    )
    pop.view("income_domestic")[2] = 10.0
    rules.update_engagement(pop, YEAR, STREAMS, volunteer_persistence=1.0)
    np.testing.assert_array_equal(pop.view("active"), [1, 1, 1, 1, 0, 0, 0])
    rules.update_engagement(pop, YEAR, STREAMS, volunteer_persistence=0.0)
    np.testing.assert_array_equal(pop.view("active"), [1, 1, 1, 0, 0, 0, 0])


def test_active_ngos_keep_going_on_volunteers_at_the_persistence_rate(make_population):
    n = 20_000
    pop = make_population(n, status=DORMANT, founded=YEAR - 3, prev_active=True)
    rules.update_engagement(pop, YEAR, STREAMS, volunteer_persistence=0.4)
    kept = pop.view("active").copy()
    assert binomial_ok(int(kept.sum()), n, 0.4)
    rules.update_engagement(pop, YEAR, STREAMS, volunteer_persistence=0.7)
    assert np.all(pop.view("active")[kept])


def test_start_year_carries_activity_and_reports_and_clears_income(make_population):
    pop = make_population(
        2,
        status=[OPERATING, DORMANT],
        reported=[True, False],
        income_foreign=5.0,
        income_state=5.0,
        income_domestic=5.0,
        income_prize=5.0,
        reserves=7.0,
    )
    pop.start_year()
    np.testing.assert_array_equal(pop.view("prev_operating"), [True, False])
    np.testing.assert_array_equal(pop.view("prev_active"), [True, True])
    np.testing.assert_array_equal(pop.view("prev_reported"), [True, False])
    assert not pop.view("reported").any()
    np.testing.assert_array_equal(pop.total_income(), [0.0, 0.0])
    np.testing.assert_array_equal(pop.view("reserves"), [7.0, 7.0])
