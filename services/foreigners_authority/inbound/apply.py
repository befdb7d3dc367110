"""What each inbound message does to the residence file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from services.foreigners_authority.codelists import load_codelists
from services.foreigners_authority.domain import ResidenceFile
from services.foreigners_authority.inbound import messages as m

Change = Callable[[ResidenceFile, date], None]
#: the paragraph whose limit (code lists) temporary protection is checked against
TEMPORARY_PROTECTION = "§ 24 AufenthG"


def check_codes(body: Any) -> None:
    """Check the body's codes against the code lists (title paragraphs, AGS)."""
    codes = load_codelists()
    if isinstance(body, m.TitleGranted):
        codes.check_title(str(body.title), body.paragraph)
        codes.check_limit(body.paragraph, body.valid_until)
    elif isinstance(body, m.ProtectionGranted | m.ProtectionExtended):
        codes.check_limit(TEMPORARY_PROTECTION, body.valid_until)
    elif isinstance(body, m.TitleApplied | m.TitleRefused):
        codes.check_paragraph(body.paragraph)
    elif isinstance(body, m.AddressChange):
        codes.check_municipality(body.municipality_key)


def change_for(body: Any) -> Change:
    """The domain call a message body stands for (new persons are handled by the caller)."""
    if isinstance(body, m.AddressChange):
        return lambda f, t: f.change_residence(
            municipality_key=body.municipality_key, registered_on=body.registered_on, today=t
        )
    if isinstance(body, m.TitleGranted):
        return lambda f, t: f.grant_residence_title(
            title=body.title,
            paragraph=body.paragraph,
            granted_on=body.granted_on,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            conditions=list(body.conditions),
            today=t,
        )
    if isinstance(body, m.TitleApplied):
        return lambda f, t: f.apply_for_title(
            paragraph=body.paragraph, applied_on=body.applied_on, today=t
        )
    if isinstance(body, m.TitleRefused):
        return lambda f, t: f.refuse_title(
            paragraph=body.paragraph, refused_on=body.refused_on, today=t
        )
    if isinstance(body, m.FiktionIssued):
        return lambda f, t: f.issue_fiktion(
            kind=body.fiktion, issued_on=body.issued_on, valid_until=body.valid_until, today=t
        )
    if isinstance(body, m.DuldungIssued):
        return lambda f, t: f.issue_duldung(
            ground=body.ground, valid_from=body.valid_from, valid_until=body.valid_until, today=t
        )
    if isinstance(body, m.ProtectionGranted):
        return lambda f, t: f.grant_temporary_protection(
            valid_from=body.valid_from, valid_until=body.valid_until, today=t
        )
    if isinstance(body, m.ProtectionExtended):
        return lambda f, t: f.extend_temporary_protection(valid_until=body.valid_until, today=t)
    if isinstance(body, m.Departure):
        return lambda f, t: f.record_departure(departed_on=body.departed_on, today=t)
    if isinstance(body, m.StayAbroad):
        return lambda f, t: f.record_stay_abroad(
            left_on=body.left_on, permitted_until=body.permitted_until, today=t
        )
    if isinstance(body, m.Returned):
        return lambda f, t: f.record_return(returned_on=body.returned_on, today=t)
    if isinstance(body, m.AppealFiled):
        return lambda f, t: f.file_asylum_appeal(filed_on=body.filed_on, today=t)
    if isinstance(body, m.CourtDecision):
        return lambda f, t: f.record_court_decision(
            outcome=body.outcome, decided_on=body.decided_on, today=t
        )
    if isinstance(body, m.DecisionFinal):
        return lambda f, t: f.record_asylum_decision_final(final_on=body.final_on, today=t)
    if isinstance(body, m.NationalityGivenUp):
        return lambda f, t: f.give_up_nationality(
            nationality=body.nationality, given_up_on=body.given_up_on, today=t
        )
    if isinstance(body, m.MultipleNationalityAccepted):
        return lambda f, t: f.accept_multiple_nationality(
            nationality=body.nationality,
            paragraph=body.paragraph,
            decided_on=body.decided_on,
            today=t,
        )
    if isinstance(body, m.AsylumFiled):
        return lambda f, t: f.file_asylum_application(filed_on=body.filed_on, today=t)
    if isinstance(body, m.AsylumDecided):
        return lambda f, t: f.record_asylum_decision(
            outcome=body.outcome,
            decided_on=body.decided_on,
            manifestly_unfounded=body.manifestly_unfounded,
            today=t,
        )
    if isinstance(body, m.SuspensiveEffectOrdered):
        return lambda f, t: f.order_suspensive_effect(ordered_on=body.ordered_on, today=t)
    if isinstance(body, m.CourseObligation):
        return lambda f, t: f.impose_course_obligation(
            by=body.by, imposed_on=body.imposed_on, today=t
        )
    if isinstance(body, m.CourseCompleted):
        return lambda f, t: f.complete_integration_course(
            level=body.level,
            completed_on=body.completed_on,
            final_test_passed=body.final_test_passed,
            today=t,
        )
    if isinstance(body, m.LanguageCertificate):
        return lambda f, t: f.record_language_certificate(
            cefr_level=body.cefr_level, issued_on=body.issued_on, today=t
        )
    if isinstance(body, m.Transfer):
        return lambda f, t: f.transfer_file(
            to_abh=body.to_abh, transferred_on=body.transferred_on, today=t
        )
    if isinstance(body, m.NaturalisationApplied):
        return lambda f, t: f.apply_for_naturalisation(
            channel=body.channel, applied_on=body.applied_on, today=t
        )
    if isinstance(body, m.RequirementAssessed):
        return lambda f, t: f.assess_requirement(
            requirement=body.requirement,
            outcome=body.outcome,
            law_version=body.law_version,
            assessed_on=body.assessed_on,
            ground=body.ground,
            today=t,
        )
    if isinstance(body, m.TestPassed):
        return lambda f, t: f.record_naturalisation_test(
            passed_on=body.passed_on, test=body.test, points=body.points, today=t
        )
    if isinstance(body, m.Assured):
        return lambda f, t: f.assure_naturalisation(assured_on=body.assured_on, today=t)
    if isinstance(body, m.Completed):
        return lambda f, t: f.complete_naturalisation(
            certificate_date=body.certificate_date, today=t
        )
    raise TypeError(f"no change for {type(body).__name__}")
