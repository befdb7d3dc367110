"""Case-management read models: case view, referral inbox, caseload, mediator calendar."""

from __future__ import annotations

import json
from datetime import date
from uuid import UUID

import asyncpg

from contracts import CloudEvent, Payload
from contracts import case_management as cm
from contracts.privacy import PersonalDataErased, ProcessingRestricted
from services.runtime.projection_base import Dispatch

NAME = "case_views"
SCHEMA = "projections"

on_event: Dispatch[asyncpg.Connection, None] = Dispatch()


@on_event.handles(cm.CaseOpened)
async def _case_opened(conn: asyncpg.Connection, e: CloudEvent, p: cm.CaseOpened) -> None:
    await conn.execute(
        "INSERT INTO projections.cv_cases (case_id, person_id, agency, case_manager,"
        " target_group, legal_spheres, intake_source, interpreter_needed, opened_on, status)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'open') ON CONFLICT DO NOTHING",
        UUID(p.case_id),
        UUID(p.person_id),
        p.agency,
        p.case_manager,
        p.target_group,
        list(p.legal_spheres),
        p.intake_source,
        p.interpreter_needed,
        p.opened_on,
    )


@on_event.handles(cm.NeedsAssessed)
async def _needs(conn: asyncpg.Connection, e: CloudEvent, p: cm.NeedsAssessed) -> None:
    await conn.execute(
        "UPDATE projections.cv_cases SET needs = needs || $2::jsonb WHERE case_id = $1",
        UUID(p.case_id),
        json.dumps(p.needs),
    )


@on_event.handles(cm.PrecheckAssessed)
async def _precheck(conn: asyncpg.Connection, e: CloudEvent, p: cm.PrecheckAssessed) -> None:
    await conn.execute(
        "INSERT INTO projections.cv_precheck (person_id, case_id, position, agency, role,"
        " requirement, outcome, assessed_on) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)"
        " ON CONFLICT DO NOTHING",
        UUID(p.person_id),
        UUID(p.case_id),
        e.sourceposition,
        e.sourceagency,
        e.actingrole,
        p.requirement,
        p.outcome,
        p.assessed_on,
    )


@on_event.handles(cm.GoalAgreed)
async def _goal(conn: asyncpg.Connection, e: CloudEvent, p: cm.GoalAgreed) -> None:
    await conn.execute(
        "INSERT INTO projections.cv_goals (goal_id, case_id, domain, target_date, agreed_at)"
        " VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
        UUID(p.goal_id),
        UUID(p.case_id),
        p.domain,
        p.target_date,
        e.time,
    )


@on_event.handles(cm.CaseConferenceHeld)
async def _conference(conn: asyncpg.Connection, e: CloudEvent, p: cm.CaseConferenceHeld) -> None:
    await conn.execute(
        "UPDATE projections.cv_cases SET conferences = conferences + 1,"
        " last_conference = GREATEST(last_conference, $2) WHERE case_id = $1",
        UUID(p.case_id),
        p.held_on,
    )
    await conn.execute(
        "INSERT INTO projections.cv_conferences (case_id, position, held_on, participants)"
        " VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
        UUID(p.case_id),
        e.sourceposition,
        p.held_on,
        list(p.participants),
    )


@on_event.handles(cm.LegalSphereChanged)
async def _sphere(conn: asyncpg.Connection, e: CloudEvent, p: cm.LegalSphereChanged) -> None:
    await conn.execute(
        "UPDATE projections.cv_cases SET legal_spheres ="
        " (SELECT array_agg(DISTINCT s ORDER BY s) FROM unnest(array_remove(legal_spheres, $2)"
        " || ARRAY[$3]) AS s) WHERE case_id = $1",
        UUID(p.case_id),
        p.from_sphere,
        p.to_sphere,
    )
    await conn.execute(
        "INSERT INTO projections.cv_sphere_changes (case_id, position, from_sphere, to_sphere,"
        " effective_on) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
        UUID(p.case_id),
        e.sourceposition,
        p.from_sphere,
        p.to_sphere,
        p.effective,
    )


@on_event.handles(cm.CaseClosed)
async def _closed(conn: asyncpg.Connection, e: CloudEvent, p: cm.CaseClosed) -> None:
    await conn.execute(
        "UPDATE projections.cv_cases SET status = 'closed', closed_on = $2, close_reason = $3"
        " WHERE case_id = $1",
        UUID(p.case_id),
        p.closed_on,
        p.reason,
    )


@on_event.handles(cm.CaseReopened)
async def _reopened(conn: asyncpg.Connection, e: CloudEvent, p: cm.CaseReopened) -> None:
    await conn.execute(
        "UPDATE projections.cv_cases SET status = 'open', closed_on = NULL, close_reason = NULL"
        " WHERE case_id = $1",
        UUID(p.case_id),
    )


@on_event.handles(cm.ConsentGranted)
async def _consent(conn: asyncpg.Connection, e: CloudEvent, p: cm.ConsentGranted) -> None:
    await conn.execute(
        "INSERT INTO projections.cv_consents (consent_id, case_id, person_id, recipients,"
        " categories, purposes, special_explicit, valid_from, valid_until, language, mutual,"
        " status) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,'active') ON CONFLICT DO NOTHING",
        UUID(p.consent_id),
        UUID(p.case_id),
        UUID(p.person_id),
        list(p.recipients),
        list(p.categories),
        list(p.purposes),
        p.special_categories_explicit,
        p.valid_from,
        p.valid_until,
        p.language,
        p.mutual,
    )


@on_event.handles(cm.ConsentWithdrawn)
async def _withdrawn(conn: asyncpg.Connection, e: CloudEvent, p: cm.ConsentWithdrawn) -> None:
    await _consent_ended(conn, e, p.consent_id, "withdrawn", p.withdrawn_on)


@on_event.handles(cm.ConsentExpired)
async def _expired(conn: asyncpg.Connection, e: CloudEvent, p: cm.ConsentExpired) -> None:
    await _consent_ended(conn, e, p.consent_id, "expired", p.expired_on)


async def _consent_ended(
    conn: asyncpg.Connection, e: CloudEvent, consent_id: str, status: str, on: date
) -> None:
    await conn.execute(
        "UPDATE projections.cv_consents SET status = $2, ended_on = $3 WHERE consent_id = $1",
        UUID(consent_id),
        status,
        on,
    )
    await conn.execute(  # the receiving agencies see the consent end on their referrals
        "UPDATE projections.cv_referrals SET version = $2 WHERE consent_id = $1",
        UUID(consent_id),
        e.sourceposition,
    )


@on_event.handles(cm.ReferralSent)
async def _referral(conn: asyncpg.Connection, e: CloudEvent, p: cm.ReferralSent) -> None:
    await conn.execute(
        "INSERT INTO projections.cv_referrals (referral_id, case_id, person_id, from_agency,"
        " to_agency, service, consent_id, shared_categories, purpose, status, sent_at, version)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,'sent',$10,$11) ON CONFLICT DO NOTHING",
        UUID(p.referral_id),
        UUID(p.case_id),
        UUID(p.person_id),
        p.from_agency,
        p.to_agency,
        p.service,
        UUID(p.consent_id),
        list(p.shared_categories),
        p.purpose,
        e.time,
        e.sourceposition,
    )


@on_event.handles(cm.ReferralAccepted)
async def _accepted(conn: asyncpg.Connection, e: CloudEvent, p: cm.ReferralAccepted) -> None:
    await _answered(conn, e, p.referral_id, "accepted")


@on_event.handles(cm.ReferralDeclined)
async def _declined(conn: asyncpg.Connection, e: CloudEvent, p: cm.ReferralDeclined) -> None:
    await _answered(conn, e, p.referral_id, "declined", reason=p.reason)


@on_event.handles(cm.ReferralCompleted)
async def _completed(conn: asyncpg.Connection, e: CloudEvent, p: cm.ReferralCompleted) -> None:
    await _answered(conn, e, p.referral_id, "completed", outcome=p.outcome)


async def _answered(
    conn: asyncpg.Connection,
    e: CloudEvent,
    referral_id: str,
    status: str,
    *,
    reason: str | None = None,
    outcome: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE projections.cv_referrals SET status = $2, answered_at = $3,"
        " decline_reason = COALESCE($4, decline_reason), outcome = COALESCE($5, outcome),"
        " version = $6 WHERE referral_id = $1",
        UUID(referral_id),
        status,
        e.time,
        reason,
        outcome,
        e.sourceposition,
    )


@on_event.handles(cm.MediatorPoolCreated)
async def _pool(conn: asyncpg.Connection, e: CloudEvent, p: cm.MediatorPoolCreated) -> None:
    await conn.execute(
        "INSERT INTO projections.cv_pools (pool_id, agency) VALUES ($1,$2) ON CONFLICT DO NOTHING",
        UUID(p.pool_id),
        p.municipality,
    )


@on_event.handles(cm.MediatorRegistered)
async def _mediator(conn: asyncpg.Connection, e: CloudEvent, p: cm.MediatorRegistered) -> None:
    await conn.execute(
        "INSERT INTO projections.cv_mediators (mediator_id, pool_id, languages, availability,"
        " pledge_signed_on) VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
        UUID(p.mediator_id),
        UUID(p.pool_id),
        list(p.languages),
        list(p.availability),
        p.pledge_signed_on,
    )


@on_event.handles(cm.MediatorPledgeSigned)
async def _pledge(conn: asyncpg.Connection, e: CloudEvent, p: cm.MediatorPledgeSigned) -> None:
    await conn.execute(
        "UPDATE projections.cv_mediators SET pledge_signed_on = $2 WHERE mediator_id = $1",
        UUID(p.mediator_id),
        p.signed_on,
    )


@on_event.handles(cm.MediationRequested)
async def _requested(conn: asyncpg.Connection, e: CloudEvent, p: cm.MediationRequested) -> None:
    await conn.execute(
        "INSERT INTO projections.cv_mediation (request_id, case_id, agency, language, starts_at,"
        " minutes, status) VALUES ($1,$2,$3,$4,$5,$6,'requested') ON CONFLICT DO NOTHING",
        UUID(p.request_id),
        UUID(p.case_id),
        p.agency,
        p.language,
        p.starts_at,
        p.minutes,
    )


@on_event.handles(cm.MediatorAssigned)
async def _assigned(conn: asyncpg.Connection, e: CloudEvent, p: cm.MediatorAssigned) -> None:
    await conn.execute(
        "UPDATE projections.cv_mediation SET status = 'assigned', mediator_id = $2, reason = NULL"
        " WHERE request_id = $1",
        UUID(p.request_id),
        UUID(p.mediator_id),
    )


@on_event.handles(cm.MediationUnserved)
async def _unserved(conn: asyncpg.Connection, e: CloudEvent, p: cm.MediationUnserved) -> None:
    await conn.execute(
        "UPDATE projections.cv_mediation SET status = 'unserved', reason = $2"
        " WHERE request_id = $1",
        UUID(p.request_id),
        p.reason,
    )


@on_event.handles(cm.SystemicGapReported)
async def _gap(conn: asyncpg.Connection, e: CloudEvent, p: cm.SystemicGapReported) -> None:
    await conn.execute(
        "INSERT INTO projections.cv_gaps (gap_id, category, legal_sphere, description,"
        " affected_count, agency, reported_on) VALUES ($1,$2,$3,$4,$5,$6,$7)"
        " ON CONFLICT DO NOTHING",
        UUID(p.gap_id),
        p.category,
        p.legal_sphere,
        p.description,
        p.affected_count,
        p.agency,
        p.reported_on,
    )


@on_event.handles(PersonalDataErased, ProcessingRestricted)
async def _erased(
    conn: asyncpg.Connection, e: CloudEvent, p: PersonalDataErased | ProcessingRestricted
) -> None:
    """The person's cases are hidden from every read and keep only what the pseudonymous
    statistics count (target group, dates); their goals, needs, consents, legal-sphere changes
    and conferences are dropped, and with the consents their referrals leave the partner
    agencies' inboxes (the referral rows stay for the referral statistics)."""
    person = UUID(p.person_id)
    cases = "SELECT case_id FROM projections.cv_cases WHERE person_id = $1"
    for table in ("cv_goals", "cv_sphere_changes", "cv_conferences"):
        await conn.execute(f"DELETE FROM projections.{table} WHERE case_id IN ({cases})", person)
    await conn.execute("DELETE FROM projections.cv_consents WHERE person_id = $1", person)
    await conn.execute("DELETE FROM projections.cv_precheck WHERE person_id = $1", person)
    await conn.execute(
        "UPDATE projections.cv_cases SET erased = true, needs = '{}' WHERE person_id = $1", person
    )


class CaseViewsProjection:
    """Applies case-management events to the ``cv_*`` tables (idempotent by their keys)."""

    async def begin(self, conn: asyncpg.Connection) -> None:
        return None

    async def apply(self, conn: asyncpg.Connection, event: CloudEvent, payload: Payload) -> None:
        await on_event(conn, event, payload)

    async def flush(self, conn: asyncpg.Connection) -> None:
        await conn.execute("SELECT pg_notify('hub_case_views', '')")

    async def committed(self, events: list[CloudEvent]) -> None:
        return None
