"""Person-free, one-line summaries of contract events for the timeline, and what each reveals.

A summary never contains names, birth dates, file numbers, free text or any ciphertext: only
what the event type and its coded fields say. ``categories`` are the data categories a reader
needs consent for (see ``projections.timeline.visibility``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from contracts import Payload
from contracts import case_management as cm
from contracts import foreigners_authority as fa

_ENTRY_MODES = {
    "visa": "with a visa",
    "visa_free": "visa-free",
    "asylum": "seeking asylum",
    "temporary_protection": "for temporary protection (§ 24 AufenthG)",
    "eu_free_movement": "under EU free movement",
    "family_reunification": "for family reunification",
    "other": "",
}

_TITLES = {
    "national_visa": "National visa",
    "residence_permit": "Residence permit",
    "eu_blue_card": "EU Blue Card",
    "ict_card": "ICT card",
    "settlement_permit": "Settlement permit",
    "eu_long_term_residence": "EU long-term residence permit",
}

CONSENT = "consent"  # rows about a consent itself: visible to the agencies it names
RESIDENCE = ("residence",)
CASE_BASIC = ("case_basic",)
_DOMAIN_CATEGORY = {
    "residence": "residence",
    "language": "language",
    "education": "education",
    "work": "work",
    "housing": "housing",
    "health": "health",
    "family": "family",
}


@dataclass(frozen=True)
class Description:
    summary: str
    categories: tuple[str, ...]


def _w(text: str) -> str:
    return text.replace("_", " ")


def _list(values: Any) -> str:
    return ", ".join(_w(str(v)) for v in values)


def _d(value: date) -> str:
    return value.isoformat()


def _title(p: fa.ResidenceTitleGranted) -> str:
    name = _TITLES.get(p.title, p.title)
    until = f"until {_d(p.valid_until)}" if p.valid_until else "unlimited"
    return f"{name} granted ({p.paragraph}), valid from {_d(p.valid_from)}, {until}"


def _needs(p: cm.NeedsAssessed) -> Description:
    return Description(
        "Needs assessed: " + ", ".join(f"{_w(d)} {level}" for d, level in sorted(p.needs.items())),
        tuple(sorted({_DOMAIN_CATEGORY.get(d, d) for d in p.needs})),
    )


DESCRIBE: dict[type[Payload], Callable[[Any], Description]] = {
    fa.PersonRegistered: lambda p: Description(f"Residence file opened at {p.abh_id}", RESIDENCE),
    fa.EntryRecorded: lambda p: Description(
        f"Entered Germany on {_d(p.entry_date)} {_ENTRY_MODES.get(str(p.entry_mode), '')}".rstrip(),
        RESIDENCE,
    ),
    fa.ResidenceRegistered: lambda p: Description(
        f"Residence registered in municipality {p.municipality_key} on {p.registered_on}", RESIDENCE
    ),
    fa.ResidenceTitleGranted: lambda p: Description(_title(p), RESIDENCE),
    fa.AsylumApplicationFiled: lambda p: Description(
        f"Asylum applied for on {_d(p.filed_on)} (Aufenthaltsgestattung)", RESIDENCE
    ),
    fa.AsylumDecisionReceived: lambda p: Description(
        f"Asylum decision: {_w(p.outcome)} ({_d(p.decided_on)})", RESIDENCE
    ),
    fa.DuldungIssued: lambda p: Description(
        f"Duldung ({_w(p.ground)}) from {_d(p.valid_from)} until {_d(p.valid_until)}", RESIDENCE
    ),
    fa.ResidenceTitleApplied: lambda p: Description(
        f"Residence title applied for ({p.paragraph}) on {_d(p.applied_on)}", RESIDENCE
    ),
    fa.ResidenceTitleRefused: lambda p: Description(
        f"Residence title refused ({p.paragraph}) on {_d(p.refused_on)}", RESIDENCE
    ),
    fa.FiktionsbescheinigungIssued: lambda p: Description(
        f"Fiktionsbescheinigung (§ {p.kind.replace('_', ' Abs. ')} AufenthG) until "
        f"{_d(p.valid_until)}",
        RESIDENCE,
    ),
    fa.TemporaryProtectionGranted: lambda p: Description(
        f"Temporary protection (§ 24 AufenthG) from {_d(p.valid_from)} until {_d(p.valid_until)}",
        RESIDENCE,
    ),
    fa.TemporaryProtectionExtended: lambda p: Description(
        f"Temporary protection extended until {_d(p.valid_until)}", RESIDENCE
    ),
    fa.IntegrationCourseObligationImposed: lambda p: Description(
        f"Integration course obligation imposed by {_w(p.by)}", ("language",)
    ),
    fa.IntegrationCourseCompleted: lambda p: Description(
        f"Integration course completed at level {p.level}", ("language",)
    ),
    fa.LanguageCertificateRecorded: lambda p: Description(
        f"Language certificate {p.cefr_level} recorded", ("language",)
    ),
    fa.DepartureRecorded: lambda p: Description(f"Departed on {_d(p.departed_on)}", RESIDENCE),
    fa.StayAbroadBegan: lambda p: Description(
        f"Stay abroad from {_d(p.left_on)}"
        + (f", return permitted until {_d(p.permitted_until)}" if p.permitted_until else ""),
        RESIDENCE,
    ),
    fa.ReturnedFromAbroad: lambda p: Description(
        f"Returned from abroad on {_d(p.returned_on)}", RESIDENCE
    ),
    fa.AsylumAppealFiled: lambda p: Description(
        f"Action against the asylum decision brought on {_d(p.filed_on)}", RESIDENCE
    ),
    fa.AsylumCourtDecided: lambda p: Description(
        f"Court decision on asylum: {_w(p.outcome)} ({_d(p.decided_on)})", RESIDENCE
    ),
    fa.AsylumSuspensiveEffectOrdered: lambda p: Description(
        f"Court ordered the suspensive effect of the action ({_d(p.ordered_on)})", RESIDENCE
    ),
    fa.AsylumDecisionFinal: lambda p: Description(
        f"Asylum decision final on {_d(p.final_on)}", RESIDENCE
    ),
    fa.NationalityGivenUp: lambda p: Description(
        f"Nationality {p.nationality} given up on {_d(p.given_up_on)}", RESIDENCE
    ),
    fa.MultipleNationalityAccepted: lambda p: Description(
        f"Nationality {p.nationality} may be kept ({p.paragraph}), {_d(p.decided_on)}", RESIDENCE
    ),
    fa.ConsentConfirmed: lambda p: Description(
        f"Consent confirmed by the foreigners authority on {_d(p.confirmed_on)}", RESIDENCE
    ),
    fa.ConsentDeclined: lambda p: Description(
        f"Consent declined by the foreigners authority on {_d(p.declined_on)}", RESIDENCE
    ),
    fa.CaseFileTransferred: lambda p: Description(
        f"File transferred to {p.to_abh} on {_d(p.transferred_on)}", RESIDENCE
    ),
    fa.NaturalisationApplied: lambda p: Description(
        f"Naturalisation applied for ({p.channel}) on {_d(p.applied_on)}", RESIDENCE
    ),
    fa.NaturalisationRequirementAssessed: lambda p: Description(
        f"Naturalisation requirement {_w(p.requirement)}: {_w(p.outcome)} ({p.law_version})",
        RESIDENCE,
    ),
    fa.NaturalisationTestPassed: lambda p: Description(
        f"Naturalisation test passed on {_d(p.passed_on)}", RESIDENCE
    ),
    fa.NaturalisationAssured: lambda p: Description(
        f"Naturalisation assured on {_d(p.assured_on)}", RESIDENCE
    ),
    fa.NaturalisationCompleted: lambda p: Description(
        f"Naturalised: certificate handed over on {_d(p.certificate_date)}", RESIDENCE
    ),
    cm.ClientRegistered: lambda p: Description("Registered with KIM case management", CASE_BASIC),
    cm.CaseOpened: lambda p: Description(
        f"Case opened at {p.agency} ({_w(p.target_group)}; "
        f"{_list(p.legal_spheres) or 'no legal sphere yet'}; intake: {_w(p.intake_source)}"
        f"{'; interpreter needed' if p.interpreter_needed else ''})",
        CASE_BASIC,
    ),
    cm.NeedsAssessed: _needs,
    cm.GoalAgreed: lambda p: Description(
        f"Goal agreed in {_w(p.domain)}, target date {_d(p.target_date)}",
        (_DOMAIN_CATEGORY.get(p.domain, p.domain),),
    ),
    cm.CaseConferenceHeld: lambda p: Description(
        f"Case conference held on {_d(p.held_on)} with {_list(p.participants)}", CASE_BASIC
    ),
    cm.LegalSphereChanged: lambda p: Description(
        f"Legal sphere changed {_w(p.from_sphere or 'none')} -> {_w(p.to_sphere)} "
        f"from {_d(p.effective)}",
        ("social_benefits",),
    ),
    cm.CaseClosed: lambda p: Description(
        f"Case closed on {_d(p.closed_on)} ({_w(p.reason)})", CASE_BASIC
    ),
    cm.CaseReopened: lambda p: Description(
        f"Case reopened on {_d(p.reopened_on)} ({_w(p.reason)})", CASE_BASIC
    ),
    cm.ConsentGranted: lambda p: Description(
        f"Consent granted to {_list(p.recipients)} for {_list(p.categories)} "
        f"({_list(p.purposes)}), valid until {_d(p.valid_until)}",
        (CONSENT,),
    ),
    cm.ConsentWithdrawn: lambda p: Description(
        f"Consent withdrawn on {_d(p.withdrawn_on)}", (CONSENT,)
    ),
    cm.ConsentExpired: lambda p: Description(f"Consent expired on {_d(p.expired_on)}", (CONSENT,)),
    cm.ReferralSent: lambda p: Description(
        f"Referred to {p.to_agency} for {p.service} ({_w(p.purpose)}; shares "
        f"{_list(p.shared_categories)})",
        CASE_BASIC,
    ),
    cm.ReferralAccepted: lambda p: Description(f"Referral accepted by {p.by}", CASE_BASIC),
    cm.ReferralDeclined: lambda p: Description(
        f"Referral declined by {p.by} ({_w(p.reason)})", CASE_BASIC
    ),
    cm.ReferralCompleted: lambda p: Description(
        f"Referral completed by {p.by} ({_w(p.outcome)})", CASE_BASIC
    ),
    cm.MediationRequested: lambda p: Description(
        f"Language mediation ({p.language}) requested for {p.starts_at.isoformat()}", ("language",)
    ),
    cm.MediatorAssigned: lambda p: Description("Language mediator assigned", ("language",)),
    cm.MediationUnserved: lambda p: Description(
        "No language mediator available for the appointment", ("language",)
    ),
}


def describe(payload: Payload) -> Description | None:
    """The row's summary and categories, or None when the event is not on a timeline."""
    render = DESCRIBE.get(type(payload))
    return render(payload) if render else None
