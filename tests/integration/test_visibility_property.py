"""Property: every read's consent check agrees with the domain's consent rule.

For random cases (person, holding agency), random consents recorded on them (status, end
date, recipients, categories, purposes, explicit flag), random timeline rows (source,
categories, owner agency, governing consent), random referrals and random readers (agency,
role), every read built on the one visibility module answers exactly what case management's
domain rule (``Consent.covers``) allows, released by the row's controller only (for the
foreigners authority's rows: the authority holding the person's file now, by confirming the
consent):

- the person timeline, and the subscription's check at delivery time: which rows;
- the pathway: whether the reader sees it at all (residence data), and its language facts;
- the referrals: each consent's status today, and whether the referral may still show what
  it shares (its recipient, categories and purpose covered today, and the read's purpose).

Every reader reads for a purpose drawn too (or none): a consent releases a fact only when it
names the read's purpose, and a read that names none is released nothing by any consent
(the domain's ``coverage`` of a ``None`` purpose covers nothing).

So nothing is shared without a covering consent, and a withdrawn or lapsed consent hides
every row it alone covered, on every read. And, stated apart from that oracle
(:func:`released`): no row reaches an agency unless the agency controls it or its controller
released it to that agency; a case manager's consent never releases the foreigners
authority's rows, and an authority's officers see only the persons whose file it holds.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from projections.case_views.queries import consents_of_cases, referrals
from projections.pathway.queries import pathway_access
from projections.schema import ensure
from projections.timeline.queries import new_rows, person_timeline
from projections.timeline.visibility import Reader
from services.case_management.domain.consent import Consent

TODAY = dt.date(2026, 6, 1)
AGENCIES = ["awo", "caritas", "jobcenter", "kim"]
AUTHORITY = "abh"  # a foreigners authority's agency
AUTHORITIES = [AUTHORITY, "abh-2"]
FA = "foreigners_authority"
CATEGORIES = ["case_basic", "work", "residence", "language", "health", "religion"]
PURPOSES = ["referral", "counselling", "housing_support"]
#: the purposes a read may name: those consents name, one no consent names, and none
READ_PURPOSES = [*PURPOSES, "benefit_processing", None]
PERSONS = [uuid.UUID(int=1), uuid.UUID(int=2)]
SOURCES = ["case_management", "foreigners_authority"]
ROLES = ["partner_agency", "case_manager", "abh_officer", "steering", "admin"]

#: Cases: whose person, held by which agency (the controller of the consents recorded on it;
#: ``None``: a case the projection never saw opened)
cases = st.lists(
    st.fixed_dictionaries(
        {"person": st.sampled_from(PERSONS), "agency": st.none() | st.sampled_from(AGENCIES)}
    ),
    min_size=1,
    max_size=3,
)
consents = st.lists(
    st.fixed_dictionaries(
        {
            "case": st.integers(0, 2),
            "status": st.sampled_from(["active", "withdrawn", "expired"]),
            "valid_until": st.dates(TODAY - dt.timedelta(days=3), TODAY + dt.timedelta(days=3)),
            "recipients": st.lists(st.sampled_from(AGENCIES), min_size=1, max_size=3, unique=True),
            "categories": st.lists(
                st.sampled_from(CATEGORIES), min_size=1, max_size=4, unique=True
            ),
            # the domain refuses a consent without a purpose
            "purposes": st.lists(st.sampled_from(PURPOSES), min_size=1, max_size=2, unique=True),
            "special": st.booleans(),
        }
    ),
    max_size=4,
)
rows = st.lists(
    st.fixed_dictionaries(
        {
            "person": st.sampled_from(PERSONS),
            "source": st.sampled_from(SOURCES),
            "categories": st.one_of(
                st.just(["consent"]),
                st.lists(st.sampled_from(CATEGORIES), min_size=0, max_size=3, unique=True),
            ),
            "owner": st.none() | st.sampled_from([*AGENCIES, *AUTHORITIES]),
            "consent": st.none() | st.integers(0, 4),
        }
    ),
    min_size=1,
    max_size=6,
)
referral_specs = st.lists(
    st.fixed_dictionaries(
        {
            "consent": st.integers(0, 3),
            "to": st.sampled_from(AGENCIES),
            "categories": st.lists(
                st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True
            ),
            "purpose": st.sampled_from(PURPOSES),
        }
    ),
    max_size=4,
)
readers = st.tuples(
    st.sampled_from([*AGENCIES, *AUTHORITIES]),
    st.sampled_from(ROLES),
    st.sampled_from(READ_PURPOSES),
)
#: which authority holds each person's file (``None``: no registration seen)
holder_specs = st.fixed_dictionaries({p: st.none() | st.sampled_from(AUTHORITIES) for p in PERSONS})
#: the authorities' latest decisions on consents: (consent index, authority) -> confirmed
decision_specs = st.dictionaries(
    st.tuples(st.integers(0, 3), st.sampled_from(AUTHORITIES)), st.booleans(), max_size=4
)


# -- the oracle: the domain's consent rule --------------------------------------------------


def domain_consent(spec: dict[str, Any]) -> Consent:
    """The domain aggregate in the state the spec describes (built without ``grant``'s
    checks, so that inconsistent read-model rows are covered too)."""
    granted_on = min(TODAY, spec["valid_until"]) - dt.timedelta(days=10)
    consent = Consent(
        person_id=spec["person"],
        case_id=spec["person"],
        recipients=spec["recipients"],
        categories=spec["categories"],
        purposes=spec["purposes"],
        special_categories_explicit=spec["special"],
        valid_from=granted_on,
        valid_until=spec["valid_until"],
        language="de",
        mutual=False,
    )
    if spec["status"] == "withdrawn":
        consent.withdraw(today=granted_on, recorded_by="kim")
    elif spec["status"] == "expired":
        consent.expire(today=spec["valid_until"] + dt.timedelta(days=1))
    return consent


def status_today(consent: Consent) -> str:
    if consent.status == "active" and not consent.is_active(TODAY):
        return "expired"
    return str(consent.status)


def covers(consent: Consent, agency: str, categories: list[str], purpose: str | None) -> bool:
    """The domain's rule for a read made for ``purpose`` (``None``: it named none)."""
    return consent.covers(
        recipient=agency, categories=categories, purpose=purpose, on=TODAY
    ).covered


def names(consent: Consent, purpose: str | None) -> bool:
    return purpose is not None and purpose in consent.purposes


@dataclass(frozen=True)
class World:
    """The consents (``domain[i]`` recorded by ``controllers[i]``), who holds each person's
    file, and the authorities' decisions on the consents."""

    domain: list[Consent]
    controllers: list[str | None]
    holders: dict[uuid.UUID, str | None]
    decisions: dict[tuple[int, str], bool]

    def confirmed_by_holder(self, index: int, person: uuid.UUID) -> bool:
        holder = self.holders[person]
        return holder is not None and self.decisions.get((index, holder)) is True


def may_see(
    fact: dict[str, Any], world: World, agency: str, role: str, purpose: str | None
) -> bool:
    """Who sees a fact about a person, read for ``purpose``: the roles' limits, then the
    controller's consent for that purpose.

    ``controllers[i]`` recorded ``domain[i]`` (the agency of its case): a consent releases
    only its controller's facts; the authority's facts only once the authority holding the
    file confirmed it.
    """
    domain, controllers = world.domain, world.controllers
    if role == "admin":
        return True
    if role == "abh_officer":
        return bool(fact["source"] == FA and world.holders[fact["person"]] == agency)
    if role == "steering":
        return False
    if fact["source"] == FA:
        return any(
            c.person_id == fact["person"]
            and world.confirmed_by_holder(i, fact["person"])
            and covers(c, agency, fact["categories"], purpose)
            for i, c in enumerate(domain)
        )
    if fact["owner"] is None:
        return False
    if fact["owner"] == agency:
        return True
    if fact["consent"] is not None:
        if fact["consent"] >= len(domain) or controllers[fact["consent"]] != fact["owner"]:
            return False
        governing = domain[fact["consent"]]
        if fact["categories"] == ["consent"]:
            return agency in governing.recipients and names(governing, purpose)
        return covers(governing, agency, [], purpose)
    return any(
        c.person_id == fact["person"]
        and controller == fact["owner"]
        and covers(c, agency, fact["categories"], purpose)
        for c, controller in zip(domain, controllers, strict=True)
    )


def released(
    fact: dict[str, Any], world: World, agency: str, role: str, purpose: str | None
) -> bool:
    """The property, stated apart from the oracle: a fact reaches an agency only if the agency
    controls it, or its controller released it to that agency for the read's purpose (an
    active consent recorded by the fact's owner, about the fact's person or governing the
    fact, naming the agency and the purpose).

    The authority's facts are controlled by the authority holding the person's file: its
    officers read them, and only a consent naming the agency that this authority confirmed
    releases them. Admin reads all.
    """
    if role == "admin":
        return True
    if fact["source"] == FA:
        holder = world.holders[fact["person"]]
        if role == "abh_officer":
            return holder == agency
        return any(
            c.person_id == fact["person"]
            and world.confirmed_by_holder(i, fact["person"])
            and agency in c.recipients
            and names(c, purpose)
            and c.is_active(TODAY)
            for i, c in enumerate(world.domain)
        )
    if role == "abh_officer" or fact["owner"] is None:
        return False
    if fact["owner"] == agency:
        return True
    return any(
        controller == fact["owner"]
        and (c.person_id == fact["person"] or fact["consent"] == i)
        and agency in c.recipients
        and names(c, purpose)
        and c.is_active(TODAY)
        for i, (c, controller) in enumerate(zip(world.domain, world.controllers, strict=True))
    )


def on_case(spec: dict[str, Any], case_specs: list[dict[str, Any]]) -> dict[str, Any]:
    """A consent spec recorded on one of the cases: its person, and its controller (the
    agency holding that case)."""
    case = case_specs[spec["case"] % len(case_specs)]
    return {**spec, "person": case["person"], "controller": case["agency"]}


# -- the reads under test --------------------------------------------------------------------


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    await ensure(connection)
    yield connection
    await connection.close()


async def store(
    conn: asyncpg.Connection,
    consent_specs: list[dict[str, Any]],
    row_specs: list[dict[str, Any]],
    referral_list: list[dict[str, Any]],
    holders: dict[uuid.UUID, str | None],
    decisions: dict[tuple[int, str], bool],
) -> list[uuid.UUID]:
    """The same consents in both read models that keep them; returns the referral ids."""
    await conn.execute(
        "TRUNCATE projections.timeline_events, projections.timeline_events_consents,"
        " projections.timeline_events_holders, projections.timeline_events_confirmations,"
        " projections.cv_consents, projections.cv_referrals, projections.cv_cases"
    )
    for person, authority in holders.items():
        if authority is not None:
            await conn.execute(
                "INSERT INTO projections.timeline_events_holders (person_id, authority)"
                " VALUES ($1, $2)",
                person,
                authority,
            )
    ids = [uuid.uuid4() for _ in consent_specs]
    for consent_id, c in zip(ids, consent_specs, strict=True):
        common = (
            consent_id,
            c["person"],
            c["recipients"],
            c["categories"],
            c["purposes"],
            c["special"],
            c["valid_until"],
            c["status"],
        )
        await conn.execute(
            "INSERT INTO projections.timeline_events_consents (consent_id, person_id,"
            " recipients, categories, purposes, special_explicit, valid_until, status,"
            " owner_agency) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            *common,
            c["controller"],
        )
        await conn.execute(
            "INSERT INTO projections.cv_consents (consent_id, person_id, recipients,"
            " categories, purposes, special_explicit, valid_until, status, case_id,"
            " valid_from, language, mutual)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $2, $9, 'de', false)",
            *common,
            TODAY - dt.timedelta(days=30),
        )
    for (index, authority), confirmed in decisions.items():
        if index < len(ids):
            await conn.execute(
                "INSERT INTO projections.timeline_events_confirmations"
                " (consent_id, authority, confirmed) VALUES ($1, $2, $3)",
                ids[index],
                authority,
                confirmed,
            )
    for position, r in enumerate(row_specs, start=1):
        governing = (
            ids[r["consent"]]
            if r["consent"] is not None and r["consent"] < len(ids)
            else (uuid.uuid4() if r["consent"] is not None else None)
        )
        await conn.execute(
            "INSERT INTO projections.timeline_events (source, position, event_id, person_id,"
            " event_type, occurred_at, recorded_at, summary, categories, owner_agency,"
            " consent_id) VALUES ($1, $2, 'e', $3, 't', now(), now(), 's', $4, $5, $6)",
            r["source"],
            position,
            r["person"],
            r["categories"],
            r["owner"],
            governing,
        )
    for person in PERSONS:  # one case per person, its id the person's
        await conn.execute(
            "INSERT INTO projections.cv_cases (case_id, person_id, agency, case_manager,"
            " target_group, legal_spheres, intake_source, interpreter_needed, opened_on, status)"
            " VALUES ($1, $1, 'kim', 'cm', 'other', '{}', 'other', false, $2, 'open')",
            person,
            TODAY - dt.timedelta(days=60),
        )
    referral_ids = []
    for version, ref in enumerate(referral_list, start=1):
        referral_id = uuid.uuid4()
        consent = consent_specs[ref["consent"]]
        await conn.execute(
            "INSERT INTO projections.cv_referrals (referral_id, case_id, person_id, from_agency,"
            " to_agency, service, consent_id, shared_categories, purpose, status, sent_at,"
            " version) VALUES ($1, $2, $2, 'kim', $3, 'advice', $4, $5, $6, 'sent', now(), $7)",
            referral_id,
            consent["person"],
            ref["to"],
            ids[ref["consent"]],
            ref["categories"],
            ref["purpose"],
            version,
        )
        referral_ids.append(referral_id)
    return referral_ids


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    case_specs=cases,
    consent_specs=consents,
    row_specs=rows,
    referral_list=referral_specs,
    reader=readers,
    cut=st.integers(0, 6),
    holders=holder_specs,
    decisions=decision_specs,
)
@example(  # the file went to another authority: the former holder's confirmation no longer counts
    case_specs=[{"person": PERSONS[0], "agency": "kim"}],
    consent_specs=[
        {
            "case": 0,
            "status": "active",
            "valid_until": TODAY + dt.timedelta(days=3),
            "recipients": ["awo"],
            "categories": ["residence"],
            "purposes": ["referral"],
            "special": False,
        }
    ],
    row_specs=[
        {
            "person": PERSONS[0],
            "source": FA,
            "categories": ["residence"],
            "owner": AUTHORITY,
            "consent": None,
        }
    ],
    referral_list=[],
    reader=("awo", "partner_agency", "referral"),
    cut=0,
    holders={PERSONS[0]: "abh-2", PERSONS[1]: None},
    decisions={(0, AUTHORITY): True},
)
async def test_every_read_shows_exactly_what_the_consent_rule_allows(
    conn: asyncpg.Connection,
    case_specs: list[dict[str, Any]],
    consent_specs: list[dict[str, Any]],
    row_specs: list[dict[str, Any]],
    referral_list: list[dict[str, Any]],
    reader: tuple[str, str, str | None],
    cut: int,
    holders: dict[uuid.UUID, str | None],
    decisions: dict[tuple[int, str], bool],
) -> None:
    # given consents recorded on cases, rows and referrals in the read models, and a reader
    consent_specs = [on_case(c, case_specs) for c in consent_specs]
    controllers = [c["controller"] for c in consent_specs]
    referral_list = [r for r in referral_list if r["consent"] < len(consent_specs)]
    referral_ids = await store(conn, consent_specs, row_specs, referral_list, holders, decisions)
    domain = [domain_consent(c) for c in consent_specs]
    world = World(domain, controllers, holders, decisions)
    agency, role, purpose = reader
    who = Reader(agency, role, TODAY, purpose)
    allowed = {
        position
        for position, r in enumerate(row_specs, start=1)
        if may_see(r, world, agency, role, purpose)
    }

    # when each read runs, then it returns what the domain rule allows
    for person in PERSONS:
        timeline = await person_timeline(conn, person, who, limit=100)
        assert {r["position"] for r in timeline} == {
            p for p in allowed if row_specs[p - 1]["person"] == person
        }, "timeline"

        access = await pathway_access(conn, person, who)
        residence_file = {"person": person, "source": "foreigners_authority", "owner": None}
        assert access.residence == may_see(
            {**residence_file, "categories": ["residence"], "consent": None},
            world,
            agency,
            role,
            purpose,
        ), "pathway"
        assert access.language == may_see(
            {**residence_file, "categories": ["language"], "consent": None},
            world,
            agency,
            role,
            purpose,
        ), "pathway language facts"

        assert all(
            released(row_specs[r["position"] - 1], world, agency, role, purpose) for r in timeline
        ), "a row reached an agency its controller did not release it to"

    delivered = await new_rows(
        conn, who, after={s: cut for s in SOURCES}, upto={s: len(row_specs) for s in SOURCES}
    )
    assert {r["position"] for r in delivered} == {p for p in allowed if p > cut}, "delivery"
    assert all(
        released(row_specs[r["position"] - 1], world, agency, role, purpose) for r in delivered
    ), "a delivery reached an agency its controller did not release it to"

    sent = await referrals(conn, TODAY, case_ids=PERSONS, purpose=purpose)
    assert {r["referral_id"] for r in sent} == set(referral_ids)
    for row in sent:
        ref = referral_list[referral_ids.index(row["referral_id"])]
        consent = domain[ref["consent"]]
        assert row["consent_status"] == status_today(consent), "referral consent status"
        assert row["shared"] == all(  # for the referral's purpose and for the read's
            consent.covers(
                recipient=ref["to"], categories=ref["categories"], purpose=p, on=TODAY
            ).covered
            for p in (ref["purpose"], purpose)
        ), "referral shared case"
    inbox = await referrals(conn, TODAY, to_agency=agency, after_version=cut)
    assert {r["referral_id"] for r in inbox} == {
        rid
        for version, (rid, ref) in enumerate(zip(referral_ids, referral_list, strict=True), 1)
        if ref["to"] == agency and version > cut
    }, "referral inbox"

    listed = await consents_of_cases(conn, PERSONS, TODAY)
    assert sorted(r["consent_status"] for r in listed) == sorted(status_today(c) for c in domain)
