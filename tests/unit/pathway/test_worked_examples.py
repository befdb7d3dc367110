"""Worked examples: given a person's path, when readiness is evaluated on a date, then this."""

from __future__ import annotations

import dataclasses
from datetime import date

from projections.pathway.readiness import (
    REQUIREMENT_KEYS,
    CourseCompletion,
    counted_days,
    evaluate,
    law_in_force,
    load_rules,
)
from tests.unit.pathway.builders import ALL_OTHER_MET, facts, met, period, reason, title

# --- temporary protection (§ 24 AufenthG) ------------------------------------------------------


def test_ukrainian_under_section_24_meets_the_period_but_not_the_title() -> None:
    """Given § 24 protection since 2022-03-15, when evaluated on 2027-04-01, then the residence
    period is met (five years on 2027-03-15) but § 24 is no qualifying title."""
    # given
    person = facts(title("§ 24 AufenthG", date(2022, 3, 15)), **ALL_OTHER_MET)
    # when
    result = evaluate(person, date(2027, 4, 1))
    # then
    assert result.law_version == "stag-2025"
    assert result.earliest_residence_date == date(2027, 3, 15)
    assert met(result, "residence_period") is True
    assert met(result, "qualifying_title") is False
    assert reason(result, "qualifying_title") == (
        "§ 24 AufenthG (temporary protection) does not qualify: change to another title first"
    )
    assert result.ready is False


def test_temporary_protection_ending_by_ordinance_never_reaches_five_years() -> None:
    """Given temporary protection 2022-03-15 to 2027-03-04 (end by ordinance), when evaluated
    on 2026-12-01, then five years cannot be reached with the periods known."""
    # given
    person = facts(period("temporary_protection", date(2022, 3, 15), date(2027, 3, 4)))
    # when
    result = evaluate(person, date(2026, 12, 1))
    # then
    assert result.earliest_residence_date is None
    assert met(result, "residence_period") is False
    assert "not reachable" in reason(result, "residence_period")
    assert "no ongoing counted period" in reason(result, "residence_period")
    assert reason(result, "qualifying_title").startswith("§ 24 AufenthG (temporary protection)")


def test_ukrainian_who_changed_to_a_skilled_worker_title_qualifies() -> None:
    """Given § 24 from 2022-03-15 then § 18a from 2026-06-01, when evaluated on 2027-04-01,
    then the § 24 time counts and § 18a qualifies: ready."""
    # given
    person = facts(
        period("temporary_protection", date(2022, 3, 15), date(2026, 5, 31)),
        title("§ 18a AufenthG", date(2026, 6, 1)),
        **ALL_OTHER_MET,
    )
    # when
    result = evaluate(person, date(2027, 4, 1))
    # then
    assert result.earliest_residence_date == date(2027, 3, 15)
    assert reason(result, "qualifying_title") == "§ 18a AufenthG qualifies"
    assert result.ready is True


# --- asylum: Aufenthaltsgestattung counts only after protection ----------------------------------

REFUGEE_PATH = (
    period("gestattung", date(2018, 10, 1), date(2019, 9, 30)),
    title("§ 25 Abs. 2 AufenthG", date(2019, 10, 1)),
)


def test_syrian_refugee_before_the_2024_reform_was_promulgated_knows_only_the_old_law() -> None:
    """Given Gestattung from 2018-10-01 and refugee status granted 2019-09-10, when evaluated on
    2024-03-01, before the StARModG was promulgated (BGBl. 2024 I Nr. 104 of 2024-03-26), then
    only stag-2000 is known: 8 years, met on 2026-10-01 (issue 11, item 14)."""
    # given
    person = facts(*REFUGEE_PATH, protection_granted_on=date(2019, 9, 10))
    # when
    result = evaluate(person, date(2024, 3, 1))
    # then
    assert result.law_version == "stag-2000"
    assert result.known_law_versions == ("stag-2000",)
    assert result.counted_residence_days == (date(2024, 3, 1) - date(2018, 10, 1)).days
    assert met(result, "residence_period") is False
    assert result.earliest_residence_date == date(2026, 10, 1)
    assert "met on 2026-10-01 if the periods known continue" in reason(result, "residence_period")
    assert "Aufenthaltsgestattung counted" in reason(result, "residence_period")
    assert met(result, "single_nationality") is None


def test_syrian_refugee_after_the_2024_reform_was_promulgated_waits_for_it() -> None:
    """Given the same path, when evaluated on 2024-04-01, after the promulgation on 2024-03-26
    but before the reform takes effect on 2024-06-27, then the period is met on 2024-06-27
    under stag-2024 (§ 10 Abs. 1 StAG as amended by the StARModG)."""
    # given
    person = facts(*REFUGEE_PATH, protection_granted_on=date(2019, 9, 10))
    # when
    result = evaluate(person, date(2024, 4, 1))
    # then
    assert result.law_version == "stag-2000"
    assert result.known_law_versions == ("stag-2000", "stag-2024")
    assert result.earliest_residence_date == date(2024, 6, 27)
    assert "met on 2024-06-27 under stag-2024" in reason(result, "residence_period")


def test_syrian_refugee_after_the_2024_reform_meets_the_period() -> None:
    """Given the same path, when evaluated on 2024-07-01, then five years are met since the
    reform took effect and multiple nationality is allowed."""
    # given
    person = facts(*REFUGEE_PATH, protection_granted_on=date(2019, 9, 10))
    # when
    result = evaluate(person, date(2024, 7, 1))
    # then
    assert result.law_version == "stag-2024"
    assert met(result, "residence_period") is True
    assert result.earliest_residence_date == date(2024, 6, 27)
    assert reason(result, "qualifying_title") == "§ 25 Abs. 2 AufenthG qualifies"
    assert met(result, "single_nationality") is True


def test_syrian_refugee_after_the_2025_amendment_still_meets_the_period() -> None:
    """Given the same path, when evaluated on 2025-11-01 (stag-2025, 5 years), then the period
    has been met without a break since 2024-06-27."""
    # given
    person = facts(*REFUGEE_PATH, protection_granted_on=date(2019, 9, 10))
    # when
    result = evaluate(person, date(2025, 11, 1))
    # then
    assert result.law_version == "stag-2025"
    assert met(result, "residence_period") is True
    assert result.earliest_residence_date == date(2024, 6, 27)
    assert result.counted_residence_days == (date(2025, 11, 1) - date(2018, 10, 1)).days


def test_gestattung_does_not_count_before_protection_is_granted() -> None:
    """Given an asylum seeker on a Gestattung since 2018-10-01 who is recognised on
    2019-09-10, when evaluated on 2019-06-01, then nothing counts yet and the Gestattung is no
    qualifying title; the projection counts the Gestattung once protection is granted, under
    the law known then (stag-2000)."""
    # given
    person = facts(*REFUGEE_PATH, protection_granted_on=date(2019, 9, 10))
    # when
    result = evaluate(person, date(2019, 6, 1))
    # then
    assert result.counted_residence_days == 0
    assert "not counted without protection granted" in reason(result, "residence_period")
    assert reason(result, "qualifying_title").startswith("Aufenthaltsgestattung (§ 55 AsylG)")
    # the grant is projected, but in 2019 only the old law (8 years) was known
    assert result.earliest_residence_date == date(2026, 10, 1)


def test_gestattung_without_protection_does_not_count() -> None:
    """Given the same path but no protection granted (e.g. a title on other grounds), when
    evaluated on 2024-07-01, then only the title from 2019-10-01 counts: met on 2024-10-01."""
    # given
    person = facts(*REFUGEE_PATH)
    # when
    result = evaluate(person, date(2024, 7, 1))
    # then
    assert result.counted_residence_days == (date(2024, 7, 1) - date(2019, 10, 1)).days
    assert met(result, "residence_period") is False
    assert result.earliest_residence_date == date(2024, 10, 1)
    assert "Aufenthaltsgestattung not counted" in reason(result, "residence_period")


def test_long_asylum_procedure_counts_in_full_once_protection_is_granted() -> None:
    """Given a Gestattung from 2022-01-01 through a court procedure, subsidiary protection
    granted on 2026-02-01 and § 25 Abs. 2 from 2026-03-01, when evaluated on 2026-01-15 and on
    2026-06-01, then the Gestattung counts only from the grant, but then from 2022-01-01."""
    # given
    person = facts(
        period("gestattung", date(2022, 1, 1), date(2026, 2, 28)),
        title("§ 25 Abs. 2 AufenthG", date(2026, 3, 1)),
        protection_granted_on=date(2026, 2, 1),
    )
    # when
    pending = evaluate(person, date(2026, 1, 15))
    granted = evaluate(person, date(2026, 6, 1))
    # then
    assert pending.counted_residence_days == 0
    assert met(pending, "qualifying_title") is False
    assert granted.counted_residence_days == (date(2026, 6, 1) - date(2022, 1, 1)).days
    assert granted.earliest_residence_date == pending.earliest_residence_date == date(2027, 1, 1)
    assert met(granted, "qualifying_title") is True


def test_rejected_asylum_seeker_with_duldung_then_section_25b() -> None:
    """Given Gestattung 2016-2017 (rejected), Duldung 2018 to 2022-05-31, then § 25b from
    2022-06-01, when evaluated on 2026-01-01, then only the § 25b time counts."""
    # given
    person = facts(
        period("gestattung", date(2016, 1, 10), date(2017, 12, 31)),
        period("duldung", date(2018, 1, 1), date(2022, 5, 31)),
        title("§ 25b AufenthG", date(2022, 6, 1)),
    )
    # when
    result = evaluate(person, date(2026, 1, 1))
    # then
    assert result.counted_residence_days == (date(2026, 1, 1) - date(2022, 6, 1)).days
    assert met(result, "residence_period") is False
    assert result.earliest_residence_date == date(2027, 6, 1)
    residence = reason(result, "residence_period")
    assert residence.startswith("3 years 7 months of 5 years counted (stag-2025)")
    assert "Duldung not counted" in residence
    assert "Aufenthaltsgestattung not counted" in residence
    assert met(result, "qualifying_title") is True


# --- EU citizens, skilled workers, students -------------------------------------------------------


def test_eu_citizen_under_free_movement_before_the_reform() -> None:
    """Given a Polish citizen under Freizügigkeit since 2019-05-01, when evaluated on
    2024-05-02 (stag-2000), then 8 years are not met yet, the reform brings it to 2024-06-27,
    and multiple nationality is allowed for EU citizens."""
    # given
    person = facts(period("eu_free_movement", date(2019, 5, 1)), eu_or_swiss_citizen=True)
    # when
    result = evaluate(person, date(2024, 5, 2))
    # then
    assert result.law_version == "stag-2000"
    assert met(result, "residence_period") is False
    assert result.earliest_residence_date == date(2024, 6, 27)
    assert met(result, "qualifying_title") is True
    assert met(result, "single_nationality") is True
    assert "EU or Swiss" in reason(result, "single_nationality")


def test_non_eu_citizen_under_the_2000_law_must_give_up_nationality_unless_excepted() -> None:
    """Given a third-country national, when evaluated under stag-2000, then single nationality
    is not known from the facts (exceptions of § 12 StAG)."""
    # given
    person = facts(title("§ 25 Abs. 1 AufenthG", date(2010, 1, 1)), **ALL_OTHER_MET)
    # when
    result = evaluate(person, date(2020, 1, 1))
    # then
    assert met(result, "residence_period") is True
    assert met(result, "single_nationality") is None
    assert result.ready is False


def test_skilled_worker_with_settlement_permit_is_ready() -> None:
    """Given § 18b from 2019-02-01 then a settlement permit § 18c from 2022-02-01 and all other
    requirements met, when evaluated on 2025-03-01, then ready (period met since 2024-06-27)."""
    # given
    person = facts(
        title("§ 18b AufenthG", date(2019, 2, 1), date(2022, 1, 31)),
        period("settlement_permit", date(2022, 2, 1), paragraph="§ 18c AufenthG"),
        **ALL_OTHER_MET,
    )
    # when
    result = evaluate(person, date(2025, 3, 1))
    # then
    assert result.ready is True
    assert all(requirement.met is True for requirement in result.requirements)
    assert [requirement.key for requirement in result.requirements] == list(REQUIREMENT_KEYS)
    assert result.earliest_residence_date == date(2024, 6, 27)
    assert reason(result, "qualifying_title") == (
        "settlement permit (Niederlassungserlaubnis) under § 18c AufenthG qualifies"
    )


def test_student_title_counts_but_does_not_qualify_as_the_current_title() -> None:
    """Given § 16b study from 2019-10-01, when evaluated on 2025-02-01 while still studying,
    then the period is met (since 2024-10-01) but § 16b does not qualify."""
    # given
    person = facts(
        title("§ 16b Abs. 1 AufenthG", date(2019, 10, 1), date(2025, 3, 31)),
        title("§ 18b AufenthG", date(2025, 4, 1)),
    )
    # when
    result = evaluate(person, date(2025, 2, 1))
    # then
    assert met(result, "residence_period") is True
    assert result.earliest_residence_date == date(2024, 10, 1)
    assert met(result, "qualifying_title") is False
    assert reason(result, "qualifying_title") == (
        "§ 16b Abs. 1 AufenthG (study) does not qualify: change to another title first"
    )


def test_former_student_with_section_18b_qualifies() -> None:
    """Given the same path, when evaluated on 2025-05-01 after the change to § 18b, then the
    title qualifies and the study time still counts."""
    # given
    person = facts(
        title("§ 16b Abs. 1 AufenthG", date(2019, 10, 1), date(2025, 3, 31)),
        title("§ 18b AufenthG", date(2025, 4, 1)),
    )
    # when
    result = evaluate(person, date(2025, 5, 1))
    # then
    assert met(result, "qualifying_title") is True
    assert met(result, "residence_period") is True
    assert result.counted_residence_days == (date(2025, 5, 1) - date(2019, 10, 1)).days


# --- reduced periods ------------------------------------------------------------------------------

BLUE_CARD = title("§ 18g AufenthG", date(2021, 9, 1))


def test_fast_track_with_c1_under_the_2024_law_is_the_authoritys_decision() -> None:
    """Given a Blue Card since 2021-09-01 and German at C1, when evaluated on 2025-01-15
    (stag-2024), then the 3-year fast track would apply, but § 10 Abs. 3 StAG 2024 says the
    authority "kann" shorten the period: decision of the authority needed, five years (met on
    2026-09-01) otherwise."""
    # given
    person = facts(BLUE_CARD, language_level="C1")
    # when
    result = evaluate(person, date(2025, 1, 15))
    # then
    assert result.law_version == "stag-2024"
    residence = result.requirement("residence_period")
    assert residence.met is None
    assert residence.decision_needed is True
    assert residence.state == "decision_needed"
    assert residence.code == "decision_reduction"
    assert result.earliest_residence_date == date(2026, 9, 1)
    assert "decision of the authority needed; otherwise met on 2026-09-01" in residence.reason
    assert "fast track" in residence.reason
    assert "Entscheidung der Behörde nötig" in residence.reason_de
    assert result.ready is False


def test_fast_track_repealed_in_2025_back_to_five_years() -> None:
    """Given the same facts, when evaluated on 2025-11-15 (stag-2025), then the fast track is
    gone: five years are needed, met on 2026-09-01."""
    # given
    person = facts(BLUE_CARD, language_level="C1")
    # when
    result = evaluate(person, date(2025, 11, 15))
    # then
    assert result.law_version == "stag-2025"
    assert met(result, "residence_period") is False
    assert result.earliest_residence_date == date(2026, 9, 1)
    assert reason(result, "residence_period").startswith("4 years 2 months of 5 years counted")


def test_no_fast_track_with_b2_only() -> None:
    """Given the same Blue Card but German at B2, when evaluated on 2025-01-15, then five
    years apply even under stag-2024."""
    # given
    person = facts(BLUE_CARD, language_level="B2")
    # when
    result = evaluate(person, date(2025, 1, 15))
    # then
    assert met(result, "residence_period") is False
    assert result.earliest_residence_date == date(2026, 9, 1)


FAMILY = title("§ 28 Abs. 1 AufenthG", date(2015, 4, 1))


def test_2000_law_seven_years_with_integration_course() -> None:
    """Given a spouse under § 28 since 2015-04-01 who completed the integration course on
    2016-03-01 with B1 and the final test, when evaluated on 2022-06-01 (stag-2000), then 7
    years are met since 2022-04-01 (§ 10 Abs. 3 Satz 1 StAG a.F.); without the course 8 years
    apply (2023-04-01); B2 alone makes six years possible only at the authority's discretion
    (§ 10 Abs. 3 Satz 2 StAG a.F., "kann")."""
    # given
    with_course = facts(
        FAMILY, integration_courses=[CourseCompletion("B1", date(2016, 3, 1), True)]
    )
    without_course = facts(FAMILY, language_level="B1")
    with_b2 = facts(FAMILY, language_level="B2")
    # when
    on = date(2022, 6, 1)
    results = [evaluate(person, on) for person in (with_course, without_course, with_b2)]
    # then
    assert [r.earliest_residence_date for r in results] == [
        date(2022, 4, 1),
        date(2023, 4, 1),
        date(2023, 4, 1),
    ]
    assert [met(r, "residence_period") for r in results] == [True, False, None]
    assert "successful integration course" in reason(results[0], "residence_period")
    assert results[2].requirement("residence_period").decision_needed is True


def test_2000_law_reduction_applies_only_from_course_completion() -> None:
    """Given the same spouse completing the course only on 2022-08-01, when evaluated on
    2022-06-01, then the period is met on 2022-08-01, not on 2022-04-01."""
    # given
    person = facts(FAMILY, integration_courses=[CourseCompletion("B1", date(2022, 8, 1), True)])
    # when
    result = evaluate(person, date(2022, 6, 1))
    # then
    assert met(result, "residence_period") is False
    assert result.earliest_residence_date == date(2022, 8, 1)


# --- departure, dates, overlaps ---------------------------------------------------------------


def test_departed_person_fails_the_residence_requirements() -> None:
    """Given a skilled worker from 2015 with a settlement permit who left on 2023-01-01, when
    evaluated on 2024-08-01, then residence and title fail as departed."""
    # given
    person = facts(
        title("§ 18b AufenthG", date(2015, 1, 1), date(2019, 12, 31)),
        period("settlement_permit", date(2020, 1, 1)),
        departed_on=date(2023, 1, 1),
        **ALL_OTHER_MET,
    )
    # when
    result = evaluate(person, date(2024, 8, 1))
    # then
    assert met(result, "residence_period") is False
    assert reason(result, "residence_period").startswith("departed")
    assert met(result, "qualifying_title") is False
    assert reason(result, "qualifying_title").startswith("departed")
    assert result.earliest_residence_date is None
    assert result.counted_residence_days == (date(2023, 1, 1) - date(2015, 1, 1)).days
    assert result.ready is False


def test_departure_on_the_day_eight_years_would_be_complete() -> None:
    """Given the same person evaluated on 2022-12-01 (stag-2000, 8 years on 2023-01-01), when
    the departure on 2023-01-01 is known, then the period is never reached."""
    # given
    person = facts(
        title("§ 18b AufenthG", date(2015, 1, 1), date(2019, 12, 31)),
        period("settlement_permit", date(2020, 1, 1)),
        departed_on=date(2023, 1, 1),
    )
    # when
    result = evaluate(person, date(2022, 12, 1))
    # then
    assert result.earliest_residence_date is None
    assert met(result, "residence_period") is False
    assert "departure on 2023-01-01" in reason(result, "residence_period")
    assert met(result, "qualifying_title") is True


def test_evaluation_before_arrival() -> None:
    """Given a visa from 2026-03-01 then § 18a, when evaluated on 2026-01-01, then nothing is
    counted, there is no status yet, and five years are reached on 2031-03-01."""
    # given
    person = facts(
        period("visa", date(2026, 3, 1), date(2026, 5, 31), "§ 6 Abs. 3 AufenthG"),
        title("§ 18a AufenthG", date(2026, 6, 1)),
    )
    # when
    result = evaluate(person, date(2026, 1, 1))
    # then
    assert result.counted_residence_days == 0
    assert reason(result, "residence_period").startswith("0 days of 5 years counted")
    assert met(result, "qualifying_title") is False
    assert reason(result, "qualifying_title") == "no residence status recorded on 2026-01-01"
    assert result.earliest_residence_date == date(2031, 3, 1)


def test_overlapping_periods_count_once() -> None:
    """Given § 18b 2018-2020, a Fiktionsbescheinigung 2020-10-01 to 2021-02-28 and a
    settlement permit from 2021-01-01, when counting to 2023-01-01, then each day counts once."""
    # given
    person = facts(
        title("§ 18b AufenthG", date(2018, 1, 1), date(2020, 12, 31)),
        period("fiktion", date(2020, 10, 1), date(2021, 2, 28)),
        period("settlement_permit", date(2021, 1, 1)),
    )
    # when
    days = counted_days(person, date(2023, 1, 1), law_in_force(date(2023, 1, 1)))
    result = evaluate(person, date(2024, 6, 27))
    # then
    assert days == (date(2023, 1, 1) - date(2018, 1, 1)).days == 1826
    assert result.earliest_residence_date == date(2024, 6, 27)


BRIDGED = (
    title("§ 18b AufenthG", date(2020, 3, 1), date(2023, 2, 28)),
    period("fiktion", date(2023, 3, 1), date(2023, 6, 30), "§ 81 Abs. 4 AufenthG"),
    title("§ 18b AufenthG", date(2023, 7, 1)),
)


def test_fiktionsbescheinigung_bridges_two_titles() -> None:
    """Given § 18b, a Fiktionsbescheinigung while the extension was pending, then § 18b again,
    when evaluated on 2025-04-01, then the residence is continuous: met since 2025-03-01;
    without the Fiktion the four-month gap breaks the residence (§ 10 Abs. 1 StAG: unbroken),
    which starts again on 2023-07-01: met on 2028-07-01."""
    # given
    bridged = facts(*BRIDGED)
    gap = facts(BRIDGED[0], BRIDGED[2])
    # when
    with_fiktion = evaluate(bridged, date(2025, 4, 1))
    without_fiktion = evaluate(gap, date(2025, 4, 1))
    # then
    assert with_fiktion.earliest_residence_date == date(2025, 3, 1)
    assert met(with_fiktion, "residence_period") is True
    assert without_fiktion.earliest_residence_date == date(2028, 7, 1)
    assert "interrupted from 2023-03-01 to 2023-06-30" in reason(
        without_fiktion, "residence_period"
    )
    assert met(without_fiktion, "residence_period") is False


def test_fiktionsbescheinigung_is_not_a_qualifying_current_title() -> None:
    """Given the bridged path, when evaluated on 2023-04-01 during the Fiktion, then the
    current status does not qualify."""
    # given
    person = facts(*BRIDGED)
    # when
    result = evaluate(person, date(2023, 4, 1))
    # then
    assert met(result, "qualifying_title") is False
    assert reason(result, "qualifying_title").startswith("Fiktionsbescheinigung (§ 81 AufenthG)")


def test_calendar_years_from_a_leap_day() -> None:
    """Given a title from 2020-02-29, when evaluated on 2025-02-28 and 2025-03-01, then five
    years are complete on 2025-03-01 (§ 188 Abs. 3 BGB)."""
    # given
    person = facts(title("§ 18b AufenthG", date(2020, 2, 29)))
    # when
    before = evaluate(person, date(2025, 2, 28))
    on = evaluate(person, date(2025, 3, 1))
    # then
    assert before.earliest_residence_date == on.earliest_residence_date == date(2025, 3, 1)
    assert met(before, "residence_period") is False
    assert met(on, "residence_period") is True


def test_five_calendar_years_from_new_year() -> None:
    """Given a title from 2020-01-01, when evaluated on 2025-01-01, then 1827 days (five
    calendar years with two leap days) are counted and the period is met that day."""
    # given
    person = facts(title("§ 18b AufenthG", date(2020, 1, 1)))
    # when
    result = evaluate(person, date(2025, 1, 1))
    # then
    assert result.counted_residence_days == 1827
    assert result.earliest_residence_date == date(2025, 1, 1)
    assert reason(result, "residence_period") == (
        "5 years of 5 years counted (stag-2024); met since 2025-01-01"
    )


# --- the other requirements -----------------------------------------------------------------------


def test_other_requirements_come_from_the_facts() -> None:
    """Given A2 German, a naturalisation test only after the evaluation date, livelihood from
    SGB II and unknown conviction and commitment, when evaluated, then each is reported (the
    later test is not known yet)."""
    # given
    person = facts(
        period("settlement_permit", date(2010, 1, 1)),
        language_level="A2",
        naturalisation_test_passed_on=date(2026, 2, 1),
        livelihood_secured=False,
    )
    # when
    result = evaluate(person, date(2026, 1, 15))
    # then
    assert met(result, "language") is False
    assert reason(result, "language") == "German at A2; B1 required"
    assert met(result, "naturalisation_test") is False
    assert reason(result, "naturalisation_test").startswith("no passed naturalisation test known")
    assert "2026" not in reason(result, "naturalisation_test")
    assert met(result, "livelihood") is False
    assert met(result, "no_conviction") is None
    assert met(result, "commitment") is None
    assert result.ready is False


def test_unknown_language_and_missing_test() -> None:
    """Given no language certificate and no naturalisation test, when evaluated, then language
    is unknown and the test is not met."""
    # given
    person = facts(period("settlement_permit", date(2010, 1, 1)))
    # when
    result = evaluate(person, date(2026, 1, 15))
    # then
    assert met(result, "language") is None
    assert met(result, "naturalisation_test") is False
    assert "Leben in Deutschland" in reason(result, "naturalisation_test")


def test_new_law_version_is_data_only() -> None:
    """Given a hypothetical 4-year version from 2030-01-01 appended to the rules data, when a
    person with a title since 2026-03-01 is evaluated on 2030-06-01, then it applies."""
    # given
    current = load_rules()
    future = dataclasses.replace(
        current[-1], id="stag-2030", valid_from=date(2030, 1, 1), residence_years=4
    )
    rules = (
        *current[:-1],
        dataclasses.replace(current[-1], valid_until=date(2029, 12, 31)),
        future,
    )
    person = facts(title("§ 18b AufenthG", date(2026, 3, 1)))
    # when
    with_future = evaluate(person, date(2030, 6, 1), rules)
    today = evaluate(person, date(2030, 6, 1))
    # then
    assert with_future.law_version == "stag-2030"
    assert with_future.earliest_residence_date == date(2030, 3, 1)
    assert today.earliest_residence_date == date(2031, 3, 1)
