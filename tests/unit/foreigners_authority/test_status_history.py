"""The residence file's status history and naturalisation procedure: given / when / then."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from eventsourcing.utils import resolve_topic

from services.foreigners_authority.domain import (
    ArrivalFacts,
    AsylumOutcome,
    Channel,
    Contradiction,
    CourseObligor,
    DomainError,
    DuldungGround,
    EntryMode,
    FiktionKind,
    InvalidValue,
    NaturalisationRequirement,
    RequirementOutcome,
    ResidenceFile,
    TitleKind,
    WaiverGround,
)

TODAY = date(2026, 11, 21)


def arrived(entry: date = date(2015, 10, 14), mode: EntryMode = EntryMode.ASYLUM) -> ResidenceFile:
    file = ResidenceFile.register_arrival(
        person_id=uuid4(),
        names_enc="hubenc:v1:n",
        birth_date_enc="hubenc:v1:b",
        azr_number_enc="hubenc:v1:a",
        abh_id="abh-05111",
        facts=ArrivalFacts(date(1995, 11, 2), ["SYR"], entry, mode, "05111000", entry),
        today=TODAY,
    )
    file.collect_events()
    return file


def names(file: ResidenceFile) -> list[str]:
    return [type(e).__name__ for e in file.collect_events()]


def test_a_recognised_refugee_goes_from_gestattung_to_a_title() -> None:
    file = arrived()

    file.file_asylum_application(filed_on=date(2015, 10, 20), today=TODAY)
    file.record_asylum_decision(
        outcome=AsylumOutcome.REFUGEE, decided_on=date(2016, 7, 1), today=TODAY
    )
    file.grant_residence_title(
        title=TitleKind.RESIDENCE_PERMIT,
        paragraph="§ 25 Abs. 2 AufenthG",
        granted_on=date(2016, 8, 1),
        valid_from=date(2016, 8, 1),
        valid_until=date(2019, 7, 31),
        conditions=[],
        today=TODAY,
    )

    assert names(file) == [
        "AsylumApplicationFiled",
        "AsylumDecisionReceived",
        "ResidenceTitleGranted",
    ]
    assert file.protection_granted_on == date(2016, 7, 1)


def test_a_second_pending_asylum_application_is_refused() -> None:
    file = arrived()
    file.file_asylum_application(filed_on=date(2015, 10, 20), today=TODAY)

    with pytest.raises(Contradiction, match="pending"):
        file.file_asylum_application(filed_on=date(2015, 11, 1), today=TODAY)


def test_a_decision_without_an_application_or_before_it_is_refused() -> None:
    file = arrived()

    with pytest.raises(Contradiction, match="no asylum application"):
        file.record_asylum_decision(
            outcome=AsylumOutcome.REJECTED, decided_on=date(2016, 1, 1), today=TODAY
        )
    file.file_asylum_application(filed_on=date(2016, 2, 1), today=TODAY)
    with pytest.raises(Contradiction) as refused:
        file.record_asylum_decision(
            outcome=AsylumOutcome.REJECTED, decided_on=date(2016, 1, 1), today=TODAY
        )
    assert refused.value.field == "decidedOn"


def test_a_duldung_contradicts_a_pending_asylum_application_and_a_valid_title() -> None:
    file = arrived()
    file.file_asylum_application(filed_on=date(2015, 10, 20), today=TODAY)

    with pytest.raises(Contradiction, match="Aufenthaltsgestattung"):
        file.issue_duldung(
            ground=DuldungGround.GENERAL,
            valid_from=date(2016, 1, 1),
            valid_until=date(2016, 7, 1),
            today=TODAY,
        )

    file.record_asylum_decision(
        outcome=AsylumOutcome.SUBSIDIARY, decided_on=date(2016, 7, 1), today=TODAY
    )
    file.grant_residence_title(
        title=TitleKind.RESIDENCE_PERMIT,
        paragraph="§ 25 Abs. 2 AufenthG",
        granted_on=date(2016, 8, 1),
        valid_from=date(2016, 8, 1),
        valid_until=date(2017, 7, 31),
        conditions=[],
        today=TODAY,
    )
    with pytest.raises(Contradiction, match="valid title"):
        file.issue_duldung(
            ground=DuldungGround.GENERAL,
            valid_from=date(2017, 1, 1),
            valid_until=date(2017, 6, 1),
            today=TODAY,
        )


def test_a_rejected_applicant_is_tolerated_then_gains_25b() -> None:
    file = arrived()
    file.file_asylum_application(filed_on=date(2015, 10, 20), today=TODAY)
    file.record_asylum_decision(
        outcome=AsylumOutcome.REJECTED, decided_on=date(2017, 3, 1), today=TODAY
    )

    file.issue_duldung(
        ground=DuldungGround.EMPLOYMENT,
        valid_from=date(2017, 4, 1),
        valid_until=date(2023, 3, 31),
        today=TODAY,
    )
    file.apply_for_title(paragraph="§ 25b AufenthG", applied_on=date(2023, 1, 10), today=TODAY)
    file.issue_fiktion(
        kind=FiktionKind.ABS_3,
        issued_on=date(2023, 1, 20),
        valid_until=date(2023, 7, 20),
        today=TODAY,
    )
    file.grant_residence_title(
        title=TitleKind.RESIDENCE_PERMIT,
        paragraph="§ 25b AufenthG",
        granted_on=date(2023, 6, 1),
        valid_from=date(2023, 6, 1),
        valid_until=date(2025, 5, 31),
        conditions=[],
        today=TODAY,
    )

    assert file.protection_granted_on is None
    assert file.duldung_until is None
    assert names(file)[-3:] == [
        "ResidenceTitleApplied",
        "FiktionsbescheinigungIssued",
        "ResidenceTitleGranted",
    ]


def test_a_fiktionsbescheinigung_needs_a_pending_application() -> None:
    file = arrived()

    with pytest.raises(Contradiction, match="pending application"):
        file.issue_fiktion(
            kind=FiktionKind.ABS_4,
            issued_on=date(2020, 1, 1),
            valid_until=date(2020, 6, 1),
            today=TODAY,
        )


def test_temporary_protection_is_extended_by_the_file_the_limit_is_the_code_lists_affair() -> None:
    # the limit of § 24 is data (codelists/limits.json), checked once by the application
    file = arrived(date(2022, 3, 9), EntryMode.TEMPORARY_PROTECTION)

    file.grant_temporary_protection(
        valid_from=date(2022, 3, 20), valid_until=date(2024, 3, 4), today=TODAY
    )
    file.extend_temporary_protection(valid_until=date(2027, 3, 4), today=TODAY)

    with pytest.raises(InvalidValue, match="later"):
        file.extend_temporary_protection(valid_until=date(2026, 3, 4), today=TODAY)
    assert names(file) == ["TemporaryProtectionGranted", "TemporaryProtectionExtended"]


def test_an_extension_without_protection_is_refused() -> None:
    file = arrived()

    with pytest.raises(Contradiction):
        file.extend_temporary_protection(valid_until=date(2026, 3, 4), today=TODAY)


def test_course_and_certificates_raise_the_language_level_never_lower_it() -> None:
    file = arrived()
    file.impose_course_obligation(
        by=CourseObligor.JOBCENTER, imposed_on=date(2017, 1, 10), today=TODAY
    )

    file.complete_integration_course(level="B1", completed_on=date(2018, 2, 1), today=TODAY)
    file.record_language_certificate(cefr_level="A2", issued_on=date(2018, 5, 1), today=TODAY)

    assert file.language_level == "B1"
    with pytest.raises(InvalidValue):
        file.record_language_certificate(cefr_level="B3", issued_on=date(2019, 1, 1), today=TODAY)


def test_after_departure_no_status_changes() -> None:
    departed = arrived()
    departed.record_departure(departed_on=date(2019, 1, 1), today=TODAY)

    with pytest.raises(Contradiction, match="departed"):
        departed.file_asylum_application(filed_on=date(2019, 2, 1), today=TODAY)


def test_a_transfer_hands_the_file_over_and_it_stays_open_for_the_new_holder() -> None:
    file = arrived()
    assert file.held_by("abh-05111")

    file.transfer_file(to_abh="abh-05315", transferred_on=date(2019, 1, 1), today=TODAY)
    file.issue_duldung(
        ground=DuldungGround.GENERAL,
        valid_from=date(2019, 2, 1),
        valid_until=date(2019, 8, 1),
        today=TODAY,
    )

    assert file.held_by("abh-05315")
    assert not file.held_by("abh-05111")
    assert file.duldung_until == date(2019, 8, 1)


def test_the_naturalisation_procedure_runs_in_order_and_closes_the_file() -> None:
    file = arrived()
    file.grant_residence_title(
        title=TitleKind.RESIDENCE_PERMIT,
        paragraph="§ 25 Abs. 2 AufenthG",
        granted_on=date(2016, 8, 1),
        valid_from=date(2016, 8, 1),
        valid_until=date(2027, 7, 31),
        conditions=[],
        today=TODAY,
    )
    with pytest.raises(Contradiction, match="no naturalisation application"):
        file.assure_naturalisation(assured_on=date(2025, 1, 1), today=TODAY)

    file.apply_for_naturalisation(channel=Channel.ONLINE, applied_on=date(2025, 11, 3), today=TODAY)
    file.record_naturalisation_test(passed_on=date(2025, 9, 1), today=TODAY)
    file.assess_requirement(
        requirement=NaturalisationRequirement.RESIDENCE_PERIOD,
        outcome=RequirementOutcome.MET,
        law_version="stag-2025",
        assessed_on=date(2026, 1, 15),
        today=TODAY,
    )
    file.assure_naturalisation(assured_on=date(2026, 3, 1), today=TODAY)
    file.complete_naturalisation(certificate_date=date(2026, 6, 1), today=TODAY)

    assert names(file)[-5:] == [
        "NaturalisationApplied",
        "NaturalisationTestPassed",
        "NaturalisationRequirementAssessed",
        "NaturalisationAssured",
        "NaturalisationCompleted",
    ]
    with pytest.raises(Contradiction, match="naturalised"):
        file.issue_duldung(
            ground=DuldungGround.GENERAL,
            valid_from=date(2026, 7, 1),
            valid_until=date(2026, 9, 1),
            today=TODAY,
        )


def test_a_second_pending_naturalisation_application_is_refused() -> None:
    file = arrived()
    file.apply_for_naturalisation(channel=Channel.PAPER, applied_on=date(2025, 1, 1), today=TODAY)

    with pytest.raises(Contradiction, match="pending"):
        file.apply_for_naturalisation(
            channel=Channel.ONLINE, applied_on=date(2025, 2, 1), today=TODAY
        )


@pytest.mark.parametrize("method", ["file_asylum_application", "record_departure"])
def test_dates_in_the_future_are_refused(method: str) -> None:
    file = arrived()
    argument = {"file_asylum_application": "filed_on", "record_departure": "departed_on"}[method]

    with pytest.raises(DomainError, match="future"):
        getattr(file, method)(**{argument: date(2027, 1, 1)}, today=TODAY)


def test_events_stored_before_the_domain_became_a_package_still_resolve() -> None:
    old = "services.foreigners_authority.domain:ResidenceFile.PersonRegistered"

    assert resolve_topic(old) is ResidenceFile.PersonRegistered


def test_every_event_of_the_file_maps_to_a_contract() -> None:
    from services.foreigners_authority.integration import to_contract

    file = arrived()
    file.file_asylum_application(filed_on=date(2015, 10, 20), today=TODAY)
    file.record_asylum_decision(
        outcome=AsylumOutcome.REJECTED, decided_on=date(2017, 3, 1), today=TODAY
    )
    file.issue_duldung(
        ground=DuldungGround.TRAINING,
        valid_from=date(2017, 4, 1),
        valid_until=date(2020, 3, 31),
        today=TODAY,
    )
    file.apply_for_title(paragraph="§ 25b AufenthG", applied_on=date(2020, 1, 10), today=TODAY)
    file.issue_fiktion(
        kind=FiktionKind.ABS_3,
        issued_on=date(2020, 1, 20),
        valid_until=date(2020, 7, 20),
        today=TODAY,
    )
    file.grant_temporary_protection(
        valid_from=date(2020, 2, 1), valid_until=date(2021, 2, 1), today=TODAY
    )
    file.extend_temporary_protection(valid_until=date(2022, 2, 1), today=TODAY)
    file.impose_course_obligation(
        by=CourseObligor.FOREIGNERS_AUTHORITY, imposed_on=date(2020, 3, 1), today=TODAY
    )
    file.complete_integration_course(level="B1", completed_on=date(2021, 3, 1), today=TODAY)
    file.record_language_certificate(cefr_level="B2", issued_on=date(2022, 3, 1), today=TODAY)
    file.apply_for_naturalisation(channel=Channel.ONLINE, applied_on=date(2025, 1, 2), today=TODAY)
    file.record_naturalisation_test(passed_on=date(2025, 2, 1), today=TODAY)
    file.assess_requirement(
        requirement=NaturalisationRequirement.LANGUAGE,
        outcome=RequirementOutcome.MET,
        law_version="stag-2024",
        assessed_on=date(2025, 3, 1),
        today=TODAY,
    )
    file.assure_naturalisation(assured_on=date(2025, 4, 1), today=TODAY)
    file.complete_naturalisation(certificate_date=date(2025, 5, 1), today=TODAY)
    other = arrived()
    other.record_departure(departed_on=date(2020, 1, 1), today=TODAY)
    third = arrived()
    third.transfer_file(to_abh="abh-05315", transferred_on=date(2020, 1, 1), today=TODAY)

    events = [*file.collect_events(), *other.collect_events(), *third.collect_events()]

    mapped = [to_contract(e) for e in events]
    assert all(m is not None for m in mapped)
    assert len({type(m.payload) for m in mapped if m is not None}) == 17


# -- issue 11 --------------------------------------------------------------------------------


def test_a_stay_abroad_is_not_a_departure_and_the_file_stays_open() -> None:
    # § 12b (1) StAG: a stay abroad may not interrupt residence; so it is no departure
    file = arrived()
    file.record_stay_abroad(left_on=date(2019, 7, 1), permitted_until=None, today=TODAY)
    with pytest.raises(Contradiction, match="abroad since"):
        file.record_stay_abroad(left_on=date(2019, 8, 1), permitted_until=None, today=TODAY)

    file.record_return(returned_on=date(2019, 9, 15), today=TODAY)
    file.record_stay_abroad(
        left_on=date(2021, 1, 1), permitted_until=date(2021, 12, 31), today=TODAY
    )
    file.record_return(returned_on=date(2021, 10, 1), today=TODAY)
    file.file_asylum_application(filed_on=date(2022, 1, 10), today=TODAY)

    assert file.departed_on is None
    assert names(file) == [
        "StayAbroadBegan",
        "ReturnedFromAbroad",
        "StayAbroadBegan",
        "ReturnedFromAbroad",
        "AsylumApplicationFiled",
    ]


def test_a_return_needs_a_stay_abroad_and_comes_after_it() -> None:
    file = arrived()
    with pytest.raises(Contradiction, match="no stay abroad"):
        file.record_return(returned_on=date(2019, 9, 15), today=TODAY)
    file.record_stay_abroad(left_on=date(2019, 7, 1), permitted_until=None, today=TODAY)

    with pytest.raises(Contradiction, match="before the journey"):
        file.record_return(returned_on=date(2019, 6, 1), today=TODAY)
    with pytest.raises(InvalidValue, match="period for the return"):
        arrived().record_stay_abroad(
            left_on=date(2019, 7, 1), permitted_until=date(2019, 6, 1), today=TODAY
        )


def test_an_action_against_a_rejection_keeps_the_gestattung_until_the_decision_is_final() -> None:
    # § 67 (1) Nr. 6 AsylG: the Gestattung ends when the decision is final, not at the BAMF's
    file = arrived()
    file.file_asylum_application(filed_on=date(2015, 10, 20), today=TODAY)
    file.record_asylum_decision(
        outcome=AsylumOutcome.REJECTED, decided_on=date(2016, 6, 1), today=TODAY
    )
    file.file_asylum_appeal(filed_on=date(2016, 6, 10), today=TODAY)

    assert file.asylum_pending
    with pytest.raises(Contradiction, match="Aufenthaltsgestattung"):
        file.issue_duldung(
            ground=DuldungGround.GENERAL,
            valid_from=date(2016, 7, 1),
            valid_until=date(2016, 12, 31),
            today=TODAY,
        )
    file.record_court_decision(
        outcome=AsylumOutcome.SUBSIDIARY, decided_on=date(2018, 3, 1), today=TODAY
    )
    file.record_asylum_decision_final(final_on=date(2018, 4, 5), today=TODAY)

    assert not file.asylum_pending
    assert file.protection_granted_on == date(2018, 3, 1)
    assert names(file)[-3:] == ["AsylumAppealFiled", "AsylumCourtDecided", "AsylumDecisionFinal"]


def test_court_decisions_need_an_action_and_a_final_decision_ends_the_procedure() -> None:
    file = arrived()
    file.file_asylum_application(filed_on=date(2015, 10, 20), today=TODAY)
    with pytest.raises(Contradiction, match="no decision of the BAMF"):
        file.file_asylum_appeal(filed_on=date(2016, 6, 10), today=TODAY)
    file.record_asylum_decision(
        outcome=AsylumOutcome.REJECTED, decided_on=date(2016, 6, 1), today=TODAY
    )
    with pytest.raises(Contradiction, match="no action"):
        file.record_court_decision(
            outcome=AsylumOutcome.REFUGEE, decided_on=date(2017, 1, 1), today=TODAY
        )
    with pytest.raises(Contradiction, match="before the decision"):
        file.file_asylum_appeal(filed_on=date(2016, 5, 1), today=TODAY)
    file.record_asylum_decision_final(final_on=date(2016, 6, 20), today=TODAY)

    with pytest.raises(Contradiction, match="became final"):
        file.file_asylum_appeal(filed_on=date(2016, 6, 25), today=TODAY)
    file.issue_duldung(
        ground=DuldungGround.GENERAL,
        valid_from=date(2016, 7, 1),
        valid_until=date(2016, 12, 31),
        today=TODAY,
    )


def test_nationality_given_up_or_kept_under_section_12_is_recorded_once_each() -> None:
    file = ResidenceFile.register_arrival(
        person_id=uuid4(),
        names_enc="hubenc:v1:n",
        birth_date_enc="hubenc:v1:b",
        azr_number_enc="hubenc:v1:a",
        abh_id="abh-05111",
        facts=ArrivalFacts(
            date(1995, 11, 2),
            ["TUR", "IRN"],
            date(2010, 1, 1),
            EntryMode.VISA,
            "05111000",
            date(2010, 1, 1),
        ),
        today=TODAY,
    )
    file.collect_events()

    with pytest.raises(InvalidValue, match="§ 12 StAG"):
        file.accept_multiple_nationality(
            nationality="IRN", paragraph="§ 25 AufenthG", decided_on=date(2023, 6, 1), today=TODAY
        )
    file.give_up_nationality(nationality="TUR", given_up_on=date(2023, 5, 1), today=TODAY)
    file.accept_multiple_nationality(
        nationality="IRN",
        paragraph="§ 12 Abs. 1 Satz 2 Nr. 1 StAG",
        decided_on=date(2023, 6, 1),
        today=TODAY,
    )

    assert names(file) == ["NationalityGivenUp", "MultipleNationalityAccepted"]
    with pytest.raises(Contradiction, match="already"):
        file.give_up_nationality(nationality="TUR", given_up_on=date(2023, 7, 1), today=TODAY)
    with pytest.raises(Contradiction, match="no nationality SYR"):
        file.give_up_nationality(nationality="SYR", given_up_on=date(2023, 7, 1), today=TODAY)


def test_a_waiver_of_language_or_test_names_its_ground_and_needs_no_application() -> None:
    # § 10 (6) StAG: illness, disability or age; a pre-check is an assessment before applying
    file = arrived()

    with pytest.raises(InvalidValue, match="ground"):
        file.assess_requirement(
            requirement=NaturalisationRequirement.LANGUAGE,
            outcome=RequirementOutcome.WAIVED,
            law_version="stag-2025",
            assessed_on=date(2026, 1, 15),
            today=TODAY,
        )
    with pytest.raises(InvalidValue, match="only a waiver of the language"):
        file.assess_requirement(
            requirement=NaturalisationRequirement.LIVELIHOOD,
            outcome=RequirementOutcome.MET,
            law_version="stag-2025",
            assessed_on=date(2026, 1, 15),
            today=TODAY,
            ground=WaiverGround.AGE,
        )
    file.assess_requirement(
        requirement=NaturalisationRequirement.LANGUAGE,
        outcome=RequirementOutcome.WAIVED,
        law_version="stag-2025",
        assessed_on=date(2026, 1, 15),
        today=TODAY,
        ground=WaiverGround.ILLNESS,
    )

    (assessed,) = file.collect_events()
    assert isinstance(assessed, ResidenceFile.NaturalisationRequirementAssessed)
    assert (assessed.ground, assessed.assessed_on) == ("illness", date(2026, 1, 15))
    assert file.naturalisation_applied_on is None


def test_a_settlement_permit_straight_after_a_visa_entry_is_accepted() -> None:
    # the national visa is a title (§ 4 (1) Nr. 1, § 6 (3) AufenthG), sent or not
    file = arrived(date(2020, 3, 1), EntryMode.VISA)

    file.grant_residence_title(
        title=TitleKind.SETTLEMENT_PERMIT,
        paragraph="§ 18c Abs. 3 AufenthG",
        granted_on=date(2020, 4, 1),
        valid_from=date(2020, 4, 1),
        valid_until=None,
        conditions=[],
        today=TODAY,
    )

    # a family reunification entry is made on a visa too (§ 6 (3) with §§ 27-36a AufenthG)
    family = arrived(date(2020, 3, 1), EntryMode.FAMILY_REUNIFICATION)
    family.grant_residence_title(
        title=TitleKind.SETTLEMENT_PERMIT,
        paragraph="§ 35 AufenthG",
        granted_on=date(2020, 4, 1),
        valid_from=date(2020, 4, 1),
        valid_until=None,
        conditions=[],
        today=TODAY,
    )

    other = arrived(date(2020, 3, 1), EntryMode.VISA_FREE)
    with pytest.raises(Contradiction, match="settlement permit"):
        other.grant_residence_title(
            title=TitleKind.SETTLEMENT_PERMIT,
            paragraph="§ 18c Abs. 3 AufenthG",
            granted_on=date(2020, 4, 1),
            valid_from=date(2020, 4, 1),
            valid_until=None,
            conditions=[],
            today=TODAY,
        )


def test_a_manifestly_unfounded_rejection_ends_the_procedure_unless_a_court_orders() -> None:
    """§§ 30, 75 (1), 67 (1) Nr. 4 AsylG: after a rejection as manifestly unfounded the
    Gestattung is gone even while an action is pending (a Duldung may be issued); a court's
    order of the suspensive effect (§ 80 (5) VwGO, § 37 (1) AsylG) makes the rejection
    ineffective and the BAMF decides again."""
    file = arrived()
    file.file_asylum_application(filed_on=date(2016, 1, 10), today=TODAY)
    with pytest.raises(InvalidValue, match="only a rejection"):
        file.record_asylum_decision(
            outcome=AsylumOutcome.REFUGEE,
            decided_on=date(2016, 6, 1),
            manifestly_unfounded=True,
            today=TODAY,
        )
    file.record_asylum_decision(
        outcome=AsylumOutcome.REJECTED,
        decided_on=date(2016, 6, 1),
        manifestly_unfounded=True,
        today=TODAY,
    )
    file.file_asylum_appeal(filed_on=date(2016, 6, 5), today=TODAY)

    assert file.asylum_pending is False
    file.issue_duldung(
        ground=DuldungGround.GENERAL,
        valid_from=date(2016, 6, 10),
        valid_until=date(2016, 12, 9),
        today=TODAY,
    )

    file.order_suspensive_effect(ordered_on=date(2016, 6, 20), today=TODAY)
    assert file.asylum_pending is True
    with pytest.raises(Contradiction, match="manifestly unfounded"):
        file.order_suspensive_effect(ordered_on=date(2016, 7, 1), today=TODAY)
    file.record_asylum_decision(
        outcome=AsylumOutcome.REFUGEE, decided_on=date(2017, 3, 1), today=TODAY
    )
    assert file.protection_granted_on == date(2017, 3, 1)
    assert names(file) == [
        "AsylumApplicationFiled",
        "AsylumDecisionReceived",
        "AsylumAppealFiled",
        "DuldungIssued",
        "AsylumSuspensiveEffectOrdered",
        "AsylumDecisionReceived",
    ]


def test_an_ordinary_rejection_cannot_get_a_suspensive_effect_order() -> None:
    file = arrived()
    file.file_asylum_application(filed_on=date(2016, 1, 10), today=TODAY)
    file.record_asylum_decision(
        outcome=AsylumOutcome.REJECTED, decided_on=date(2016, 6, 1), today=TODAY
    )

    with pytest.raises(Contradiction, match="no rejection as manifestly unfounded"):
        file.order_suspensive_effect(ordered_on=date(2016, 6, 20), today=TODAY)


def test_a_refusal_needs_a_pending_application_and_ends_it() -> None:
    file = arrived(date(2020, 3, 1), EntryMode.VISA)
    with pytest.raises(Contradiction, match="no application for a title is pending"):
        file.refuse_title(paragraph="§ 18b AufenthG", refused_on=date(2021, 1, 1), today=TODAY)
    file.apply_for_title(paragraph="§ 18b AufenthG", applied_on=date(2021, 1, 1), today=TODAY)
    with pytest.raises(Contradiction, match="before the application"):
        file.refuse_title(paragraph="§ 18b AufenthG", refused_on=date(2020, 12, 1), today=TODAY)

    file.refuse_title(paragraph="§ 18b AufenthG", refused_on=date(2021, 3, 1), today=TODAY)

    assert file.title_applied_on is None
    assert names(file)[-1] == "ResidenceTitleRefused"
