"""Worked examples: given a person's path, when readiness is evaluated on a date, then this."""

from __future__ import annotations

import dataclasses
from datetime import date

from projections.pathway.readiness import (
    REQUIREMENT_KEYS,
    Assessment,
    CourseCompletion,
    KnowledgeTest,
    LanguageCertificate,
    NationalityFact,
    StayAbroad,
    TitleApplication,
    Waiver,
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


# --- issue 11, item 5: every fact counts only from its date ------------------------------------


def test_a_certificate_counts_only_from_the_day_it_was_issued() -> None:
    """Given a settlement permit since 2015 and a C1 certificate issued 2025-09-01 (nothing
    else about German), when evaluated on 2024-08-01, then no language certificate is known
    yet (§ 10 Abs. 1 Satz 1 Nr. 6 StAG needs the proof) and the person is not ready; on
    2025-10-01 German at C1 is proven since 2025-09-01."""
    # given
    person = facts(
        period("settlement_permit", date(2015, 1, 1)),
        language_certificates=[LanguageCertificate("C1", date(2025, 9, 1))],
        **{**ALL_OTHER_MET, "language_level": None},
    )
    # when
    before = evaluate(person, date(2024, 8, 1))
    after = evaluate(person, date(2025, 10, 1))
    # then
    assert met(before, "language") is None
    assert before.ready is False
    assert met(after, "language") is True
    assert reason(after, "language") == "German at C1, proven on 2025-09-01 (B1 required)"
    assert after.requirement("language").reason_de.startswith("Deutsch auf Niveau C1")
    assert after.ready is True


def test_assessments_count_from_their_date_and_the_latest_one_decides() -> None:
    """Given livelihood assessed as secured on 2025-03-01 by the authority and as not secured on
    2025-09-01, when evaluated on 2025-01-01, 2025-06-01 and 2025-10-01, then unknown, met and
    not met; each reason says when and by whom (a role code) it was assessed (§ 10 Abs. 1
    Satz 1 Nr. 3 StAG; the assessment is the authority's, issue 11 item 9)."""
    # given
    person = facts(
        period("settlement_permit", date(2015, 1, 1)),
        assessments=[
            Assessment("livelihood", "met", date(2025, 3, 1), "abh_officer"),
            Assessment("livelihood", "not_met", date(2025, 9, 1), "abh_officer"),
            Assessment("commitment", "met", date(2025, 3, 1), "case_manager"),
        ],
    )
    # when
    results = [evaluate(person, date(*d)) for d in ((2025, 1, 1), (2025, 6, 1), (2025, 10, 1))]
    # then
    assert [met(r, "livelihood") for r in results] == [None, True, False]
    assert reason(results[1], "livelihood") == (
        "livelihood secured without SGB II / SGB XII (assessed on 2025-03-01 by abh_officer)"
    )
    assert (
        "geprüft am 2025-09-01 durch abh_officer" in results[2].requirement("livelihood").reason_de
    )
    assert "by case_manager" in reason(results[1], "commitment")
    assert met(results[0], "commitment") is None


# --- issue 11, item 2: breaks in lawful residence are not bridged ------------------------------


def test_a_duldung_between_two_titles_breaks_the_residence() -> None:
    """Given § 18b for three years, then three years of Duldung, then § 25b, when evaluated on
    2026-01-01, then only the § 25b time counts: § 10 Abs. 1 Satz 1 StAG requires five years of
    uninterrupted lawful habitual residence, and a Duldung is no lawful residence (§ 60a
    Abs. 3 AufenthG; VAH-StAG 10.1.1); the § 12b StAG exceptions do not apply."""
    # given
    person = facts(
        title("§ 18b AufenthG", date(2016, 1, 1), date(2018, 12, 31)),
        period("duldung", date(2019, 1, 1), date(2021, 12, 31)),
        title("§ 25b AufenthG", date(2022, 1, 1)),
        title_applications=[TitleApplication(date(2021, 10, 1), "§ 25b AufenthG")],
    )
    # when
    result = evaluate(person, date(2026, 1, 1))
    # then
    assert result.counted_residence_days == (date(2026, 1, 1) - date(2022, 1, 1)).days
    assert result.earliest_residence_date == date(2027, 1, 1)
    assert met(result, "residence_period") is False
    residence = reason(result, "residence_period")
    assert residence.startswith("4 years of 5 years counted (stag-2025)")
    assert "interrupted from 2019-01-01 to 2021-12-31" in residence
    assert "Duldung not counted" in residence
    assert (
        "unterbrochen vom 2019-01-01 bis 2021-12-31"
        in result.requirement("residence_period").reason_de
    )


RENEWAL_GAP = (
    title("§ 18b AufenthG", date(2021, 1, 1), date(2023, 12, 31)),
    title("§ 18b AufenthG", date(2024, 3, 1)),
)


def test_a_late_renewal_does_not_interrupt_but_the_gap_is_not_counted() -> None:
    """Given § 18b until 2023-12-31, a renewal applied for late on 2024-02-01 and granted from
    2024-03-01, when evaluated on 2025-06-01, then the gap is disregarded (§ 12b Abs. 3 StAG)
    but its 60 days do not count: met on 2026-03-02 instead of 2026-01-01; without the
    application the residence starts again on 2024-03-01 (met on 2029-03-01)."""
    # given
    late = facts(*RENEWAL_GAP, title_applications=[TitleApplication(date(2024, 2, 1))])
    unexplained = facts(*RENEWAL_GAP)
    # when
    with_application = evaluate(late, date(2025, 6, 1))
    without = evaluate(unexplained, date(2025, 6, 1))
    # then
    assert with_application.earliest_residence_date == date(2026, 3, 2)
    assert "late application (§ 12b Abs. 3 StAG)" in reason(with_application, "residence_period")
    assert (
        with_application.counted_residence_days
        == ((date(2024, 1, 1) - date(2021, 1, 1)) + (date(2025, 6, 1) - date(2024, 3, 1))).days
    )
    assert without.earliest_residence_date == date(2029, 3, 1)


def test_a_timely_renewal_continues_the_title_and_the_gap_counts() -> None:
    """Given the same titles and the renewal applied for on 2023-12-01 while the title was
    still valid, when evaluated on 2026-02-01, then the old title is deemed to continue until
    the decision (§ 81 Abs. 4 Satz 1 AufenthG): the gap counts, met since 2026-01-01."""
    # given
    person = facts(*RENEWAL_GAP, title_applications=[TitleApplication(date(2023, 12, 1))])
    # when
    result = evaluate(person, date(2026, 2, 1))
    # then
    assert met(result, "residence_period") is True
    assert result.earliest_residence_date == date(2026, 1, 1)
    assert (
        "2024-01-01 to 2024-02-29 counted: applied in time on 2023-12-01, the title"
        " (§ 18b AufenthG) continued until the decision (§ 81 Abs. 4 AufenthG)"
    ) in reason(result, "residence_period")


def test_a_duldung_in_the_gap_is_no_late_renewal() -> None:
    """Given the late application but a Duldung in the gap, when evaluated, then the gap is a
    break, not a late renewal (§ 12b Abs. 3 StAG covers only the late application itself)."""
    # given
    person = facts(
        *RENEWAL_GAP,
        period("duldung", date(2024, 1, 15), date(2024, 2, 29)),
        title_applications=[TitleApplication(date(2024, 2, 1))],
    )
    # when
    result = evaluate(person, date(2025, 6, 1))
    # then
    assert result.earliest_residence_date == date(2029, 3, 1)


# --- issue 11, item 3: stays abroad (§ 12b Abs. 1 and 2 StAG) ----------------------------------

SETTLED = period("settlement_permit", date(2020, 1, 1), paragraph="§ 9 AufenthG")


def test_a_stay_abroad_of_up_to_six_months_does_not_interrupt() -> None:
    """Given a settlement permit since 2020-01-01 and a stay abroad from 2022-03-01 to
    2022-08-15, when evaluated on 2025-02-01, then the habitual residence was not interrupted
    and the days abroad count (§ 12b Abs. 1 Satz 1 StAG): met since 2025-01-01."""
    # given
    person = facts(SETTLED, stays_abroad=[StayAbroad(date(2022, 3, 1), date(2022, 8, 15))])
    # when
    result = evaluate(person, date(2025, 2, 1))
    # then
    assert met(result, "residence_period") is True
    assert result.earliest_residence_date == date(2025, 1, 1)
    assert "does not interrupt (§ 12b Abs. 1 StAG)" in reason(result, "residence_period")


def test_a_longer_stay_within_the_period_the_authority_set_does_not_interrupt() -> None:
    """Given a stay abroad from 2022-03-01 to 2023-01-15 and a return period set by the
    authority until 2023-02-28 (§ 51 Abs. 1 Nr. 7 AufenthG), when evaluated on 2025-02-01, then
    it does not interrupt either (§ 12b Abs. 1 Satz 2 StAG)."""
    # given
    stay = StayAbroad(date(2022, 3, 1), date(2023, 1, 15), authority_set_until=date(2023, 2, 28))
    person = facts(SETTLED, stays_abroad=[stay])
    # when
    result = evaluate(person, date(2025, 2, 1))
    # then
    assert met(result, "residence_period") is True
    assert result.earliest_residence_date == date(2025, 1, 1)


LONG_STAY = StayAbroad(date(2022, 3, 1), date(2023, 3, 1))


def test_a_long_stay_abroad_interrupts_and_crediting_is_the_authoritys_decision() -> None:
    """Given a stay abroad of a year (2022-03-01 to 2023-03-01) without a period set, when
    evaluated on 2026-06-01, then the residence starts again on return (§ 12b Abs. 1 StAG);
    the 3 years 3 months since do not reach five, but with the two years before the stay
    credited (up to five years, § 12b Abs. 2 StAG, "kann") they would: the engine does not
    guess but reports a decision of the authority; without crediting met on 2028-03-01."""
    # given
    person = facts(SETTLED, stays_abroad=[LONG_STAY], **ALL_OTHER_MET)
    # when
    result = evaluate(person, date(2026, 6, 1))
    # then
    residence = result.requirement("residence_period")
    assert residence.met is None
    assert residence.decision_needed is True
    assert residence.code == "decision_12b2"
    assert "decision of the authority needed (§ 12b Abs. 2 StAG)" in residence.reason
    assert "interrupts the residence (§ 12b Abs. 1 StAG): counted from 2023-03-01" in (
        residence.reason
    )
    assert "Entscheidung der Behörde nötig (§ 12b Abs. 2 StAG)" in residence.reason_de
    assert result.counted_residence_days == (date(2026, 6, 1) - date(2023, 3, 1)).days
    assert result.earliest_residence_date == date(2028, 3, 1)
    assert result.ready is False


def test_a_long_stay_abroad_without_enough_earlier_time_is_simply_not_met() -> None:
    """Given the same stay, when evaluated on 2024-01-01, then even five credited years would
    not reach the period (2 years 2 months before plus 10 months after): not met, no decision
    needed."""
    # given
    person = facts(SETTLED, stays_abroad=[LONG_STAY])
    # when
    result = evaluate(person, date(2024, 1, 1))
    # then
    assert met(result, "residence_period") is False
    assert result.requirement("residence_period").decision_needed is False


def test_an_open_stay_abroad_interrupts_only_once_six_months_have_passed() -> None:
    """Given a settlement permit since 2015 and a stay abroad from 2025-01-10 with no return
    known, when evaluated on 2025-05-01 and on 2025-08-01, then first the residence goes on
    (§ 12b Abs. 1 Satz 1 StAG), then it is interrupted since the six months passed."""
    # given
    person = facts(
        period("settlement_permit", date(2015, 1, 1)),
        stays_abroad=[StayAbroad(date(2025, 1, 10))],
    )
    # when
    within = evaluate(person, date(2025, 5, 1))
    beyond = evaluate(person, date(2025, 8, 1))
    # then
    assert met(within, "residence_period") is True
    assert met(beyond, "residence_period") is False
    assert "abroad since 2025-01-10 longer than allowed" in reason(beyond, "residence_period")
    assert beyond.earliest_residence_date is None


# --- issue 11, item 4: the Fiktionsbescheinigung (§ 81 Abs. 4 AufenthG) -------------------------

LATE_CERTIFICATE = (
    title("§ 18b AufenthG", date(2020, 3, 1), date(2023, 2, 28)),
    period("fiktion", date(2023, 4, 15), date(2023, 9, 30), "§ 81 Abs. 4 AufenthG"),
    title("§ 18b AufenthG", date(2023, 10, 1)),
)


def test_a_continuing_fiction_bridges_the_days_before_the_certificate() -> None:
    """Given § 18b until 2023-02-28 and a Fiktionsbescheinigung issued only on 2023-04-15 that
    the old title continues (timely application, § 81 Abs. 4 Satz 1 AufenthG), when evaluated
    on 2025-04-01, then the days from the expiry to the certificate count: met since
    2025-03-01. A certificate that does not say it continues the title leaves a break."""
    # given
    continuing = dataclasses.replace(LATE_CERTIFICATE[1], continues="§ 18b AufenthG")
    bridged = facts(LATE_CERTIFICATE[0], continuing, LATE_CERTIFICATE[2])
    unknown = facts(*LATE_CERTIFICATE)
    # when
    result = evaluate(bridged, date(2025, 4, 1))
    without = evaluate(unknown, date(2025, 4, 1))
    # then
    assert met(result, "residence_period") is True
    assert result.earliest_residence_date == date(2025, 3, 1)
    assert "Fiktionsbescheinigung bridges 2023-03-01 to 2023-04-14" in reason(
        result, "residence_period"
    )
    assert without.earliest_residence_date == date(2028, 4, 15)


def test_the_bridge_is_known_only_from_the_certificate() -> None:
    """Given the continuing fiction, when evaluated on 2023-04-01 (before the certificate),
    then the title has expired and nothing is known yet: the residence requirement is not met
    (the certificate counts from its date, issue 11 item 5)."""
    # given
    continuing = dataclasses.replace(LATE_CERTIFICATE[1], continues="§ 18b AufenthG")
    person = facts(LATE_CERTIFICATE[0], continuing, LATE_CERTIFICATE[2])
    # when
    result = evaluate(person, date(2023, 4, 1))
    # then
    assert met(result, "residence_period") is False
    assert "no lawful residence known since 2023-03-01" in reason(result, "residence_period")


def test_a_continuing_fiction_of_a_qualifying_title_is_a_qualifying_title() -> None:
    """Given a person whose only current status is the fiction continuing § 18b AufenthG, when
    evaluated during it, then qualifying_title is met as for § 18b (§ 81 Abs. 4 AufenthG with
    § 10 Abs. 1 Satz 1 Nr. 2 StAG); a fiction continuing § 16b (study) does not qualify."""
    # given
    skilled = facts(
        period("fiktion", date(2023, 3, 1), date(2023, 8, 31), continues="§ 18b AufenthG")
    )
    student = facts(
        period("fiktion", date(2023, 3, 1), date(2023, 8, 31), continues="§ 16b AufenthG")
    )
    # when
    results = [evaluate(person, date(2023, 6, 1)) for person in (skilled, student)]
    # then
    assert [met(r, "qualifying_title") for r in results] == [True, False]
    assert reason(results[0], "qualifying_title") == (
        "Fiktionsbescheinigung continuing § 18b AufenthG (§ 81 Abs. 4 AufenthG):"
        " § 18b AufenthG qualifies"
    )


# --- issue 11, item 6: waivers under § 10 Abs. 6 StAG -------------------------------------------


def test_waivers_meet_the_language_and_knowledge_requirements_from_their_date() -> None:
    """Given an older person with German at A2 and no test, and waivers of both requirements for
    age decided on 2025-02-01 (§ 10 Abs. 6 StAG: Nr. 6 and 7 are waived for illness, disability
    or age), when evaluated on 2025-01-15 and 2025-03-01, then first not met, then met."""
    # given
    person = facts(
        period("settlement_permit", date(2010, 1, 1)),
        waivers=[
            Waiver("language", "age", date(2025, 2, 1)),
            Waiver("naturalisation_test", "age", date(2025, 2, 1)),
        ],
        **{**ALL_OTHER_MET, "language_level": "A2", "naturalisation_test_passed_on": None},
    )
    # when
    before = evaluate(person, date(2025, 1, 15))
    after = evaluate(person, date(2025, 3, 1))
    # then
    assert [met(before, k) for k in ("language", "naturalisation_test")] == [False, False]
    assert [met(after, k) for k in ("language", "naturalisation_test")] == [True, True]
    assert reason(after, "language") == "waived on 2025-02-01 for age (§ 10 Abs. 6 StAG)"
    assert after.requirement("language").code == "waived"
    assert after.ready is True


def test_a_waiver_of_livelihood_is_not_one_of_section_10_6() -> None:
    """Given a waiver recorded for livelihood, when evaluated, then it changes nothing: § 10
    Abs. 6 StAG covers only language and knowledge; the reason says so."""
    # given
    person = facts(
        period("settlement_permit", date(2010, 1, 1)),
        waivers=[Waiver("livelihood", "illness", date(2025, 2, 1))],
    )
    # when
    result = evaluate(person, date(2025, 3, 1))
    # then
    assert met(result, "livelihood") is None
    assert "does not cover livelihood" in reason(result, "livelihood")


# --- issue 11, item 7: single nationality under stag-2000 ---------------------------------------


def test_giving_up_the_old_nationality_meets_single_nationality_under_the_old_law() -> None:
    """Given a third-country national under stag-2000 who gave up the old nationality on
    2019-05-01 (§ 10 Abs. 1 Satz 1 Nr. 4 StAG a.F.), when evaluated on 2019-04-01 and on
    2020-01-01, then first unknown, then met and ready; an exception found under § 12 StAG a.F.
    also meets it."""
    # given
    given_up = facts(
        title("§ 25 Abs. 1 AufenthG", date(2010, 1, 1)),
        nationality=[NationalityFact("given_up", date(2019, 5, 1))],
        **{**ALL_OTHER_MET, "naturalisation_test_passed_on": date(2018, 5, 10)},
    )
    excepted = dataclasses.replace(
        given_up, nationality=(NationalityFact("section_12_exception", date(2019, 5, 1)),)
    )
    # when
    before = evaluate(given_up, date(2019, 4, 1))
    after = evaluate(given_up, date(2020, 1, 1))
    exception = evaluate(excepted, date(2020, 1, 1))
    # then
    assert met(before, "single_nationality") is None
    assert met(after, "single_nationality") is True
    assert reason(after, "single_nationality") == (
        "previous nationality given up on 2019-05-01 (stag-2000)"
    )
    assert after.ready is True
    assert met(exception, "single_nationality") is True
    assert "§ 12 StAG" in reason(exception, "single_nationality")


# --- issue 11, item 10: the date under the assumption of on-time renewal -------------------------


def test_a_temporary_title_gives_a_date_assuming_on_time_renewal() -> None:
    """Given § 25b from 2022-06-01, renewed to 2026-05-31 (ordinary two-year titles, § 25b
    Abs. 5 AufenthG), when evaluated on 2025-01-01, then the known periods do not reach five
    years, but if the current title is renewed on time the period is met on 2027-06-01; the
    answer states that assumption and that there is no date without it."""
    # given
    person = facts(
        title("§ 25b AufenthG", date(2022, 6, 1), date(2024, 5, 31)),
        title("§ 25b AufenthG", date(2024, 6, 1), date(2026, 5, 31)),
    )
    # when
    result = evaluate(person, date(2025, 1, 1))
    # then
    assert result.earliest_residence_date == date(2027, 6, 1)
    assert result.earliest_residence_date_without_renewal is None
    assert result.renewal_assumed is True
    assert result.assumption == (
        "assumes the residence title (§ 25b AufenthG) valid until 2026-05-31 is renewed on time"
    )
    assert result.assumption_de is not None
    assert "rechtzeitig verlängert" in result.assumption_de
    assert "not reached without it" in reason(result, "residence_period")
    assert met(result, "residence_period") is False


def test_no_assumption_when_the_known_title_reaches_the_date() -> None:
    """Given § 25b from 2022-06-01 valid until 2028-12-31, when evaluated on 2025-01-01, then
    the known period reaches 2027-06-01 without any assumption."""
    # given
    person = facts(title("§ 25b AufenthG", date(2022, 6, 1), date(2028, 12, 31)))
    # when
    result = evaluate(person, date(2025, 1, 1))
    # then
    assert result.earliest_residence_date == result.earliest_residence_date_without_renewal
    assert result.earliest_residence_date == date(2027, 6, 1)
    assert result.renewal_assumed is False
    assert result.assumption is None


def test_no_renewal_is_assumed_when_a_duldung_is_known_to_follow() -> None:
    """Given the same two-year title followed by a known Duldung, when evaluated, then nothing
    is assumed: the date is not reachable."""
    # given
    person = facts(
        title("§ 25b AufenthG", date(2022, 6, 1), date(2026, 5, 31)),
        period("duldung", date(2026, 6, 1)),
    )
    # when
    result = evaluate(person, date(2025, 1, 1))
    # then
    assert result.earliest_residence_date is None
    assert result.renewal_assumed is False


# --- issue 11, item 11: the old-law course reduction needs B1 and the final test --------------


def test_an_integration_course_at_a2_does_not_shorten_the_old_law_period() -> None:
    """Given a spouse under § 28 since 2015-04-01 whose course ended at A2 (final test passed
    otherwise) or at B1 with the final test not known, when evaluated on 2022-06-01, then eight
    years apply: successful participation (§ 10 Abs. 3 Satz 1 StAG a.F.) means B1 in the
    Deutsch-Test für Zuwanderer and the test 'Leben in Deutschland' (§ 17 Abs. 2 IntV)."""
    # given
    a2 = facts(FAMILY, integration_courses=[CourseCompletion("A2", date(2016, 3, 1), True)])
    unknown = facts(FAMILY, integration_courses=[CourseCompletion("B1", date(2016, 3, 1))])
    legacy = facts(FAMILY, integration_course_completed_on=date(2016, 3, 1))
    # when
    results = [evaluate(person, date(2022, 6, 1)) for person in (a2, unknown, legacy)]
    # then
    assert {r.earliest_residence_date for r in results} == {date(2023, 4, 1)}
    assert reason(results[0], "residence_period").startswith("7 years 2 months of 8 years")


# --- issue 11, item 14: what was known then ------------------------------------------------------


def test_on_2024_01_02_the_2024_reform_was_not_known() -> None:
    """Given a title since 2019-01-01, when evaluated on 2024-01-02, then only stag-2000 was
    promulgated: eight years, met on 2027-01-01, not the five-year date of the later reform;
    as of 2024-04-01 the promulgated reform (BGBl. 2024 I Nr. 104) gives 2024-06-27."""
    # given
    person = facts(title("§ 18b AufenthG", date(2019, 1, 1)))
    # when
    then = evaluate(person, date(2024, 1, 2))
    later = evaluate(person, date(2024, 4, 1))
    # then
    assert then.earliest_residence_date == date(2027, 1, 1)
    assert later.earliest_residence_date == date(2024, 6, 27)


def test_the_2025_amendment_took_effect_on_2025_10_30() -> None:
    """Given a Blue Card since 2021-09-01 and C1, when evaluated on 2025-10-28, then stag-2024
    is still in force (the amendment of 27 October 2025, BGBl. 2025 I Nr. 256, was promulgated
    on 2025-10-29 and took effect on 2025-10-30)."""
    # given
    person = facts(BLUE_CARD, language_level="C1")
    # when
    result = evaluate(person, date(2025, 10, 28))
    # then
    assert result.law_version == "stag-2024"
    assert result.known_law_versions == ("stag-2000", "stag-2024")
    assert evaluate(person, date(2025, 10, 30)).law_version == "stag-2025"


# --- issue 11, item 15: when 'Leben in Deutschland' proves the knowledge -----------------------


def test_leben_in_deutschland_with_17_points_proves_the_knowledge() -> None:
    """Given the integration course's test 'Leben in Deutschland' with 17, 15 and unknown points,
    and an Einbürgerungstest, when evaluated, then 17 points prove the knowledge like the
    naturalisation test (§ 10 Abs. 5 StAG; § 1 Abs. 3 EinbTestV: 17 of 33), 15 points (enough
    for the orientation course) do not, unknown points leave it unknown."""
    # given
    base = period("settlement_permit", date(2010, 1, 1))
    on = date(2024, 5, 1)
    tests = {
        "lid17": KnowledgeTest("leben_in_deutschland", on, 17),
        "lid15": KnowledgeTest("leben_in_deutschland", on, 15),
        "lid": KnowledgeTest("leben_in_deutschland", on),
        "einb": KnowledgeTest("einbuergerungstest", on),
    }
    # when
    results = {
        name: evaluate(facts(base, knowledge_tests=[test]), date(2025, 1, 1))
        for name, test in tests.items()
    }
    # then
    assert {name: met(r, "naturalisation_test") for name, r in results.items()} == {
        "lid17": True,
        "lid15": False,
        "lid": None,
        "einb": True,
    }
    assert "§ 10 Abs. 5 StAG, § 1 Abs. 3 EinbTestV" in reason(
        results["lid17"], "naturalisation_test"
    )
    assert "needs at least 17" in reason(results["lid15"], "naturalisation_test")
    assert "not enough" not in reason(results["lid15"], "naturalisation_test")


# --- German explanations --------------------------------------------------------------------------


def test_every_requirement_is_explained_in_german_with_a_code() -> None:
    """Given a refugee path, when evaluated, then every requirement has a German reason and a
    reason code beside the English reason (for case managers)."""
    # given
    person = facts(*REFUGEE_PATH, protection_granted_on=date(2019, 9, 10), **ALL_OTHER_MET)
    # when
    result = evaluate(person, date(2026, 1, 1))
    # then
    assert all(r.reason_de and r.code and r.reason_de != r.reason for r in result.requirements)
    assert result.requirement("residence_period").reason_de.startswith(
        "7 Jahre 3 Monate von 5 Jahren angerechnet (stag-2025); erfüllt seit 2024-06-27"
    )


def test_undated_values_derived_from_dated_facts_do_not_date_them_back() -> None:
    """Given a caller that passes both a C1 certificate issued 2025-09-01 and the undated level
    C1 derived from it, and livelihood assessed on 2025-03-01 together with the undated
    boolean, when evaluated on 2024-08-01, then the dated facts decide: language and livelihood
    are not known yet (issue 11, item 5)."""
    # given
    person = facts(
        period("settlement_permit", date(2015, 1, 1)),
        language_level="C1",
        language_certificates=[LanguageCertificate("C1", date(2025, 9, 1))],
        livelihood_secured=True,
        assessments=[Assessment("livelihood", "met", date(2025, 3, 1), "abh_officer")],
    )
    # when
    result = evaluate(person, date(2024, 8, 1))
    # then
    assert met(result, "language") is None
    assert met(result, "livelihood") is None


# --- issue 11, remaining gaps 1: a timely renewal without a certificate (§ 81 Abs. 4) ------------

EXPIRING = title("§ 18b AufenthG", date(2021, 1, 1), date(2025, 12, 31))
RENEWAL_IN_TIME = TitleApplication(date(2025, 12, 1), "§ 18b AufenthG")


def test_a_renewal_applied_for_in_time_continues_the_title_without_a_certificate() -> None:
    """Given § 18b from 2021-01-01 to 2025-12-31 and its renewal applied for on 2025-12-01,
    before it expired, with no Fiktionsbescheinigung issued and no decision yet, when evaluated
    on 2026-03-01, then the title is deemed to continue from the application until the
    authority decides (§ 81 Abs. 4 Satz 1 AufenthG; the certificate only documents the
    fiction, § 81 Abs. 5): the days since 2026-01-01 count, the residence period is met since
    2026-01-01, the continued § 18b qualifies and the person is ready. Without the
    application nothing is known after 2025-12-31."""
    # given
    pending = facts(EXPIRING, title_applications=[RENEWAL_IN_TIME], **ALL_OTHER_MET)
    nothing = facts(EXPIRING, **ALL_OTHER_MET)
    # when
    result = evaluate(pending, date(2026, 3, 1))
    without = evaluate(nothing, date(2026, 3, 1))
    # then
    assert met(result, "residence_period") is True
    assert result.earliest_residence_date == date(2026, 1, 1)
    assert result.counted_residence_days == (date(2026, 3, 1) - date(2021, 1, 1)).days
    assert "deemed to continue while the application filed in time on 2025-12-01 is pending" in (
        reason(result, "residence_period")
    )
    assert met(result, "qualifying_title") is True
    assert reason(result, "qualifying_title") == (
        "§ 18b AufenthG is deemed to continue while the application filed in time on 2025-12-01"
        " is pending (§ 81 Abs. 4 AufenthG, no certificate needed): § 18b AufenthG qualifies"
    )
    assert "auch ohne Fiktionsbescheinigung" in (result.requirement("qualifying_title").reason_de)
    assert result.ready is True
    assert without.ready is False
    assert met(without, "qualifying_title") is False
    assert "no lawful residence known since 2026-01-01" in reason(without, "residence_period")


def test_the_fiction_of_a_timely_renewal_counts_from_the_application_s_date() -> None:
    """Given the same path, when evaluated on 2025-11-15 (before the application), then the
    title is still valid and the date assumes its renewal; the fiction is not known yet."""
    # given
    pending = facts(EXPIRING, title_applications=[RENEWAL_IN_TIME], **ALL_OTHER_MET)
    # when
    result = evaluate(pending, date(2025, 11, 15))
    # then
    assert met(result, "residence_period") is False
    assert "deemed to continue" not in reason(result, "residence_period")
    assert reason(result, "qualifying_title") == "§ 18b AufenthG qualifies"


def test_the_fiction_of_a_timely_renewal_ends_with_the_decision() -> None:
    """Given the timely renewal and, as the decision, a Duldung from 2026-04-01 (the renewal
    was refused), when evaluated on 2026-05-01, then the fiction covered 2026-01-01 to
    2026-03-31 only: no current title, and the residence ended on 2026-03-31."""
    # given
    refused = facts(
        EXPIRING,
        period("duldung", date(2026, 4, 1), date(2026, 9, 30)),
        title_applications=[RENEWAL_IN_TIME],
        **ALL_OTHER_MET,
    )
    # when
    result = evaluate(refused, date(2026, 5, 1))
    # then
    assert met(result, "qualifying_title") is False
    assert met(result, "residence_period") is False
    assert "no lawful residence known since 2026-04-01" in reason(result, "residence_period")
    assert result.ready is False


def test_a_refusal_ends_the_fiction_of_a_timely_renewal() -> None:
    """Given the timely renewal refused on 2026-02-10 (no Duldung recorded yet), when evaluated
    on 2026-02-01 and on 2026-03-01, then the title continued until the refusal and counted
    (§ 81 Abs. 4 Satz 1 AufenthG: "bis zur Entscheidung"; an objection does not restore it,
    § 84 Abs. 2 Satz 1), but from the refusal on there is no current title and no lawful
    residence. The refusal counts from its date: on 2026-02-01 the person is still ready."""
    # given
    refused = facts(
        EXPIRING,
        title_applications=[
            TitleApplication(date(2025, 12, 1), "§ 18b AufenthG", refused_on=date(2026, 2, 10))
        ],
        **ALL_OTHER_MET,
    )
    # when
    pending = evaluate(refused, date(2026, 2, 1))
    after = evaluate(refused, date(2026, 3, 1))
    # then
    assert pending.ready is True
    assert after.ready is False
    assert met(after, "qualifying_title") is False
    assert (
        "2026-01-01 to 2026-02-09 counted: applied in time on 2025-12-01, the title"
        " (§ 18b AufenthG) continued until the decision"
    ) in reason(after, "residence_period")
    assert "no lawful residence known since 2026-02-10" in reason(after, "residence_period")


def test_a_refused_late_application_is_no_longer_the_authoritys_decision() -> None:
    """Given the late application of 2026-01-20 refused on 2026-03-01, when evaluated on
    2026-03-02, then nothing bridges the gap any more (§ 12b Abs. 3 StAG needs the title
    granted on it): not met, no decision needed."""
    # given
    person = facts(
        LONG_TITLE,
        title_applications=[dataclasses.replace(LATE_APPLICATION, refused_on=date(2026, 3, 1))],
    )
    # when
    result = evaluate(person, date(2026, 3, 2))
    # then
    assert result.requirement("residence_period").state == "not_met"


def test_a_renewal_applied_for_after_expiry_gives_no_fiction() -> None:
    """Given § 18b until 2025-12-31 and a renewal applied for on 2026-01-05, after it expired,
    when evaluated on 2026-03-01, then no fiction arises (§ 81 Abs. 4 Satz 1 needs the
    application before expiry; Satz 3 leaves a continuation to the authority): no current
    title."""
    # given
    late = facts(
        EXPIRING,
        title_applications=[TitleApplication(date(2026, 1, 5), "§ 18b AufenthG")],
        **ALL_OTHER_MET,
    )
    # when
    result = evaluate(late, date(2026, 3, 1))
    # then
    assert met(result, "qualifying_title") is False
    assert result.ready is False


# --- issue 11, remaining gaps 2: a late application bridges only once granted (§ 12b Abs. 3) ----

LONG_TITLE = title("§ 18b AufenthG", date(2019, 1, 1), date(2025, 12, 31))
LATE_APPLICATION = TitleApplication(date(2026, 1, 20), "§ 18b AufenthG")


def test_a_pending_late_application_is_the_authoritys_decision() -> None:
    """Given seven years on § 18b until 2025-12-31 and its renewal applied for late on
    2026-01-20, still pending, when evaluated on 2026-02-01, then the gap is disregarded only
    if the title is granted on that application (§ 12b Abs. 3 StAG: the interruption must
    rest on the late application alone, i.e. the person had the claim to the title during
    the gap; VG Oldenburg, 21.11.2012, 11 A 3441/12): decision of the authority needed, not
    ready."""
    # given
    person = facts(LONG_TITLE, title_applications=[LATE_APPLICATION], **ALL_OTHER_MET)
    # when
    result = evaluate(person, date(2026, 2, 1))
    # then
    residence = result.requirement("residence_period")
    assert residence.met is None
    assert residence.decision_needed is True
    assert residence.code == "decision_12b3"
    assert "the application filed late on 2026-01-20 is pending" in residence.reason
    assert "(§ 12b Abs. 3 StAG): decision of the authority needed" in residence.reason
    assert "Entscheidung der Behörde nötig" in residence.reason_de
    assert result.ready is False


def test_a_late_application_granted_bridges_the_gap_without_counting_it() -> None:
    """Given the late application and § 18b granted on it from 2026-03-01, when evaluated on
    2026-04-01, then the gap 2026-01-01 to 2026-02-28 does not interrupt but does not count
    (§ 12b Abs. 3 StAG): ready."""
    # given
    person = facts(
        LONG_TITLE,
        title("§ 18b AufenthG", date(2026, 3, 1), date(2028, 2, 29)),
        title_applications=[LATE_APPLICATION],
        **ALL_OTHER_MET,
    )
    # when
    result = evaluate(person, date(2026, 4, 1))
    # then
    assert met(result, "residence_period") is True
    assert "late application (§ 12b Abs. 3 StAG)" in reason(result, "residence_period")
    assert (
        result.counted_residence_days
        == ((date(2026, 1, 1) - date(2019, 1, 1)) + (date(2026, 4, 1) - date(2026, 3, 1))).days
    )
    assert result.ready is True


def test_another_title_than_the_one_applied_for_late_does_not_bridge_the_gap() -> None:
    """Given the late application for § 18b but a § 16b title (study) granted from
    2026-03-01, when evaluated on 2026-04-01, then that title was not granted on the late
    application: the gap interrupts the residence, counted from 2026-03-01."""
    # given
    person = facts(
        LONG_TITLE,
        title("§ 16b AufenthG", date(2026, 3, 1), date(2028, 2, 29)),
        title_applications=[LATE_APPLICATION],
    )
    # when
    result = evaluate(person, date(2026, 4, 1))
    # then
    assert met(result, "residence_period") is False
    assert "interrupted from 2026-01-01 to 2026-02-28" in reason(result, "residence_period")


def test_a_certificate_after_a_late_application_alone_does_not_bridge_the_gap() -> None:
    """Given the late application and only a Fiktionsbescheinigung (§ 81 Abs. 3, not
    continuing a title) from 2026-02-15, no title granted yet, when evaluated on 2026-04-01,
    then the gap is not bridged yet: the title must be granted on the application first."""
    # given
    person = facts(
        LONG_TITLE,
        period("fiktion", date(2026, 2, 15), date(2026, 8, 14), "§ 81 Abs. 3 AufenthG"),
        title_applications=[LATE_APPLICATION],
    )
    # when
    result = evaluate(person, date(2026, 4, 1))
    # then
    assert met(result, "residence_period") is False
    assert "interrupted from 2026-01-01 to 2026-02-14" in reason(result, "residence_period")


# --- issue 11, remaining gaps 3: rejection as manifestly unfounded (§ 30 AsylG) -----------------

#: A protected person's path up to the title (§ 25 Abs. 2 AufenthG from 2019-04-01), whose
#: asylum application of 2016-01-10 the BAMF rejected on 2016-06-01 and a court later granted.
COURT_PROTECTION = date(2019, 3, 1)
PROTECTED_TITLE = title("§ 25 Abs. 2 AufenthG", date(2019, 4, 1))


def test_a_manifestly_unfounded_rejection_ends_the_gestattung_and_breaks_the_residence() -> None:
    """Given an asylum application of 2016-01-10 rejected as manifestly unfounded on
    2016-06-01 (§ 30 AsylG), a Duldung while the action was pending, refugee status granted by
    the court on 2019-03-01 and § 25 Abs. 2 from 2019-04-01, when evaluated on 2024-05-01
    (eight years under stag-2000, the 2024 reform promulgated), then the Gestattung ended with
    the rejection (the action has no suspensive effect, § 75 Abs. 1 AsylG; the deportation
    warning is enforceable, § 67 Abs. 1 Nr. 4 AsylG) and the Duldung broke the residence:
    counted from the title, five years met only under stag-2024 on 2024-06-27. After an
    ordinary rejection the action keeps the Gestattung (§ 67 Abs. 1 Nr. 6 AsylG) and all of
    it counts once protected (§ 55 Abs. 3 AsylG): eight years met since 2024-01-10."""
    # given
    manifestly_unfounded = facts(
        period("gestattung", date(2016, 1, 10), date(2016, 5, 31)),
        period("duldung", date(2016, 6, 10), date(2019, 3, 31)),
        PROTECTED_TITLE,
        protection_granted_on=COURT_PROTECTION,
    )
    ordinary = facts(
        period("gestattung", date(2016, 1, 10), date(2019, 3, 31)),
        PROTECTED_TITLE,
        protection_granted_on=COURT_PROTECTION,
    )
    # when
    result = evaluate(manifestly_unfounded, date(2024, 5, 1))
    kept = evaluate(ordinary, date(2024, 5, 1))
    # then
    assert met(result, "residence_period") is False
    assert result.earliest_residence_date == date(2024, 6, 27)
    assert "Duldung not counted" in reason(result, "residence_period")
    assert "counted from 2019-04-01" in reason(result, "residence_period")
    assert met(kept, "residence_period") is True
    assert kept.earliest_residence_date == date(2024, 1, 10)


def test_a_suspensive_effect_ordered_restores_the_gestattung_from_the_order() -> None:
    """Given the same rejection, but the court ordered the suspensive effect on 2016-06-20
    (§ 80 Abs. 5 VwGO, § 36 Abs. 3 AsylG), so the rejection became ineffective and the
    procedure went on (§ 37 Abs. 1 AsylG), and the BAMF granted refugee status on 2017-03-01
    with § 25 Abs. 2 from 2017-04-01, when evaluated on 2024-05-01, then the Gestattung from
    the order counts (§ 55 Abs. 3 AsylG): eight years on 2024-06-20. The 19 days between the
    rejection and the order are not bridged (the hub counts the restored Gestattung from the
    order only, § 37 Abs. 1 AsylG taken to act from the order), so the time before the
    rejection does not count."""
    # given
    person = facts(
        period("gestattung", date(2016, 1, 10), date(2016, 5, 31)),
        period("gestattung", date(2016, 6, 20), date(2017, 3, 31)),
        title("§ 25 Abs. 2 AufenthG", date(2017, 4, 1)),
        protection_granted_on=date(2017, 3, 1),
    )
    # when
    result = evaluate(person, date(2024, 5, 1))
    # then
    assert met(result, "residence_period") is False
    assert result.earliest_residence_date == date(2024, 6, 20)
    assert "interrupted from 2016-06-01 to 2016-06-19" in reason(result, "residence_period")


# --- issue 11, remaining gaps 4: family reunification (§§ 27-36a AufenthG) ----------------------

FAMILY_VISA = period("visa", date(2020, 3, 10), date(2020, 6, 9), "§ 30 AufenthG")
SPOUSE_PERMITS = (
    title("§ 30 AufenthG", date(2020, 7, 1), date(2023, 6, 30)),
    title("§ 30 AufenthG", date(2023, 7, 1), date(2026, 6, 30)),
)
SPOUSE_APPLIED = TitleApplication(date(2020, 5, 20), "§ 30 AufenthG")


def test_a_spouse_s_family_reunification_visa_and_the_permit_applied_for_in_time() -> None:
    """Given a spouse who entered on 2020-03-10 with a visa for family reunification (national
    visa, § 6 Abs. 3 with § 30 AufenthG, valid until 2020-06-09; it counts from the entry),
    applied in time on 2020-05-20 for the residence permit under § 30 granted from 2020-07-01,
    when evaluated on 2025-04-01, then the visa's time counts (a visa is a title, § 4 Abs. 1
    Nr. 1 AufenthG) and the days from the visa's expiry to the permit count too (§ 81 Abs. 4
    AufenthG: a visa is continued like any title, only a Schengen visa is excluded): five
    years met since 2025-03-10, and § 30 qualifies (§ 10 Abs. 1 Satz 1 Nr. 2 StAG does not
    exclude family reunification). Without the application the gap breaks the residence."""
    # given
    applied = facts(
        FAMILY_VISA, *SPOUSE_PERMITS, title_applications=[SPOUSE_APPLIED], **ALL_OTHER_MET
    )
    not_applied = facts(FAMILY_VISA, *SPOUSE_PERMITS, **ALL_OTHER_MET)
    # when
    result = evaluate(applied, date(2025, 4, 1))
    without = evaluate(not_applied, date(2025, 4, 1))
    # then
    assert result.earliest_residence_date == date(2025, 3, 10)
    assert reason(result, "qualifying_title") == "§ 30 AufenthG qualifies"
    assert result.ready is True
    assert without.earliest_residence_date == date(2025, 7, 1)


def test_a_family_reunification_visa_continued_by_the_application_is_no_qualifying_title() -> None:
    """Given the visa and the pending application, when evaluated on 2020-06-20 (after the
    visa's expiry), then the visa is deemed to continue (§ 81 Abs. 4 AufenthG) and counts, but
    as the current status it is a visa, not a qualifying residence title."""
    # given
    pending = facts(FAMILY_VISA, title_applications=[SPOUSE_APPLIED], **ALL_OTHER_MET)
    # when
    result = evaluate(pending, date(2020, 6, 20))
    # then
    assert result.counted_residence_days == (date(2020, 6, 20) - date(2020, 3, 10)).days
    assert met(result, "qualifying_title") is False
    assert reason(result, "qualifying_title").startswith(
        "the visa (§ 30 AufenthG) is deemed to continue while the application filed in time"
    )
    assert reason(result, "qualifying_title").endswith("a residence title is needed first")
