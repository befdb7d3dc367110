"""A small synthetic demo data set, loaded through the real command path (GraphQL).

All names and numbers are invented.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

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
        ("residence_permit", "§ 25 Abs. 2 AufenthG", "2016-08-01", "2019-07-31"),
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
        ("settlement_permit", "§ 18c AufenthG", "2024-06-03", None),
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


def load_demo(base_url: str, token: str) -> int:
    """Register the demo persons and their titles; returns how many persons."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        for index, (given, family, birth, nat, entry, mode, ags, title) in enumerate(PEOPLE):
            registered = dt.date.fromisoformat(entry) + dt.timedelta(days=7)
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
                    "abhId": f"abh-{ags}",
                },
            )["registerArrival"]["personId"]
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
    return len(PEOPLE)


def _call(client: httpx.Client, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": {"input": variables}})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"demo data rejected: {body.get('errors') or response.text}")
    data = body["data"]
    assert isinstance(data, dict)
    return data
