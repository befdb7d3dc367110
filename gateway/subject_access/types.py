"""GraphQL types of the Art. 15 report (the data-protection officer's only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry
from strawberry.scalars import JSON


@strawberry.type(description="What one service holds on the person")
class SubjectAccessHoldings:
    service: str
    status: str = strawberry.field(
        description="found, unknown, erased (the person's key was destroyed), none_by_design "
        "or unavailable (the service did not answer)"
    )
    data: JSON | None = strawberry.field(description="the service's data in clear text, if found")
    restricted: bool = strawberry.field(
        description="the processing of the data is restricted (Art. 18 GDPR): kept, not used"
    )


@strawberry.type(description="The foreigners authority's decision on a consent")
class SubjectAccessDecision:
    consent_id: strawberry.ID | None
    decision: str = strawberry.field(description="confirmed or declined")
    on: dt.date | None


@strawberry.type(description="A consent the person gave, with the authority's decisions on it")
class SubjectAccessConsent:
    id: strawberry.ID
    case_id: strawberry.ID
    recipients: list[str]
    categories: list[str]
    purposes: list[str]
    valid_from: dt.date
    valid_until: dt.date
    status: str = strawberry.field(description="active, withdrawn or expired")
    ended_on: dt.date | None
    authority_decisions: list[SubjectAccessDecision]


@strawberry.type(description="A referral: the person's data sent to a partner agency")
class SubjectAccessReferral:
    to_agency: str
    from_agency: str
    service: str
    shared_categories: list[str]
    purpose: str
    status: str
    sent_at: dt.datetime | None


@strawberry.type(description="An agency that read the person's data, from the access log")
class SubjectAccessReader:
    agency: str
    role: str
    reads: int
    first: dt.datetime
    last: dt.datetime


@strawberry.type(description="Who received the person's data")
class SubjectAccessRecipients:
    referrals: list[SubjectAccessReferral]
    readers: list[SubjectAccessReader]
    authority_confirmations: list[SubjectAccessDecision]


@strawberry.type(description="One read about the person: when, who, what, for which purpose")
class SubjectAccessLogEntry:
    at: dt.datetime
    subject: str
    agency: str
    role: str
    action: str
    purpose: str


@strawberry.type(description="The Art. 15 GDPR report on a person")
class SubjectAccessReport:
    person_id: strawberry.ID
    generated_at: dt.datetime
    services: list[SubjectAccessHoldings]
    consents: list[SubjectAccessConsent]
    recipients: SubjectAccessRecipients
    access_log: list[SubjectAccessLogEntry]
    document: JSON = strawberry.field(description="the whole report as one JSON document")


def _date(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value else None


def _instant(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value))


def _decision(d: dict[str, Any]) -> SubjectAccessDecision:
    consent = d.get("consent_id")
    return SubjectAccessDecision(
        consent_id=strawberry.ID(str(consent)) if consent else None,
        decision=d["decision"],
        on=_date(d.get("on")),
    )


def from_document(document: dict[str, Any]) -> SubjectAccessReport:
    """The typed report from the JSON document ``gateway.subject_access.report`` produced."""
    recipients = document["recipients"]
    return SubjectAccessReport(
        person_id=strawberry.ID(document["person_id"]),
        generated_at=_instant(document["generated_at"]),
        services=[
            SubjectAccessHoldings(
                service=h["service"],
                status=h["status"],
                data=h.get("data"),
                restricted=bool(h.get("restricted")),
            )
            for h in document["services"]
        ],
        consents=[
            SubjectAccessConsent(
                id=strawberry.ID(str(c["consent_id"])),
                case_id=strawberry.ID(str(c["case_id"])),
                recipients=c["recipients"],
                categories=c["categories"],
                purposes=c["purposes"],
                valid_from=dt.date.fromisoformat(c["valid_from"]),
                valid_until=dt.date.fromisoformat(c["valid_until"]),
                status=c["status"],
                ended_on=_date(c.get("ended_on")),
                authority_decisions=[_decision(d) for d in c["authority_decisions"]],
            )
            for c in document["consents"]
        ],
        recipients=SubjectAccessRecipients(
            referrals=[
                SubjectAccessReferral(
                    to_agency=r["to_agency"],
                    from_agency=r["from_agency"],
                    service=r["service"],
                    shared_categories=r["shared_categories"],
                    purpose=r["purpose"],
                    status=r["status"],
                    sent_at=_instant(r["sent_at"]) if r.get("sent_at") else None,
                )
                for r in recipients["referrals"]
            ],
            readers=[
                SubjectAccessReader(
                    agency=r["agency"],
                    role=r["role"],
                    reads=r["reads"],
                    first=_instant(r["first"]),
                    last=_instant(r["last"]),
                )
                for r in recipients["readers"]
            ],
            authority_confirmations=[_decision(d) for d in recipients["authority_confirmations"]],
        ),
        access_log=[
            SubjectAccessLogEntry(
                at=_instant(e["at"]),
                subject=e["subject"],
                agency=e["agency"],
                role=e["role"],
                action=e["action"],
                purpose=e["purpose"],
            )
            for e in document["access_log"]
        ],
        document=JSON(document),
    )
