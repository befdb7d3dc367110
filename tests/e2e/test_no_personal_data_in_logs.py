"""Issue 10: no personal value in any log line of any process of ``hub up``.

One ``hub up`` (real processes, log level DEBUG) is driven with

- every mutation of the GraphQL schema (the schema's mutations are the command catalogue's,
  ``contracts.commands.CATALOGUE``): one valid call; calls the gateway refuses (an unknown
  field, a wrong type, that one also written into the document instead of the variables,
  and the personal values 400 times as long: a field without a length limit may take them,
  the output lists where); and one call that passes the gateway and the service refuses (an
  unknown id, or a code the service does not know);
- every message kind of the foreigners authority's inbound interface
  (``services/foreigners_authority/inbound/messages.py``): valid, and refused (wrong field
  types, an unknown field, an unknown person, a contradiction to the file; per message type
  once oversize, and once not JSON); and a batch (``POST /inbound/batches``) of valid,
  duplicate and refused lines, one over the batch limit and one not sent as NDJSON;

each carrying distinctive personal-looking values (names, birth dates, AZR numbers, contact,
free texts) wherever the input has a personal or free-text field. Then every line each process
logged (``hub up`` prefixes each with the process's name) is searched for every value (birth
dates also in German format), and the test fails naming the process and the line. The hub's
answers (errors, receipts) are searched as well.

**Where to add a new mutation:** ``MUTATIONS`` below, one :class:`Sample` per mutation (who
calls it, a valid input built from what earlier samples returned, and, for a command without
ids, an input the service refuses). The test fails when a catalogue mutation has no sample.
A sample that ends what others use (erasing a person, say) goes last. A new inbound kind goes
into ``INBOUND`` (a step of one of the synthetic persons' paths); the test fails when a kind
of ``messages.py`` is not sent.

Positive control: ``tests/e2e/leak_canary/sitecustomize.py`` makes the services print every
opened command body that holds a canary value; one command carries it, and the search must
find it in the case-management service's lines.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import time
import typing
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from contracts.commands import CATALOGUE, Command
from gateway.auth import issue_token
from kernel.clock import today_in_germany
from services.foreigners_authority.inbound.messages import MESSAGE_TYPES
from tests.conftest import TEST_JWT_SECRET, Servers
from tests.e2e.test_hub_up import RunningHub, start_hub

pytestmark = pytest.mark.e2e

CANARY_DIR = Path(__file__).parent / "leak_canary"
CANARY = "Kanarienvogel Quellbrunn-Ostrowitz"
TODAY = today_in_germany()
BATCH_MAX = 30  # messages in a batch to the inbound interface (HUB_INBOUND_BATCH_MAX)


# --- callers and personal values ----------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    role: str
    agency: str


ABH = Caller("abh_officer", "abh-05315")
KIM = Caller("case_manager", "kim-05315")
AWO = Caller("partner_agency", "awo-05315")
BOARD = Caller("conflict_board", "konfliktmanagement-05315")
STEERING = Caller("steering", "lenkungsgruppe-05315")
DPO = Caller("dpo", "datenschutz-05315")

_GIVEN = ["Qyvandra", "Xantheraq", "Vorquanna", "Iskvarra", "Thembolune", "Ozrikai", "Brunhesta"]
_FAMILY = ["Zelmorith", "Oluwembi", "Blessiwet", "Kravonne", "Tschirmack", "Uldavesh"]


class Personal:
    """Makes distinctive personal-looking values and remembers each, for the log search."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._n = itertools.count(1)

    def keep(self, *values: str) -> None:
        self.values.extend(values)

    def name(self) -> str:
        n = next(self._n)
        value = f"{_GIVEN[n % len(_GIVEN)]}{_letters(n)}"
        self.keep(value)
        return value

    def family(self) -> str:
        n = next(self._n)
        value = f"{_FAMILY[n % len(_FAMILY)]}-{_letters(n)}"
        self.keep(value)
        return value

    def text(self, template: str) -> str:
        """A free text naming a person: ``template`` with ``{}`` for the name."""
        return template.format(f"{self.name()} {self.family()}")

    def birth_date(self) -> str:
        n = next(self._n)
        born = date(1931 + n % 45, 1 + n % 12, 1 + n % 28)
        self.keep(born.isoformat(), born.strftime("%d.%m.%Y"))
        return born.isoformat()

    def azr(self) -> str:
        value = f"{314159260000 + next(self._n):012d}"
        self.keep(value)
        return value

    def contact(self) -> str:
        n = next(self._n)
        value = f"{_GIVEN[n % len(_GIVEN)].lower()}.{_letters(n)}@beispiel-post.de"
        self.keep(value)
        return value


def _letters(n: int) -> str:
    out = ""
    n += 26 * 27  # at least three letters
    while n:
        n, rest = divmod(n, 26)
        out = "abcdefghijklmnopqrstuvwxyz"[rest] + out
    return out.capitalize()


# --- driving the hub ------------------------------------------------------------------------


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def document(command: Command) -> str:
    if not command.exposed:  # the erasure: one mutation for every service, a result of its own
        return (
            f"mutation($input: {command.payload.__name__}Input!) "
            f"{{ {command.mutation}(input: $input) {{ personId complete }} }}"
        )
    ids = " ".join(_camel(name) for name in command.result_ids)
    return (
        f"mutation($input: {command.payload.__name__}Input!) "
        f"{{ {command.mutation}(input: $input) {{ position {ids} }} }}"
    )


def literal(value: Any) -> str:
    """``value`` as a GraphQL literal (enum values stay strings: refused, like the rest)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {literal(item)}" for key, item in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    return json.dumps(value)  # strings, numbers, true, false, null


def inline(command: Command, input: dict[str, Any]) -> str:
    """A document with ``input`` written into it, not passed as variables."""
    return f"mutation {{ {command.mutation}(input: {literal(input)}) {{ position }} }}"


@dataclass
class Drive:
    """The running hub, the personal values sent, what valid calls returned, and each
    refusal's code (by mutation), for the report."""

    hub: RunningHub
    personal: Personal = field(default_factory=Personal)
    out: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: list[str] = field(default_factory=list)
    unlimited: list[str] = field(default_factory=list)
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def headers(self, caller: Caller) -> dict[str, str]:
        token = issue_token(
            TEST_JWT_SECRET,
            subject=f"{caller.role}-e2e",
            agency=caller.agency,
            role=caller.role,
            issuer="integration-hub",
        )
        return {"Authorization": f"Bearer {token}"}

    def graphql(self, caller: Caller, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post(
            f"{self.hub.base_url}/graphql",
            json={"query": query, "variables": variables},
            headers=self.headers(caller),
            timeout=30,
        )
        self.answers.append(response.text)
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body, dict)
        return body

    def call(self, mutation: str, input: dict[str, Any]) -> dict[str, Any]:
        """A valid call of ``mutation`` as its sample's caller; returns the result's ids."""
        command = COMMANDS[mutation]
        body = self.graphql(MUTATIONS[mutation].caller, document(command), {"input": input})
        assert "errors" not in body, (mutation, body)
        result = body["data"][mutation]
        assert isinstance(result, dict)
        return result

    def eventually(self, caller: Caller, query: str, pick: Callable[[Any], Any]) -> Any:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            body = self.graphql(caller, query, {})
            assert "errors" not in body, body
            found = pick(body["data"])
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"never arrived: {query}")

    def id(self, mutation: str, name: str) -> str:
        """An id a valid call of ``mutation`` returned (camelCase ``name``)."""
        value = self.out[mutation][name]
        assert isinstance(value, str)
        return value


# --- one sample per mutation ------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    """How the test drives a mutation: ``caller`` sends it; ``valid`` builds an input the hub
    accepts (reading what earlier samples returned, ``drive.id``); ``refused`` one that passes
    the gateway and the service refuses; without it, the valid input with every id unknown."""

    caller: Caller
    valid: Callable[[Drive], dict[str, Any]]
    refused: Callable[[Drive], dict[str, Any]] | None = None
    #: False where every well-formed input is accepted (an erasure of any id: a tombstone)
    service_refuses: bool = True


def _days(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


def _arrival(d: Drive, abh_id: str = "abh-05315") -> dict[str, Any]:
    p = d.personal
    return {
        "givenNames": p.name(),
        "familyName": p.family(),
        "birthDate": p.birth_date(),
        "azrNumber": p.azr(),
        "nationalities": ["UKR"],
        "entryDate": "2022-03-09",
        "entryMode": "TEMPORARY_PROTECTION",
        "municipalityKey": "05315000",
        "abhId": abh_id,
    }


def _case(d: Drive, target_group: str = "newly_arrived") -> dict[str, Any]:
    p = d.personal
    return {
        "personId": d.id("registerArrival", "personId"),
        "givenNames": p.name(),
        "familyName": p.family(),
        "birthDate": p.birth_date(),
        "contact": p.contact(),
        "targetGroup": target_group,
        "legalSpheres": ["sgb_ii"],
        "intakeSource": "foreigners_authority",
    }


def _referral(d: Drive) -> dict[str, Any]:
    return {
        "caseId": d.id("openCase", "caseId"),
        "toAgency": "awo-05315",
        "service": "job coaching",
        "consentId": d.id("grantConsent", "consentId"),
        "sharedCategories": ["case_basic", "work"],
        "purpose": "referral",
        "note": d.personal.text("Bitte {} morgens anrufen"),
    }


def _mediator(d: Drive) -> dict[str, Any]:
    return {
        "displayName": d.personal.text("{}"),
        "languages": ["ar"],
        "availability": [f"{day} 00:00-23:59" for day in ("mon", "tue", "wed", "thu", "fri")]
        + ["sat 00:00-23:59", "sun 00:00-23:59"],
        "pledgeSignedOn": TODAY.isoformat(),
    }


def _in_two_days_at_ten() -> str:
    day = TODAY + timedelta(days=2)
    return f"{day.isoformat()}T10:00:00+01:00"


def _conflict(d: Drive, kind: str = "neighbourhood") -> dict[str, Any]:
    return {
        "kind": kind,
        "district": "Köln-Porz",
        "stage": 4,
        "parties": [
            {"type": "group", "name": d.personal.text("Familie {}")},
            {"type": "organisation", "name": "Sportverein"},
        ],
        "description": d.personal.text("Streit mit {} um den Sportplatz"),
    }


def _gap_in_steering(d: Drive) -> str:
    gap = d.id("reportSystemicGap", "gapId")
    d.eventually(
        STEERING,
        "{ steering { gaps { id } } }",
        lambda data: [g for g in data["steering"]["gaps"] if g["id"] == gap],
    )
    return gap


def _escalation(d: Drive) -> str:
    conflict = d.id("reportConflict", "conflictId")
    found = d.eventually(
        STEERING,
        "{ steering { escalations { id conflictId } } }",
        lambda data: [e for e in data["steering"]["escalations"] if e["conflictId"] == conflict],
    )
    return str(found[0]["id"])


def _goal(d: Drive, field_of_action: str = "social_cohesion") -> dict[str, Any]:
    return {
        "fieldOfAction": field_of_action,
        "goal": d.personal.text("Mehr Familien wie {} beraten"),
        "indicator": "Beratene Familien pro Quartal",
        "unit": "Familien",
        "baseline": 20,
        "target": 50,
        "due": _days(365),
    }


#: every mutation, in the order the test sends them (later ones use what earlier ones returned)
MUTATIONS: dict[str, Sample] = {
    "registerArrival": Sample(ABH, _arrival, lambda d: _arrival(d, abh_id="abh-05111")),
    "grantResidenceTitle": Sample(
        ABH,
        lambda d: {
            "personId": d.id("registerArrival", "personId"),
            "title": "RESIDENCE_PERMIT",
            "paragraph": "§ 24 AufenthG",
            "validFrom": "2022-03-20",
            "validUntil": "2027-03-04",
            "conditions": [d.personal.text("Wohnsitzauflage: bei {}")],
        },
    ),
    "openCase": Sample(KIM, _case, lambda d: _case(d, target_group="no_such_group")),
    "assessNeeds": Sample(
        KIM,
        lambda d: {
            "caseId": d.id("openCase", "caseId"),
            "needs": [{"domain": "language", "level": "high"}],
        },
    ),
    "agreeGoal": Sample(
        KIM,
        lambda d: {
            "caseId": d.id("openCase", "caseId"),
            "domain": "language",
            "description": d.personal.text("Sprachkurs gemeinsam mit {}"),
            "targetDate": _days(200),
        },
    ),
    "holdCaseConference": Sample(
        KIM,
        lambda d: {
            "caseId": d.id("openCase", "caseId"),
            "heldOn": TODAY.isoformat(),
            "participants": ["kim-05315"],
        },
    ),
    "recordPrecheckAssessment": Sample(
        KIM,
        lambda d: {
            "caseId": d.id("openCase", "caseId"),
            "requirement": "livelihood",
            "outcome": "met",
            "assessedOn": TODAY.isoformat(),
        },
        lambda d: {
            "caseId": d.id("openCase", "caseId"),
            "requirement": "no_such_requirement",
            "outcome": "met",
            "assessedOn": TODAY.isoformat(),
        },
    ),
    "changeLegalSphere": Sample(
        KIM,
        lambda d: {
            "caseId": d.id("openCase", "caseId"),
            "fromSphere": "sgb_ii",
            "toSphere": "sgb_iii",
            "effective": TODAY.isoformat(),
        },
    ),
    "grantConsent": Sample(
        KIM,
        lambda d: {
            "caseId": d.id("openCase", "caseId"),
            "recipients": ["awo-05315", "abh-05315"],
            "categories": ["case_basic", "work"],
            "purposes": ["referral"],
            "validUntil": _days(365),
        },
    ),
    "confirmConsent": Sample(
        ABH,
        lambda d: {
            "personId": d.id("registerArrival", "personId"),
            "consentId": d.id("grantConsent", "consentId"),
        },
    ),
    "declineConsent": Sample(
        ABH,
        lambda d: {
            "personId": d.id("registerArrival", "personId"),
            "consentId": d.id("grantConsent", "consentId"),
        },
    ),
    "sendReferral": Sample(KIM, _referral),
    "acceptReferral": Sample(AWO, lambda d: {"referralId": d.id("sendReferral", "referralId")}),
    "completeReferral": Sample(
        AWO,
        lambda d: {"referralId": d.id("sendReferral", "referralId"), "outcome": "service_provided"},
    ),
    "declineReferral": Sample(
        AWO,
        lambda d: {
            "referralId": d.call("sendReferral", _referral(d))["referralId"],
            "reason": "no_capacity",
        },
    ),
    "withdrawConsent": Sample(KIM, lambda d: {"consentId": d.id("grantConsent", "consentId")}),
    "registerMediator": Sample(
        KIM, _mediator, lambda d: {**_mediator(d), "languages": ["no-such-language"]}
    ),
    "signMediatorPledge": Sample(
        KIM,
        lambda d: {
            "mediatorId": d.id("registerMediator", "mediatorId"),
            "signedOn": TODAY.isoformat(),
        },
    ),
    "requestMediation": Sample(
        KIM,
        lambda d: {
            "caseId": d.id("openCase", "caseId"),
            "language": "ar",
            "startsAt": _in_two_days_at_ten(),
            "minutes": 60,
        },
    ),
    "assignMediator": Sample(
        KIM,
        lambda d: {
            # no mediator speaks Farsi yet: the request stays unserved until one is assigned
            "requestId": d.call(
                "requestMediation",
                {**d.sent["requestMediation"], "language": "fa"},
            )["requestId"],
            "mediatorId": d.call("registerMediator", {**_mediator(d), "languages": ["fa"]})[
                "mediatorId"
            ],
        },
    ),
    "reportSystemicGap": Sample(
        KIM,
        lambda d: {
            "category": "missing_offer",
            "description": d.personal.text("Familie {} findet keinen Kitaplatz"),
            "affectedCount": 3,
        },
        lambda d: {
            "category": "no_such_category",
            "description": d.personal.text("Familie {} findet keinen Kitaplatz"),
        },
    ),
    "reportConflict": Sample(BOARD, _conflict, lambda d: _conflict(d, kind="no_such_kind")),
    "escalateConflict": Sample(
        BOARD,
        lambda d: {
            "conflictId": d.id("reportConflict", "conflictId"),
            "toStage": 6,
            "toBody": "steering_group",
            "reason": d.personal.text("{} wurde bedroht"),
        },
    ),
    "scheduleIntervention": Sample(
        BOARD,
        lambda d: {
            "conflictId": d.id("reportConflict", "conflictId"),
            "format": "moderation",
            "scheduledFor": TODAY.isoformat(),
            "facilitator": d.personal.text("{}"),
        },
    ),
    "recordInterventionOutcome": Sample(
        BOARD,
        lambda d: {
            "conflictId": d.id("reportConflict", "conflictId"),
            "interventionId": d.id("scheduleIntervention", "interventionId"),
            "outcome": "held",
            "stageAfter": 3,
            "note": d.personal.text("{} kam nicht"),
        },
    ),
    "addBoardLogEntry": Sample(
        BOARD,
        lambda d: {
            "conflictId": d.id("reportConflict", "conflictId"),
            "text": d.personal.text("Anruf von {}"),
        },
    ),
    "reportBoardGap": Sample(
        BOARD,
        lambda d: {
            "category": "social_cohesion",
            "description": d.personal.text("Keine Treffpunkte, sagt {}"),
            "conflictCount": 2,
        },
        lambda d: {
            "category": "no_such_category",
            "description": d.personal.text("Keine Treffpunkte, sagt {}"),
        },
    ),
    "linkConflictToGap": Sample(
        BOARD,
        lambda d: {
            "conflictId": d.id("reportConflict", "conflictId"),
            "gapId": d.id("reportBoardGap", "gapId"),
        },
    ),
    "triageGap": Sample(
        STEERING,
        lambda d: {
            "gapId": _gap_in_steering(d),
            "priority": "medium",
            "owner": d.personal.text("{}"),
        },
    ),
    "decideMeasure": Sample(
        STEERING,
        lambda d: {
            "gapId": d.id("reportSystemicGap", "gapId"),
            "title": d.personal.text("Kitaplatz für {}"),
            "owner": d.personal.text("{}"),
            "due": _days(90),
        },
    ),
    "completeMeasure": Sample(
        STEERING,
        lambda d: {
            "gapId": d.id("reportSystemicGap", "gapId"),
            "measureId": d.id("decideMeasure", "measureId"),
            "completedOn": TODAY.isoformat(),
        },
    ),
    "closeGap": Sample(
        STEERING,
        lambda d: {
            "gapId": d.id("reportSystemicGap", "gapId"),
            "resolution": d.personal.text("Platz für {} gefunden"),
        },
    ),
    "hearEscalation": Sample(
        STEERING,
        lambda d: {
            "escalationId": _escalation(d),
            "decision": d.personal.text("Gespräch mit {} führen"),
        },
    ),
    "resolveConflict": Sample(
        BOARD,
        lambda d: {
            "conflictId": d.id("reportConflict", "conflictId"),
            "outcome": "agreement",
            "lessons": d.personal.text("{} früher einbeziehen"),
        },
    ),
    "defineIntegrationGoal": Sample(
        STEERING, _goal, lambda d: _goal(d, field_of_action="no_such_field")
    ),
    "recordIndicatorValue": Sample(
        STEERING,
        lambda d: {
            "goalId": d.id("defineIntegrationGoal", "goalId"),
            "period": "2026-Q4",
            "value": 24,
        },
    ),
    "decideGoalMeasure": Sample(
        STEERING,
        lambda d: {
            "goalId": d.id("defineIntegrationGoal", "goalId"),
            "title": d.personal.text("Beratung wie für {}"),
            "owner": d.personal.text("{}"),
            "due": _days(120),
        },
    ),
    "closeCase": Sample(
        KIM, lambda d: {"caseId": d.id("openCase", "caseId"), "reason": "goals_reached"}
    ),
    "reopenCase": Sample(
        KIM, lambda d: {"caseId": d.id("openCase", "caseId"), "reason": "person_returned"}
    ),
    # last: these end the person every sample above worked on (restricted, then erased)
    "restrictProcessing": Sample(
        DPO,
        lambda d: {"personId": d.id("registerArrival", "personId"), "ground": "LEGAL_CLAIMS"},
        service_refuses=False,
    ),
    "erasePerson": Sample(
        DPO,
        lambda d: {"personId": d.id("registerArrival", "personId"), "ground": "REQUEST"},
        service_refuses=False,
    ),
}

COMMANDS = {command.mutation: command for command in CATALOGUE}


def _unwrap(annotation: Any) -> Any:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, type(int | None)) and len(args) == 1:
        return args[0]
    return annotation


def _fields_of(model: type[BaseModel], kind: type) -> list[str]:
    """The (camelCase) fields of ``model`` whose type is ``kind``."""
    hints = typing.get_type_hints(model)
    return [
        info.alias or name
        for name, info in model.model_fields.items()
        if _unwrap(hints[name]) is kind
    ]


def with_unknown_ids(command: Command, valid: dict[str, Any]) -> dict[str, Any]:
    ids = _fields_of(command.payload, uuid.UUID)
    assert ids, f"{command.mutation}: give its Sample an input the service refuses"
    return {**valid, **{name: str(uuid.uuid4()) for name in ids}}


def gateway_refusals(d: Drive, command: Command, valid: dict[str, Any]) -> list[dict[str, Any]]:
    """Inputs the gateway refuses, each with personal values: an unknown field, a field of
    another type, and (where the input has personal values) every one of them too long."""
    typed = [
        name
        for kind in (uuid.UUID, dt.date, int, float, bool)
        for name in _fields_of(command.payload, kind)
    ] or [next(iter(valid))]
    refusals = [
        {**valid, "unexpectedField": d.personal.text("{}")},
        {**valid, typed[0]: d.personal.text("{}")},
    ]
    values = d.personal.values

    def longer(value: Any) -> Any:
        if isinstance(value, str) and any(v in value for v in values):
            return value * 400
        if isinstance(value, list):
            return [longer(item) for item in value]
        if isinstance(value, dict):
            return {key: longer(item) for key, item in value.items()}
        return value

    too_long = longer(valid)
    if too_long != valid:
        refusals.append(too_long)
    return refusals


NOT_THE_SERVICES = {"invalid_input", "forbidden", "unauthenticated", "unavailable", "internal"}


def drive_mutations(d: Drive) -> dict[str, set[str]]:
    """Every sample: valid, refused by the gateway, refused by the service. Returns the
    codes of the service's refusals by mutation."""
    codes: dict[str, set[str]] = {}
    for mutation, sample in MUTATIONS.items():
        command = COMMANDS[mutation]
        valid = sample.valid(d)
        d.sent[mutation] = valid
        d.out[mutation] = d.call(mutation, valid)
        for n, refused in enumerate(gateway_refusals(d, command, valid)):
            body = d.graphql(sample.caller, document(command), {"input": refused})
            if n == 2 and not body.get("errors"):  # a field without a length limit
                d.unlimited.append(mutation)
                continue
            assert body.get("errors"), (mutation, refused, body)
            assert all(e["extensions"]["code"] != "internal" for e in body["errors"]), body
            if n == 1:  # the wrong type, also written into the document
                body = d.graphql(sample.caller, inline(command, refused), {})
                assert body.get("errors"), (mutation, refused, body)
                assert all(e["extensions"]["code"] != "internal" for e in body["errors"]), body
        if not sample.service_refuses:
            continue
        refused = (
            sample.refused(d) if sample.refused is not None else with_unknown_ids(command, valid)
        )
        body = d.graphql(sample.caller, document(command), {"input": refused})
        assert body.get("errors"), (mutation, refused, body)
        codes[mutation] = {str(e["extensions"]["code"]) for e in body["errors"]}
        # the service refused it: the gateway's refusals (and failures) have other codes
        assert not codes[mutation] & NOT_THE_SERVICES, body
    return codes


# --- the inbound interface ------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One message of a synthetic person's path: ``person`` names the path (its first step is
    the person's ``new_person`` notice); ``status`` is the answer expected."""

    person: str
    message_type: str
    body: Callable[[Personal], dict[str, Any]]
    status: int = 200


def _new_person(nationality: str, entry: str, mode: str, registered: str) -> Any:
    def body(p: Personal) -> dict[str, Any]:
        return {
            "kind": "new_person",
            "givenNames": p.name(),
            "familyName": p.family(),
            "birthDate": p.birth_date(),
            "azrNumber": p.azr(),
            "nationalities": [nationality],
            "entryDate": entry,
            "entryMode": mode,
            "municipalityKey": "05315000",
            "registeredOn": registered,
        }

    return body


def _fixed(**body: Any) -> Callable[[Personal], dict[str, Any]]:
    return lambda _p: dict(body)


def _req(requirement: str) -> Callable[[Personal], dict[str, Any]]:
    return _fixed(
        kind="requirement_assessed",
        requirement=requirement,
        outcome="met",
        lawVersion="stag-2000",
        assessedOn="2021-08-01",
    )


#: three synthetic persons' paths; together they hold every inbound kind
INBOUND: list[Step] = [
    # a recognised refugee, settled and naturalised
    Step(
        "refugee", "registration_notice", _new_person("SYR", "2015-03-02", "asylum", "2015-03-10")
    ),
    Step(
        "refugee",
        "registration_notice",
        _fixed(kind="address_change", municipalityKey="05111000", registeredOn="2015-09-01"),
    ),
    Step("refugee", "asylum_decision", _fixed(kind="application_filed", filedOn="2015-03-20")),
    Step(  # contradicts the file: the asylum application is pending
        "refugee",
        "residence_decision",
        _fixed(
            kind="duldung_issued", ground="general", validFrom="2015-10-01", validUntil="2016-10-01"
        ),
        422,
    ),
    Step(
        "refugee",
        "asylum_decision",
        _fixed(kind="decision", outcome="refugee", decidedOn="2016-01-10"),
    ),
    Step(
        "refugee",
        "residence_decision",
        lambda p: {
            "kind": "title_granted",
            "title": "residence_permit",
            "paragraph": "§ 25 Abs. 2 AufenthG",
            "grantedOn": "2016-02-01",
            "validFrom": "2016-02-01",
            "validUntil": "2019-01-31",
            "conditions": [p.text("Wohnsitzauflage: bei {}")],
        },
    ),
    Step(
        "refugee",
        "integration_course",
        _fixed(kind="obligation", by="foreigners_authority", imposedOn="2016-03-01"),
    ),
    Step(
        "refugee",
        "integration_course",
        _fixed(kind="completed", level="B1", completedOn="2017-06-30"),
    ),
    Step(
        "refugee",
        "integration_course",
        _fixed(kind="language_certificate", cefrLevel="B2", issuedOn="2018-05-01"),
    ),
    Step(
        "refugee",
        "residence_decision",
        _fixed(
            kind="title_granted",
            title="settlement_permit",
            paragraph="§ 26 Abs. 3 AufenthG",
            grantedOn="2019-02-01",
            validFrom="2019-02-01",
        ),
    ),
    Step("refugee", "residence_decision", _fixed(kind="stay_abroad", leftOn="2019-07-01")),
    Step("refugee", "residence_decision", _fixed(kind="returned", returnedOn="2019-08-15")),
    Step("refugee", "naturalisation", _fixed(kind="test_passed", passedOn="2021-03-01")),
    Step(
        "refugee",
        "naturalisation",
        _fixed(kind="applied", channel="online", appliedOn="2021-04-01"),
    ),
    Step("refugee", "naturalisation", _req("residence_period")),
    Step("refugee", "naturalisation", _req("language")),
    Step("refugee", "naturalisation", _fixed(kind="assured", assuredOn="2021-08-01")),
    Step(
        "refugee",
        "naturalisation",
        _fixed(kind="nationality_given_up", nationality="SYR", givenUpOn="2021-10-01"),
    ),
    Step("refugee", "naturalisation", _fixed(kind="completed", certificateDate="2021-12-01")),
    # a rejected applicant, tolerated, then granted § 25b; the file goes to another authority
    Step(
        "tolerated",
        "registration_notice",
        _new_person("AFG", "2016-01-05", "asylum", "2016-01-10"),
    ),
    Step("tolerated", "asylum_decision", _fixed(kind="application_filed", filedOn="2016-01-20")),
    Step(
        "tolerated",
        "asylum_decision",
        _fixed(kind="decision", outcome="rejected", decidedOn="2017-02-01"),
    ),
    Step("tolerated", "asylum_decision", _fixed(kind="appeal_filed", filedOn="2017-02-10")),
    Step(
        "tolerated",
        "asylum_decision",
        _fixed(kind="court_decision", outcome="rejected", decidedOn="2017-02-20"),
    ),
    Step("tolerated", "asylum_decision", _fixed(kind="decision_final", finalOn="2017-02-27")),
    Step(
        "tolerated",
        "residence_decision",
        _fixed(
            kind="duldung_issued", ground="general", validFrom="2017-03-01", validUntil="2022-03-01"
        ),
    ),
    Step(  # a first application, refused
        "tolerated",
        "residence_decision",
        _fixed(kind="title_applied", paragraph="§ 25 Abs. 5 AufenthG", appliedOn="2019-01-07"),
    ),
    Step(
        "tolerated",
        "residence_decision",
        _fixed(kind="title_refused", paragraph="§ 25 Abs. 5 AufenthG", refusedOn="2019-06-03"),
    ),
    Step(
        "tolerated",
        "residence_decision",
        _fixed(kind="title_applied", paragraph="§ 25b AufenthG", appliedOn="2021-12-01"),
    ),
    Step(
        "tolerated",
        "residence_decision",
        _fixed(
            kind="fiktion_issued", fiktion="81_3", issuedOn="2021-12-08", validUntil="2022-07-01"
        ),
    ),
    Step(
        "tolerated",
        "residence_decision",
        _fixed(
            kind="title_granted",
            title="residence_permit",
            paragraph="§ 25b AufenthG",
            grantedOn="2022-03-03",
            validFrom="2022-03-03",
            validUntil="2024-03-02",
        ),
    ),
    Step(
        "tolerated",
        "file_transfer",
        _fixed(kind="transfer", toAbh="abh-05111", transferredOn=_days(-30)),
    ),
    # rejected as manifestly unfounded; a court orders the action's suspensive effect
    Step(
        "unfounded",
        "registration_notice",
        _new_person("GEO", "2019-04-02", "asylum", "2019-04-05"),
    ),
    Step("unfounded", "asylum_decision", _fixed(kind="application_filed", filedOn="2019-04-10")),
    Step(
        "unfounded",
        "asylum_decision",
        _fixed(
            kind="decision", outcome="rejected", decidedOn="2019-06-12", manifestlyUnfounded=True
        ),
    ),
    Step(
        "unfounded",
        "asylum_decision",
        _fixed(kind="suspensive_effect_ordered", orderedOn="2019-07-01"),
    ),
    # temporary protection, extended, departed
    Step(
        "ukraine",
        "registration_notice",
        _new_person("UKR", "2022-03-09", "temporary_protection", "2022-03-15"),
    ),
    Step(
        "ukraine",
        "residence_decision",
        _fixed(
            kind="temporary_protection_granted", validFrom="2022-03-20", validUntil="2024-03-04"
        ),
    ),
    Step(
        "ukraine",
        "residence_decision",
        _fixed(kind="temporary_protection_extended", validUntil="2025-03-04"),
    ),
    Step(
        "ukraine",
        "naturalisation",
        _fixed(
            kind="multiple_nationality_accepted",
            nationality="UKR",
            paragraph="§ 12 Abs. 1 Satz 2 Nr. 1 StAG",
            decidedOn="2024-06-01",
        ),
    ),
    Step("ukraine", "residence_decision", _fixed(kind="departure", departedOn="2025-01-15")),
]


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def inbound_kinds() -> set[tuple[str, str]]:
    """Every (messageType, body.kind) the inbound forms declare."""
    kinds = set()
    for message_type, form in MESSAGE_TYPES.items():
        model = typing.cast(type[BaseModel], form)
        for body in _models(model.model_fields["body"].annotation):
            (kind,) = typing.get_args(body.model_fields["kind"].annotation)
            kinds.add((message_type, kind))
    return kinds


@dataclass
class Inbound:
    drive: Drive
    url: str
    n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def envelope(self, message_type: str, person: str | None, body: dict[str, Any]) -> Any:
        message: dict[str, Any] = {
            "messageId": f"e2e-logs-{next(self.n)}",
            "messageType": message_type,
            "sentAt": "2026-11-20T10:00:00+01:00",
            "sender": ABH.agency,
            "body": body,
        }
        if person is not None:
            message["personId"] = person
        return message

    def post(self, content: bytes | Any, expected: int) -> dict[str, Any]:
        raw = content if isinstance(content, bytes) else json.dumps(content).encode()
        response = self.drive.client.post(
            self.url,
            content=raw,
            headers={**self.drive.headers(ABH), "Content-Type": "application/json"},
            timeout=30,
        )
        self.drive.answers.append(response.text)
        assert response.status_code == expected, (expected, content, response.text)
        answer = response.json()
        assert isinstance(answer, dict)
        return answer


def _wrong_types(body: dict[str, Any], p: Personal) -> dict[str, Any]:
    """Every date and list in ``body`` a personal value instead (at least one field)."""
    changed = {
        key: p.text("{}")
        for key, value in body.items()
        if key != "kind"
        and (isinstance(value, list) or re.fullmatch(r"\d{4}-\d\d-\d\d", str(value)))
    }
    return {**body, **changed}


def drive_inbound(d: Drive) -> set[tuple[str, str]]:
    """Every step valid, then refused: wrong types, an unknown field, an unknown person;
    each message type once oversize; a body that is not JSON. Returns the kinds sent."""
    inbound = Inbound(d, f"http://127.0.0.1:{d.hub.env['HUB_INBOUND_PORT']}/inbound/messages")
    p = d.personal
    persons: dict[str, str] = {}
    sent: set[tuple[str, str]] = set()
    oversize: set[str] = set()
    for step in INBOUND:
        body = step.body(p)
        kind = str(body["kind"])
        person = None if kind == "new_person" else persons[step.person]
        if kind == "address_change":
            body = {**body, "personId": persons[step.person]}
            person = None
        receipt = inbound.post(inbound.envelope(step.message_type, person, body), step.status)
        if step.status == 200:
            assert receipt["status"] == "accepted", receipt
            sent.add((step.message_type, kind))
        if kind == "new_person":
            persons[step.person] = receipt["personId"]
            broken = {**step.body(p), "azrNumber": f"30-{p.azr()}"}  # no AZR number
            inbound.post(inbound.envelope(step.message_type, None, broken), 422)
        else:
            other = str(uuid.uuid4())
            unknown = (
                {**body, "personId": other} if kind == "address_change" else body,
                None if kind == "address_change" else other,
            )
            inbound.post(inbound.envelope(step.message_type, unknown[1], unknown[0]), 403)
        inbound.post(inbound.envelope(step.message_type, person, _wrong_types(body, p)), 422)
        extra = {**body, "remarks": p.text("Rückfrage bei {}")}
        inbound.post(inbound.envelope(step.message_type, person, extra), 422)
        if step.message_type not in oversize:
            oversize.add(step.message_type)
            huge = {**body, "remarks": [p.text("{} ") * 50] * 300}
            inbound.post(inbound.envelope(step.message_type, person, huge), 413)
    broken_json = json.dumps(
        inbound.envelope(
            "registration_notice", None, _new_person("SYR", "2015-03-02", "asylum", "2015-03-10")(p)
        )
    )[:-7].encode()
    inbound.post(broken_json, 400)
    return sent


def drive_inbound_batch(d: Drive) -> None:
    """The batch form (POST /inbound/batches, NDJSON): a batch of new persons, one in-batch
    duplicate, and lines refused for an invalid AZR number, wrong types, an unknown field, an
    unknown person and no JSON; then a batch over the message limit, and one not sent as
    NDJSON, each with personal values."""
    base = f"http://127.0.0.1:{d.hub.env['HUB_INBOUND_PORT']}"
    # message ids of their own: drive_inbound's (e2e-logs-1, ...) are taken
    inbound = Inbound(d, f"{base}/inbound/messages", itertools.count(100_000))
    p = d.personal

    def person() -> dict[str, Any]:
        return inbound.envelope(
            "registration_notice",
            None,
            _new_person("AFG", "2016-02-01", "asylum", "2016-02-09")(p),
        )

    first = person()
    lines = [
        first,
        person(),
        first,  # the same message again, within the batch
        {**person(), "body": {**person()["body"], "azrNumber": f"30-{p.azr()}"}},
        {**person(), "body": _wrong_types(person()["body"], p)},
        {**person(), "remarks": p.text("Rückfrage bei {}")},
        inbound.envelope(
            "residence_decision",
            str(uuid.uuid4()),
            {"kind": "departure", "departedOn": "2020-01-01"},
        ),
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines)
    body += json.dumps(person())[:-9] + "\n"  # not JSON
    headers = {**d.headers(ABH), "Content-Type": "application/x-ndjson"}

    def post(content: str, content_type: str, expected: int) -> str:
        response = d.client.post(
            f"{base}/inbound/batches",
            content=content.encode(),
            headers={**headers, "Content-Type": content_type},
            timeout=60,
        )
        d.answers.append(response.text)
        assert response.status_code == expected, (expected, response.text)
        return response.text

    receipts = [json.loads(r) for r in post(body, "application/x-ndjson", 200).splitlines()]
    assert [r["status"] for r in receipts] == ["accepted", "accepted", "duplicate"] + [
        "rejected"
    ] * 5, receipts
    many = "".join(json.dumps(person()) + "\n" for _ in range(3))
    too_many = many * (BATCH_MAX // 3 + 1)
    post(too_many, "application/x-ndjson", 413)
    post(many, "application/json", 415)


# --- the search -----------------------------------------------------------------------------


def process_lines(log: str) -> Iterator[tuple[str, str]]:
    """(process, line) for every line ``hub up`` wrote: a child's lines carry its name."""
    for line in log.splitlines():
        name, bar, rest = line.partition(" | ")
        if bar and name.strip() and " " not in name.strip():
            yield name.strip(), rest
        else:
            yield "hub up", line


def leaks(log: str, values: list[str]) -> list[str]:
    """``process: value in line`` for every line showing one of ``values`` (also as escaped
    in JSON or a repr, any case)."""
    forms: dict[str, str] = {}
    for value in values:
        for form in (value, json.dumps(value)[1:-1], repr(value)[1:-1]):
            forms[form.lower()] = value
    pattern = re.compile("|".join(map(re.escape, sorted(forms, key=len, reverse=True))), re.I)
    found = []
    for process, line in process_lines(log):
        for match in pattern.finditer(line):
            found.append(f"{process}: {forms[match.group().lower()]!r} in {line[:400]!r}")
    return found


def test_the_log_search_names_the_process_and_the_line() -> None:
    log = (
        "gateway                | 10:00:01 INFO gateway x: all fine\n"
        'case_management        | 10:00:02 ERROR y: body {"givenNames": "Qyvandra\\u00e9"}\n'
        "10:00:03 INFO hub.up: QYVANDRA stopped\n"
    )
    assert leaks(log, ["Qyvandra"]) == [
        "case_management: 'Qyvandra' in '10:00:02 ERROR y: body {\"givenNames\": "
        '"Qyvandra\\\\u00e9"}\'',
        "hub up: 'Qyvandra' in '10:00:03 INFO hub.up: QYVANDRA stopped'",
    ]


@pytest.fixture
def hub_with_canary(
    tmp_path: Path, servers: Servers, database: str, nats_client: Any
) -> Iterator[RunningHub]:
    import os

    env = {
        "HUB_POSTGRES_URL": servers.postgres_url,
        "HUB_NATS_URL": servers.nats_url,
        "HUB_NATS_DEV_SECRETS": str(servers.nats_secrets),
        "HUB_DATABASE": database,
        "HUB_LOG_LEVEL": "DEBUG",
        "HUB_RETENTION_EVERY_HOURS": "0",  # its persons must not be erased in between
        "HUB_INBOUND_BATCH_MAX": str(BATCH_MAX),
        "HUB_E2E_LEAK_CANARY": CANARY,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(CANARY_DIR), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    yield from start_hub(tmp_path, env, "--no-demo")


def test_no_personal_value_reaches_any_process_log(
    hub_with_canary: RunningHub, request: pytest.FixtureRequest
) -> None:
    """Issue 10: every mutation and every inbound kind, valid and refused, through the real
    processes of ``hub up``; then no line any process logged shows one of the values sent."""
    hub = hub_with_canary
    hub.wait_until_up()
    d = Drive(hub)
    request.addfinalizer(d.client.close)

    # every mutation of the schema has a sample, and the schema's are the catalogue's
    introspected = d.graphql(
        Caller("admin", "hub"), "{ __schema { mutationType { fields { name } } } }", {}
    )
    schema_mutations = {
        f["name"] for f in introspected["data"]["__schema"]["mutationType"]["fields"]
    }
    assert schema_mutations == set(COMMANDS)
    assert set(MUTATIONS) == schema_mutations, (
        f"no sample for {sorted(schema_mutations - set(MUTATIONS))}"
        f"; samples without a mutation: {sorted(set(MUTATIONS) - schema_mutations)}"
    )

    refusal_codes = drive_mutations(d)
    inbound_sent = drive_inbound(d)
    assert inbound_sent == inbound_kinds(), sorted(inbound_kinds() - inbound_sent)
    drive_inbound_batch(d)

    # the positive control: a service prints the opened body holding the canary
    d.call(
        "openCase",
        {
            "givenNames": CANARY,
            "familyName": "Kanarienvogel",
            "targetGroup": "newly_arrived",
            "intakeSource": "self_referral",
        },
    )
    hub.wait_for_log(CANARY)

    time.sleep(1)  # what the processes still write about the last requests
    assert hub.interrupt() == 0
    log = hub.log.read_text(errors="replace")
    print(f"{len(log.splitlines())} log lines, {len(d.personal.values)} personal values")
    print("service refusals:", {m: sorted(c) for m, c in refusal_codes.items()})
    print("accepted with personal values 400 times as long:", d.unlimited)

    processes = {process for process, _ in process_lines(log)}
    assert {"gateway", "foreigners_authority", "case_management", "projector"} <= processes
    caught = leaks(log, [CANARY])
    assert caught, "the canary printed by the case-management service was not found"
    assert all(c.startswith("case_management: ") for c in caught), caught

    leaked = leaks(log, d.personal.values)
    assert not leaked, "personal values in the processes' logs:\n" + "\n".join(leaked[:30])
    shown = leaks("\n".join(d.answers), d.personal.values)
    assert not shown, "personal values in the hub's answers:\n" + "\n".join(shown[:30])
