"""Every entry of the access matrix (docs/security.md) against a running hub: each query,
field, mutation and subscription, called with a token of each role, is refused (``forbidden``)
where the matrix says ``no``, answers without an authorisation error where it allows, and
shows the seeded records only to the readers the matrix's rule names (``own``, ``consent``,
``authority``). One hub and one set of records serve the whole module."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
)

from gateway.auth import issue_token
from gateway.schema import schema
from kernel.clock import today_in_germany
from tests.access_matrix import Entry, read
from tests.conftest import Servers
from tests.helpers import arrival_input
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import module_hub, served

MATRIX = read()
AUTH_CODES = {"forbidden", "unauthenticated"}
KIM, AWO, ABH = "kim-05315", "awo-05315", "abh-05315"


@dataclass(frozen=True)
class Caller:
    role: str
    agency: str
    subject: str
    #: the purpose its token is bound to: readers under consent read for one the seed's
    #: consent names
    purpose: str | None = None


#: each role's caller: the agencies that hold, receive or may see the seeded records
HOME = {
    "abh_officer": Caller("abh_officer", ABH, "abh-clara"),
    "case_manager": Caller("case_manager", KIM, "cm-anna", "referral"),
    "partner_agency": Caller("partner_agency", AWO, "awo-ben", "referral"),
    "steering": Caller("steering", "steering-05315", "sg-dora"),
    "conflict_board": Caller("conflict_board", "board-05315", "board-emil"),
    "admin": Caller("admin", "hub-ops", "ops-fritz"),
    "dpo": Caller("dpo", "datenschutz-05315", "dpo-greta"),
}
#: the same role at another agency: holds nothing and is named by no consent
STRANGER = {
    role: Caller(
        role, caller.agency.replace("05315", "05111"), f"{caller.subject}-other", caller.purpose
    )
    for role, caller in HOME.items()
}
STRANGER["admin"] = Caller("admin", "hub-ops-2", "ops-other")


@dataclass
class Seed:
    """The records every probe looks for."""

    person: str = ""
    case: str = ""
    consent: str = ""
    referral: str = ""
    mediator: str = ""
    conflict: str = ""
    stage: str = ""


@pytest.fixture(scope="module")
async def hub(servers: Servers) -> AsyncIterator[InProcessHub]:
    async with module_hub(servers, rate_limit_per_second=0) as running:
        yield running


async def call(
    hub: InProcessHub, caller: Caller, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await hub.client.post(
        "/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {token(hub, caller)}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def token(hub: InProcessHub, caller: Caller) -> str:
    return issue_token(
        hub.settings.resolved_jwt_secret(),
        subject=caller.subject,
        agency=caller.agency,
        role=caller.role,
        issuer=hub.settings.jwt_issuer,
        purpose=caller.purpose,
    )


async def data_of(hub: InProcessHub, caller: Caller, query: str, **variables: Any) -> Any:
    body = await call(hub, caller, query, variables)
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture(scope="module")
async def seed(hub: InProcessHub) -> Seed:
    """A person on abh-05315's file with a case of kim-05315, a consent naming AWO and KIM
    that the authority confirmed, a referral to AWO, a mediator of KIM and a conflict."""
    s = Seed()
    officer, manager, board = HOME["abh_officer"], HOME["case_manager"], HOME["conflict_board"]
    registered = await data_of(
        hub,
        officer,
        "mutation($i: RegisterArrivalInput!) { registerArrival(input: $i) { personId } }",
        i=arrival_input(abhId=ABH),
    )
    s.person = registered["registerArrival"]["personId"]
    opened = await data_of(
        hub,
        manager,
        "mutation($i: OpenCaseInput!) { openCase(input: $i) { caseId } }",
        i={
            "personId": s.person,
            "givenNames": "Olena",
            "familyName": "Demchenko",
            "targetGroup": "newly_arrived",
            "intakeSource": "foreigners_authority",
        },
    )
    s.case = opened["openCase"]["caseId"]
    granted = await data_of(
        hub,
        manager,
        "mutation($i: GrantConsentInput!) { grantConsent(input: $i) { consentId } }",
        i={
            "caseId": s.case,
            "recipients": [AWO, KIM],
            "categories": ["case_basic", "work", "residence"],
            "purposes": ["referral", "counselling"],
            "validUntil": (today_in_germany() + dt.timedelta(days=90)).isoformat(),
        },
    )
    s.consent = granted["grantConsent"]["consentId"]
    confirmed = await data_of(
        hub,
        officer,
        "mutation($i: DecideOnConsentInput!) { confirmConsent(input: $i) { position } }",
        i={"personId": s.person, "consentId": s.consent},
    )
    sent = await data_of(
        hub,
        manager,
        "mutation($i: SendReferralInput!) { sendReferral(input: $i) { referralId position } }",
        i={
            "caseId": s.case,
            "toAgency": AWO,
            "service": "job coaching",
            "consentId": s.consent,
            "sharedCategories": ["case_basic", "work"],
            "purpose": "referral",
        },
    )
    s.referral = sent["sendReferral"]["referralId"]
    registered_mediator = await data_of(
        hub,
        manager,
        "mutation($i: RegisterMediatorInput!) { registerMediator(input: $i) {"
        " mediatorId position } }",
        i={"displayName": "Yusuf", "languages": ["ar"]},
    )
    s.mediator = registered_mediator["registerMediator"]["mediatorId"]
    reported = await data_of(
        hub,
        board,
        "mutation($i: ReportConflictInput!) { reportConflict(input: $i) { conflictId position } }",
        i={
            "kind": "neighbourhood",
            "district": "Nord",
            "parties": [
                {"type": "organisation", "name": "Sportverein"},
                {"type": "group", "name": "Anwohner"},
            ],
            "stage": 3,
            "description": "Streit um die Hallenzeiten",
        },
    )
    s.conflict = reported["reportConflict"]["conflictId"]
    # read our writes: every projection has caught up with the last command of each service
    admin = HOME["admin"]
    await data_of(
        hub,
        admin,
        "query($p: ID!, $a: String, $b: String) { person(id: $p) {"
        " authority: timeline(atLeast: $a) { service } cases: timeline(atLeast: $b) { service }"
        " pathway(atLeast: $a) { stage } } caseload(atLeast: $b) { openCases } }",
        p=s.person,
        a=confirmed["confirmConsent"]["position"],
        b=registered_mediator["registerMediator"]["position"],
    )
    await data_of(
        hub,
        admin,
        "query($c: ID!, $a: String) { conflict(id: $c, atLeast: $a) { id } }",
        c=s.conflict,
        a=reported["reportConflict"]["position"],
    )
    pathway = await data_of(
        hub, admin, "query($p: ID!) { person(id: $p) { pathway { stage } } }", p=s.person
    )
    s.stage = pathway["person"]["pathway"]["stage"]
    return s


# -- probes: one call per query and field row, and what of the seed an answer shows ---------


@dataclass(frozen=True)
class Probe:
    """How to call an operation, the root field it answers under, whether an answer shows
    the seeded record, and which roles' HOME callers are meant to see it."""

    query: str
    variables: Callable[[Seed], dict[str, Any]]
    root: str
    shows: Callable[[Any, Seed], bool]
    seen_by: frozenset[str] = field(default_factory=frozenset)


def _ids(items: list[dict[str, Any]] | None) -> set[str]:
    return {item["id"] for item in items or []}


def _timeline(data: Any) -> list[dict[str, Any]]:
    person = data.get("person") or {}
    rows: list[dict[str, Any]] = person.get("timeline") or []
    return rows


def _roles(*roles: str) -> frozenset[str]:
    return frozenset(roles)


PROBES: dict[str, Probe] = {
    "Query.person": Probe(
        "query($p: ID!) { person(id: $p) { id } }",
        lambda s: {"p": s.person},
        "person",
        lambda d, s: d["person"] is not None,
        _roles("abh_officer", "case_manager", "partner_agency", "admin"),
    ),
    "Person.timeline": Probe(
        "query($p: ID!) { person(id: $p) { timeline { service eventType } } }",
        lambda s: {"p": s.person},
        "person",
        lambda d, s: bool(_timeline(d)),
        _roles("abh_officer", "case_manager", "partner_agency", "admin"),
    ),
    "Person.pathway": Probe(
        "query($p: ID!) { person(id: $p) { pathway { stage } } }",
        lambda s: {"p": s.person},
        "person",
        lambda d, s: (d.get("person") or {}).get("pathway") is not None,
        _roles("abh_officer", "case_manager", "partner_agency", "admin"),
    ),
    "Referral.sharedCase": Probe(
        "{ referralInbox { id sharedCase { targetGroup } } }",
        lambda s: {},
        "referralInbox",
        lambda d, s: any(
            r["id"] == s.referral and r["sharedCase"] is not None for r in d["referralInbox"] or []
        ),
        _roles("partner_agency"),
    ),
    "Query.case": Probe(
        "query($c: ID!) { case(id: $c) { id legalSphereChanges { toSphere }"
        " caseConferences { heldOn participants } } }",
        lambda s: {"c": s.case},
        "case",
        lambda d, s: d["case"] is not None,
        _roles("case_manager", "admin"),
    ),
    "Query.caseload": Probe(
        "{ caseload { cases { id } } }",
        lambda s: {},
        "caseload",
        lambda d, s: s.case in _ids((d["caseload"] or {}).get("cases")),
        _roles("case_manager"),
    ),
    "Query.referralInbox": Probe(
        "{ referralInbox { id } }",
        lambda s: {},
        "referralInbox",
        lambda d, s: s.referral in _ids(d["referralInbox"]),
        _roles("partner_agency"),
    ),
    "Query.mediatorCalendar": Probe(
        "{ mediatorCalendar { mediators { id } } }",
        lambda s: {},
        "mediatorCalendar",
        lambda d, s: s.mediator in _ids((d["mediatorCalendar"] or {}).get("mediators")),
        _roles("case_manager"),
    ),
    "Query.personsAtStage": Probe(
        "query($st: String!) { personsAtStage(stage: $st, first: 200) { items { personId } } }",
        lambda s: {"st": s.stage},
        "personsAtStage",
        lambda d, s: (
            s.person in {i["personId"] for i in (d["personsAtStage"] or {}).get("items", [])}
        ),
        _roles("abh_officer", "admin"),
    ),
    "Query.personSearch": Probe(
        "query($p: ID!) { personSearch(personId: $p) { personId } }",
        lambda s: {"p": s.person},
        "personSearch",
        lambda d, s: s.person in {i["personId"] for i in d["personSearch"] or []},
        _roles("abh_officer", "admin"),
    ),
    "Query.conflicts": Probe(
        "{ conflicts { id } }",
        lambda s: {},
        "conflicts",
        lambda d, s: s.conflict in _ids(d["conflicts"]),
        _roles("conflict_board", "admin"),
    ),
    "Query.conflict": Probe(
        "query($x: ID!) { conflict(id: $x) { id } }",
        lambda s: {"x": s.conflict},
        "conflict",
        lambda d, s: d["conflict"] is not None,
        _roles("conflict_board", "admin"),
    ),
    "Query.subjectAccessReport": Probe(
        "query($p: ID!) { subjectAccessReport(personId: $p) { personId services { status } } }",
        lambda s: {"p": s.person},
        "subjectAccessReport",
        lambda d, s: d["subjectAccessReport"] is not None,
        _roles("dpo"),
    ),
    "Query.steering": Probe(
        "{ steering { openConflicts { suppressedGroups } } }",
        lambda s: {},
        "steering",
        lambda d, s: d["steering"] is not None,
        _roles("steering", "admin"),
    ),
}


def codes(body: dict[str, Any]) -> set[str]:
    return {e.get("extensions", {}).get("code") for e in body.get("errors", [])}


def assert_refused(body: dict[str, Any], root: str) -> None:
    assert codes(body) == {"forbidden"}, body
    assert (body.get("data") or {}).get(root) is None, body


def read_entries() -> list[Entry]:
    return [
        e for e in MATRIX.entries() if e.operation.split(".")[0] not in ("Mutation", "Subscription")
    ]


def test_every_query_and_field_row_has_a_probe() -> None:
    assert {e.operation for e in read_entries()} == set(PROBES)


@pytest.mark.parametrize("entry", read_entries(), ids=str)
async def test_a_read_is_refused_or_answered_as_the_matrix_says(
    hub: InProcessHub, seed: Seed, entry: Entry
) -> None:
    probe = PROBES[entry.operation]
    home = HOME[entry.role]

    body = await call(hub, home, probe.query, probe.variables(seed))

    if not entry.allowed:
        assert_refused(body, probe.root)
        return
    assert "errors" not in body, body
    data = body["data"]
    assert probe.shows(data, seed) == (entry.role in probe.seen_by), (entry, data)
    if entry.rule == "authority":
        services = {row["service"] for row in _timeline(data)}
        assert services == {"foreigners_authority"}, services
    if entry.rule in ("own", "consent", "authority"):
        stranger = await call(hub, STRANGER[entry.role], probe.query, probe.variables(seed))
        assert "errors" not in stranger, stranger
        assert not probe.shows(stranger["data"], seed), (entry, stranger)


# -- mutations: any input the GraphQL layer accepts reaches the role check -------------------

SCALARS: dict[str, Callable[[], Any]] = {
    "String": lambda: "x",
    "ID": lambda: str(uuid.uuid4()),
    "Int": lambda: 1,
    "Float": lambda: 1.0,
    "Boolean": lambda: False,
    "Date": lambda: "2024-01-02",
    "DateTime": lambda: "2024-01-02T10:00:00+00:00",
}


def sample(kind: GraphQLInputType) -> Any:
    """A value of ``kind`` with every required field filled (the role check comes first, so
    it need not pass the payload's limits)."""
    if isinstance(kind, GraphQLNonNull):
        return sample(kind.of_type)
    if isinstance(kind, GraphQLList):
        return [sample(kind.of_type)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLScalarType):
        return SCALARS[kind.name]()
    assert isinstance(kind, GraphQLInputObjectType)
    return {
        name: sample(f.type)
        for name, f in kind.fields.items()
        if isinstance(f.type, GraphQLNonNull)
    }


def mutation_entries() -> list[Entry]:
    return [e for e in MATRIX.entries() if e.operation.startswith("Mutation.")]


@pytest.mark.parametrize("entry", mutation_entries(), ids=str)
async def test_a_mutation_is_refused_or_reaches_its_command_as_the_matrix_says(
    hub: InProcessHub, entry: Entry
) -> None:
    name = entry.operation.split(".")[1]
    argument = schema._schema.mutation_type.fields[name].args["input"]  # type: ignore[union-attr]
    document = f"mutation($i: {argument.type}) {{ {name}(input: $i) {{ __typename }} }}"

    body = await call(hub, HOME[entry.role], document, {"i": sample(argument.type)})

    if entry.allowed:
        assert not codes(body) & AUTH_CODES, body
    else:
        assert_refused(body, name)


# -- subscriptions: over a real WebSocket ---------------------------------------------------

SUBSCRIPTIONS = {
    "Subscription.caseEvents": "subscription { caseEvents { eventType } }",
    "Subscription.referralInbox": "subscription { referralInbox { id } }",
}


@pytest.fixture(scope="module")
async def ws_url(hub: InProcessHub) -> AsyncIterator[str]:
    async with served(hub.app) as address:
        yield f"ws://{address}/graphql"


def subscription_entries() -> list[Entry]:
    return [e for e in MATRIX.entries() if e.operation.startswith("Subscription.")]


def test_every_subscription_row_has_a_document() -> None:
    assert {e.operation for e in subscription_entries()} == set(SUBSCRIPTIONS)


@pytest.mark.parametrize("entry", subscription_entries(), ids=str)
async def test_a_subscription_is_refused_or_kept_open_as_the_matrix_says(
    hub: InProcessHub, seed: Seed, ws_url: str, entry: Entry
) -> None:
    async with websockets.connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        auth = {"Authorization": f"Bearer {token(hub, HOME[entry.role])}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": auth}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "connection_ack"
        query = SUBSCRIPTIONS[entry.operation]
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query}}))

        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), 0.5))
        except TimeoutError:
            message = None

    if entry.allowed:
        assert message is None, message  # open, waiting for deliveries
    else:
        assert message is not None
        payload = message["payload"]
        errors = payload if isinstance(payload, list) else payload.get("errors", [])
        assert {e["extensions"]["code"] for e in errors} == {"forbidden"}, message
