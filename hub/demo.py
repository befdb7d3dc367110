"""A small synthetic demo data set, loaded through the real command path (GraphQL).

All names and numbers are invented.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx

from kernel.clock import today_in_germany

REGISTER = """
mutation($input: RegisterArrivalInput!) {
  registerArrival(input: $input) { personId position }
}"""
GRANT = """
mutation($input: GrantResidenceTitleInput!) {
  grantResidenceTitle(input: $input) { position }
}"""

# given, family, birth, nationality, entry, mode, municipality (AGS), title
PEOPLE: list[tuple[str, str, str, str, str, str, str, tuple[str, str, str, str | None] | None]] = [
    (
        "Olena",
        "Demchenko",
        "1987-04-12",
        "UKR",
        "2022-03-09",
        "temporary_protection",
        "05315000",
        ("residence_permit", "§ 24 AufenthG", "2022-03-20", "2027-03-04"),
    ),
    (
        "Amir",
        "Haddad",
        "1995-11-02",
        "SYR",
        "2015-10-14",
        "asylum",
        "05111000",
        None,  # the asylum procedure and the titles come through the inbound interface
    ),
    (
        "Priya",
        "Raman",
        "1991-06-23",
        "IND",
        "2023-09-01",
        "visa",
        "05315000",
        ("eu_blue_card", "§ 18g AufenthG", "2023-09-15", "2027-09-14"),
    ),
    ("Luis", "Ortega", "1989-01-30", "ESP", "2020-02-10", "eu_free_movement", "05913000", None),
    (
        "Fatima",
        "Sultani",
        "2004-03-17",
        "AFG",
        "2018-05-22",
        "asylum",
        "05515000",
        ("residence_permit", "§ 25a AufenthG", "2024-02-01", "2027-01-31"),
    ),
    (
        "Kwame",
        "Mensah",
        "1993-08-08",
        "GHA",
        "2019-04-04",
        "visa",
        "05334002",
        ("eu_blue_card", "§ 18g AufenthG", "2019-04-15", "2027-04-14"),
    ),
    (
        "Mariam",
        "Abdi",
        "1999-12-01",
        "SOM",
        "2016-07-19",
        "asylum",
        "05315000",
        ("residence_permit", "§ 25b AufenthG", "2023-11-15", "2025-11-14"),
    ),
    (
        "Daria",
        "Kovalenko",
        "2010-05-05",
        "UKR",
        "2022-04-01",
        "temporary_protection",
        "05111000",
        ("residence_permit", "§ 24 AufenthG", "2022-04-12", "2027-03-04"),
    ),
]


def authority_of(municipality_key: str) -> str:
    """The foreigners authority of a municipality: the one of its district or district-free
    city (the first five digits of the key), as the demo officer's ``abh-05315`` (Köln)."""
    return f"abh-{municipality_key[:5]}"


def load_demo(
    base_url: str,
    authority_token: Callable[[str], str],
    case_manager_token: str | None = None,
    inbound_url: str | None = None,
) -> int:
    """Register the demo persons and their titles, each by the foreigners authority of their
    municipality (``authority_token(abh_id)`` signs its officer in), with ``inbound_url`` the
    later history of a few of them through the inbound interface (``INBOUND``), and (with a
    case manager's token) a few cases with consent, a referral and mediation; returns how
    many persons."""
    person_ids: list[str] = []
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for index, (given, family, birth, nat, entry, mode, ags, title) in enumerate(PEOPLE):
            registered = dt.date.fromisoformat(entry) + dt.timedelta(days=7)
            client.headers["Authorization"] = f"Bearer {authority_token(authority_of(ags))}"
            person_id = _call(
                client,
                REGISTER,
                {
                    "givenNames": given,
                    "familyName": family,
                    "birthDate": birth,
                    "azrNumber": f"{900000000000 + index:012d}",
                    "nationalities": [nat],
                    "entryDate": entry,
                    "entryMode": mode.upper(),
                    "municipalityKey": ags,
                    "registeredOn": registered.isoformat(),
                    "abhId": authority_of(ags),
                },
            )["registerArrival"]["personId"]
            person_ids.append(person_id)
            if title is not None:
                kind, paragraph, valid_from, valid_until = title
                _call(
                    client,
                    GRANT,
                    {
                        "personId": person_id,
                        "title": kind.upper(),
                        "paragraph": paragraph,
                        "validFrom": valid_from,
                        "validUntil": valid_until,
                    },
                )
    if inbound_url is not None:
        load_inbound(inbound_url, authority_token, person_ids)
    if case_manager_token is not None:
        _load_cases(base_url, case_manager_token, person_ids)
    return len(PEOPLE)


#: What the specialist software of the person's authority reports later, by the person's index
#: in ``PEOPLE``: (messageType, body). The pathway page shows these: a court granting
#: protection after the BAMF's rejection (Amir), a stay abroad and the return (Kwame), and a
#: renewal applied for in time with no decision yet, whose title is deemed to continue
#: (§ 81 (4) AufenthG: Mariam).
INBOUND: dict[int, list[tuple[str, dict[str, Any]]]] = {
    1: [
        ("asylum_decision", {"kind": "application_filed", "filedOn": "2015-10-20"}),
        ("asylum_decision", {"kind": "decision", "outcome": "rejected", "decidedOn": "2016-09-01"}),
        ("asylum_decision", {"kind": "appeal_filed", "filedOn": "2016-09-12"}),
        (
            "asylum_decision",
            {"kind": "court_decision", "outcome": "refugee", "decidedOn": "2018-02-01"},
        ),
        ("asylum_decision", {"kind": "decision_final", "finalOn": "2018-03-10"}),
        (
            "residence_decision",
            {
                "kind": "title_granted",
                "title": "residence_permit",
                "paragraph": "§ 25 Abs. 2 AufenthG",
                "grantedOn": "2018-04-20",
                "validFrom": "2018-05-01",
                "validUntil": "2021-04-30",
            },
        ),
        (
            "residence_decision",
            {
                "kind": "title_granted",
                "title": "residence_permit",
                "paragraph": "§ 25 Abs. 2 AufenthG",
                "grantedOn": "2021-04-15",
                "validFrom": "2021-05-01",
                "validUntil": "2027-04-30",
            },
        ),
    ],
    5: [
        ("residence_decision", {"kind": "stay_abroad", "leftOn": "2024-07-01"}),
        ("residence_decision", {"kind": "returned", "returnedOn": "2024-09-15"}),
    ],
    6: [
        (
            "residence_decision",
            {"kind": "title_applied", "paragraph": "§ 25b AufenthG", "appliedOn": "2025-10-20"},
        ),
    ],
}


def load_inbound(
    inbound_url: str, authority_token: Callable[[str], str], person_ids: list[str]
) -> int:
    """Send ``INBOUND`` through the inbound interface, each message by the authority that
    holds the person's file; returns how many were accepted."""
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{inbound_url}/inbound/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    sent_at = dt.datetime.now(dt.UTC).isoformat()
    accepted = 0
    with httpx.Client(base_url=inbound_url, timeout=30) as client:
        for index, messages in INBOUND.items():
            sender = authority_of(PEOPLE[index][6])
            headers = {"Authorization": f"Bearer {authority_token(sender)}"}
            for number, (message_type, body) in enumerate(messages):
                message = {
                    "messageId": f"demo-{index}-{number}",
                    "messageType": message_type,
                    "sentAt": sent_at,
                    "sender": sender,
                    "personId": person_ids[index],
                    "body": body,
                }
                response = client.post("/inbound/messages", json=message, headers=headers)
                if response.status_code != 200:
                    raise RuntimeError(f"demo message refused: {response.text}")
                accepted += 1
    return accepted


OPEN_CASE = "mutation($input: OpenCaseInput!) { openCase(input: $input) { caseId } }"
ASSESS = "mutation($input: AssessNeedsInput!) { assessNeeds(input: $input) { position } }"
GOAL = "mutation($input: AgreeGoalInput!) { agreeGoal(input: $input) { position } }"
CONSENT = "mutation($input: GrantConsentInput!) { grantConsent(input: $input) { consentId } }"
REFER = "mutation($input: SendReferralInput!) { sendReferral(input: $input) { referralId } }"
MEDIATOR = (
    "mutation($input: RegisterMediatorInput!) { registerMediator(input: $input) { mediatorId } }"
)
MEDIATION = (
    "mutation($input: RequestMediationInput!) { requestMediation(input: $input) { requestId } }"
)
GAP = "mutation($input: ReportSystemicGapInput!) { reportSystemicGap(input: $input) { gapId } }"


def _load_cases(base_url: str, token: str, person_ids: list[str]) -> None:
    """Cases for three of the demo persons (known to the foreigners authority) and one
    person known only to case management."""
    today = today_in_germany()
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for name, languages, hours in (
            ("Nadia Karimi", ["fa", "prs", "de"], ["mon 09:00-13:00", "wed 13:00-17:00"]),
            ("Yusuf Demir", ["ar", "tr", "ku"], ["tue 08:00-12:00", "thu 08:00-16:00"]),
            ("Iryna Bondar", ["uk", "ru"], ["fri 09:00-15:00"]),
        ):
            _call(
                client,
                MEDIATOR,
                {
                    "displayName": name,
                    "languages": languages,
                    "availability": hours,
                    "pledgeSignedOn": (today - dt.timedelta(days=30)).isoformat(),
                },
            )
        cases = [
            (person_ids[0], "Olena", "Demchenko", "newly_arrived", ["sgb_ii"], "jobcenter", "uk"),
            (
                person_ids[1],
                "Amir",
                "Haddad",
                "young_adults",
                ["sgb_ii", "aufenthg"],
                "foreigners_authority",
                "ar",
            ),
            (person_ids[6], "Mariam", "Abdi", "tolerated", ["asylblg"], "self_referral", "so"),
            (None, "Samir", "Ahmadi", "newly_arrived", ["asylblg"], "counselling_service", "fa"),
        ]
        for index, (person, given, family, group, spheres, source, language) in enumerate(cases):
            case_id = _call(
                client,
                OPEN_CASE,
                {
                    "personId": person,
                    "givenNames": given,
                    "familyName": family,
                    "targetGroup": group,
                    "legalSpheres": spheres,
                    "intakeSource": source,
                    "interpreterNeeded": language not in ("de", "en"),
                },
            )["openCase"]["caseId"]
            _call(
                client,
                ASSESS,
                {
                    "caseId": case_id,
                    "needs": [
                        {"domain": "work", "level": "high"},
                        {"domain": "language", "level": "medium"},
                        {"domain": "housing", "level": "low" if index % 2 else "high"},
                    ],
                },
            )
            _call(
                client,
                GOAL,
                {
                    "caseId": case_id,
                    "domain": "language",
                    "description": "Integrationskurs B1 abschließen",
                    "targetDate": (today + dt.timedelta(days=240)).isoformat(),
                },
            )
            consent_id = _call(
                client,
                CONSENT,
                {
                    "caseId": case_id,
                    "recipients": ["awo-05315", "jobcenter-05315"],
                    "categories": ["case_basic", "work", "language"],
                    "purposes": ["referral", "employment_support"],
                    "validUntil": (today + dt.timedelta(days=365)).isoformat(),
                    "language": language if language in ("uk", "ar", "fa", "so") else "de",
                },
            )["grantConsent"]["consentId"]
            _call(
                client,
                REFER,
                {
                    "caseId": case_id,
                    "toAgency": "awo-05315" if index % 2 else "jobcenter-05315",
                    "service": "Migrationsberatung" if index % 2 else "Arbeitsvermittlung",
                    "consentId": consent_id,
                    "sharedCategories": ["case_basic", "work"],
                    "purpose": "referral" if index % 2 else "employment_support",
                },
            )
            next_monday = today + dt.timedelta(days=7 - today.weekday())
            _call(
                client,
                MEDIATION,
                {
                    "caseId": case_id,
                    "language": language,
                    "startsAt": f"{next_monday.isoformat()}T10:00:00+01:00",
                    "minutes": 60,
                },
            )
        _call(
            client,
            GAP,
            {
                "category": "waiting_times",
                "description": "Termine für Sprachkurse auf B1-Niveau haben derzeit Wartezeiten "
                "von mehreren Monaten; mehrere Klientinnen können deshalb keine Arbeit aufnehmen.",
                "affectedCount": 12,
            },
        )


def _call(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    variables = {k: v for k, v in variables.items() if v is not None}
    response = client.post("/graphql", json={"query": query, "variables": {"input": variables}})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"demo data rejected: {body.get('errors') or response.text}")
    data = body["data"]
    assert isinstance(data, dict)
    return data


REPORT_CONFLICT = (
    "mutation($input: ReportConflictInput!) { reportConflict(input: $input) { conflictId } }"
)
ESCALATE = (
    "mutation($input: EscalateConflictInput!) { escalateConflict(input: $input) { position } }"
)
BOARD_GAP = "mutation($input: ReportBoardGapInput!) { reportBoardGap(input: $input) { gapId } }"
STEERING_GOAL = (
    "mutation($input: DefineGoalInput!) { defineIntegrationGoal(input: $input) { goalId } }"
)
VALUE = (
    "mutation($input: RecordIndicatorValueInput!) { recordIndicatorValue(input: $input) "
    "{ position } }"
)

CONFLICTS = [
    ("neighbourhood", "Köln-Chorweiler", 3, "Lärm und Müll rund um den Bolzplatz"),
    ("neighbourhood", "Köln-Chorweiler", 3, "Streit um Parkplätze vor der Unterkunft"),
    ("school", "Köln-Chorweiler", 3, "Konflikte zwischen Elterngruppen an der Grundschule"),
    ("housing", "Köln-Chorweiler", 3, "Beschwerden über Belegung einer Gemeinschaftsunterkunft"),
    ("public_space", "Köln-Chorweiler", 3, "Nutzung des Stadtteilparks am Abend"),
    ("administration", "Köln-Innenstadt", 2, "Unklare Zuständigkeit zwischen zwei Ämtern"),
    ("neighbourhood", "Köln-Porz", 5, "Sachbeschädigungen am Jugendtreff"),
]
GOALS = [
    (
        "language",
        "Mehr Menschen erreichen B1",
        "Anteil B1-Abschlüsse",
        "%",
        40,
        60,
        [("2025-Q4", 41), ("2026-Q2", 47), ("2026-Q3", 50)],
    ),
    (
        "work",
        "Mehr Geflüchtete in Beschäftigung",
        "Beschäftigungsquote Schutzberechtigter",
        "%",
        35,
        50,
        [("2025", 36), ("2026-Q2", 37)],
    ),
    (
        "housing",
        "Schneller aus Gemeinschaftsunterkünften",
        "Median Verweildauer",
        "Monate",
        18,
        9,
        [("2025", 17), ("2026-Q3", 14)],
    ),
]


def load_board_and_steering(base_url: str, board_token: str, steering_token: str) -> None:
    """Conflicts (one escalated to the steering group), a board gap, goals with values."""
    today = today_in_germany()
    with httpx.Client(
        base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {board_token}"}
    ) as board:
        for kind, district, stage, description in CONFLICTS:
            conflict = _call(
                board,
                REPORT_CONFLICT,
                {
                    "kind": kind,
                    "district": district,
                    "stage": stage,
                    "description": description,
                    "parties": [
                        {"type": "group", "name": "Anwohnende"},
                        {"type": "organisation", "name": "Träger vor Ort"},
                    ],
                },
            )["reportConflict"]["conflictId"]
            if stage == 5:
                _call(
                    board,
                    ESCALATE,
                    {
                        "conflictId": conflict,
                        "toStage": 6,
                        "toBody": "steering_group",
                        "reason": "Wiederholte Sachbeschädigungen",
                    },
                )
        _call(
            board,
            BOARD_GAP,
            {
                "category": "social_cohesion",
                "conflictCount": 6,
                "description": "Es fehlen offene Treffpunkte für Jugendliche; daraus entstehen"
                " wiederkehrende Nachbarschaftskonflikte.",
            },
        )
    with httpx.Client(
        base_url=base_url, timeout=30, headers={"Authorization": f"Bearer {steering_token}"}
    ) as steering:
        for field, goal, indicator, unit, baseline, target, values in GOALS:
            goal_id = _call(
                steering,
                STEERING_GOAL,
                {
                    "fieldOfAction": field,
                    "goal": goal,
                    "indicator": indicator,
                    "unit": unit,
                    "baseline": baseline,
                    "target": target,
                    "due": (today + dt.timedelta(days=3 * 365)).isoformat(),
                },
            )["defineIntegrationGoal"]["goalId"]
            for period, value in values:
                _call(steering, VALUE, {"goalId": goal_id, "period": period, "value": value})
