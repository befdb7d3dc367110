"""Synthetic but realistic paths, as the specialist software would send them (demo data).

Deterministic for a seed; every name, date and number is invented. Archetypes: people from
Ukraine under § 24, recognised refugees, rejected applicants tolerated and then granted § 25b,
EU citizens, skilled workers, students who change to work, people who depart, files that are
transferred, and naturalisations at every stage.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

GIVEN = [
    "Amir",
    "Olena",
    "Fatima",
    "Yusuf",
    "Mariam",
    "Daria",
    "Samir",
    "Leila",
    "Omar",
    "Iryna",
    "Hassan",
    "Nour",
    "Kwame",
    "Priya",
    "Luis",
    "Ana",
    "Mehmet",
    "Zainab",
    "Ahmad",
    "Sofia",
    "Bilal",
    "Marta",
    "Tariq",
    "Yana",
    "Ibrahim",
    "Rania",
]
FAMILY = [
    "Haddad",
    "Demchenko",
    "Sultani",
    "Abdi",
    "Kovalenko",
    "Rahimi",
    "Karimi",
    "Mensah",
    "Raman",
    "Ortega",
    "Yilmaz",
    "Hussaini",
    "Bondar",
    "Osman",
    "Nowak",
    "Popescu",
    "Ahmadi",
    "Tkachenko",
    "Jalloh",
    "Okafor",
    "Silva",
    "Hosseini",
    "Melnyk",
]
MUNICIPALITIES = [
    "05315000",
    "05111000",
    "05913000",
    "05515000",
    "05334002",
    "05112000",
    "05314000",
    "05711000",
    "05124000",
    "05562004",
]
EU = ["ESP", "POL", "ROU", "BGR", "ITA", "GRC", "HRV", "PRT"]
SKILLED = ["IND", "GHA", "BRA", "PHL", "VNM", "TUN", "EGY", "COL"]
REFUGEES = ["SYR", "AFG", "IRQ", "ERI", "IRN", "SOM"]

#: archetype -> share of persons
ARCHETYPES = {
    "ukraine_24": 0.22,
    "refugee": 0.24,
    "tolerated_25b": 0.12,
    "eu_citizen": 0.12,
    "skilled_worker": 0.14,
    "student": 0.07,
    "departed": 0.05,
    "transferred": 0.04,
}


@dataclass
class Path:
    """One synthetic person's messages, in the order the authority would send them."""

    archetype: str
    index: int
    messages: list[dict[str, Any]] = field(default_factory=list)


class _Builder:
    def __init__(self, rng: random.Random, today: date, sender: str, index: int) -> None:
        self.rng = rng
        self.today = today
        self.sender = sender
        self.index = index
        self.count = 0
        self.messages: list[dict[str, Any]] = []

    def day(self, start: date, min_days: int, max_days: int) -> date:
        value = start + timedelta(days=self.rng.randint(min_days, max_days))
        return min(value, self.today)

    def send(self, message_type: str, body: dict[str, Any]) -> None:
        self.count += 1
        message = {
            "messageId": f"demo-{self.index:04d}-{self.count:02d}",
            "messageType": message_type,
            "sentAt": f"{self.today.isoformat()}T09:00:00+01:00",
            "sender": self.sender,
            "body": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in body.items()},
        }
        if message_type != "registration_notice" or body.get("kind") != "new_person":
            message["personId"] = "{person}"  # filled in from the first receipt
        self.messages.append(message)

    def arrive(self, nationality: str, entry: date, mode: str) -> None:
        rng = self.rng
        self.send(
            "registration_notice",
            {
                "kind": "new_person",
                "givenNames": rng.choice(GIVEN),
                "familyName": rng.choice(FAMILY),
                "birthDate": date(rng.randint(1960, 2006), rng.randint(1, 12), rng.randint(1, 28)),
                "azrNumber": f"{700000000000 + self.index * 97 + rng.randint(0, 96):012d}",
                "nationalities": [nationality],
                "entryDate": entry,
                "entryMode": mode,
                "municipalityKey": rng.choice(MUNICIPALITIES),
                "registeredOn": self.day(entry, 1, 14),
            },
        )

    def title(self, kind: str, paragraph: str, start: date, years: int | None) -> date | None:
        if start > self.today:
            return None
        until = None if years is None else start + timedelta(days=365 * years - 1)
        self.send(
            "residence_decision",
            {
                "kind": "title_granted",
                "title": kind,
                "paragraph": paragraph,
                "grantedOn": start,
                "validFrom": start,
                **({"validUntil": until} if until else {}),
            },
        )
        return until

    def course(self, after: date, level: str = "B1") -> date | None:
        done = after + timedelta(days=self.rng.randint(300, 700))
        if done > self.today:
            return None
        self.send(
            "integration_course",
            {
                "kind": "obligation",
                "by": "foreigners_authority",
                "imposedOn": self.day(after, 10, 60),
            },
        )
        self.send("integration_course", {"kind": "completed", "level": level, "completedOn": done})
        return done

    def naturalise(self, after: date) -> None:
        """Apply, and at random go on: test, assessment, assurance, certificate."""
        rng = self.rng
        applied = after + timedelta(days=rng.randint(30, 400))
        if applied > self.today:
            return
        self.send(
            "naturalisation",
            {"kind": "test_passed", "passedOn": applied - timedelta(days=rng.randint(10, 90))},
        )
        self.send(
            "naturalisation",
            {"kind": "applied", "channel": rng.choice(["online", "paper"]), "appliedOn": applied},
        )
        law = (
            "stag-2025"
            if applied >= date(2025, 10, 30)
            else ("stag-2024" if applied >= date(2024, 6, 27) else "stag-2000")
        )
        assessed = applied + timedelta(days=rng.randint(60, 200))
        if assessed > self.today:
            return
        for requirement in (
            "residence_period",
            "language",
            "livelihood",
            "no_conviction",
            "commitment",
        ):
            self.send(
                "naturalisation",
                {
                    "kind": "requirement_assessed",
                    "requirement": requirement,
                    "outcome": "met",
                    "lawVersion": law,
                    "assessedOn": assessed,
                },
            )
        certificate = assessed + timedelta(days=rng.randint(60, 240))
        if rng.random() < 0.4 or certificate > self.today:
            return
        self.send("naturalisation", {"kind": "assured", "assuredOn": assessed})
        self.send("naturalisation", {"kind": "completed", "certificateDate": certificate})


def _ukraine(b: _Builder) -> None:
    entry = date(2022, 3, 1) + timedelta(days=b.rng.randint(0, 300))
    b.arrive("UKR", entry, "temporary_protection")
    start = b.day(entry, 5, 40)
    b.send(
        "residence_decision",
        {
            "kind": "temporary_protection_granted",
            "validFrom": start,
            "validUntil": date(2024, 3, 4),
        },
    )
    for until in (date(2025, 3, 4), date(2026, 3, 4), date(2027, 3, 4)):
        if until - timedelta(days=400) <= b.today:
            b.send(
                "residence_decision", {"kind": "temporary_protection_extended", "validUntil": until}
            )
    b.course(start, b.rng.choice(["A2", "B1", "B1"]))
    if b.rng.random() < 0.25:  # moved to a work title
        change = b.day(start, 500, 1100)
        if change < b.today:
            b.title("residence_permit", "§ 18a AufenthG", change, 2)


def _refugee(b: _Builder, *, naturalise: bool = True) -> None:
    entry = date(2014, 6, 1) + timedelta(days=b.rng.randint(0, 1900))
    b.arrive(b.rng.choice(REFUGEES), entry, "asylum")
    filed = b.day(entry, 3, 60)
    b.send("asylum_decision", {"kind": "application_filed", "filedOn": filed})
    decided = b.day(filed, 150, 700)
    b.send(
        "asylum_decision",
        {
            "kind": "decision",
            "decidedOn": decided,
            "outcome": b.rng.choice(["refugee", "refugee", "subsidiary", "asylum"]),
        },
    )
    start = b.day(decided, 20, 80)
    title_until = b.title("residence_permit", "§ 25 Abs. 2 AufenthG", start, 3)
    done = b.course(start)
    if title_until and title_until < b.today:
        settle = title_until + timedelta(days=1)
        if b.rng.random() < 0.6 and settle < b.today:
            b.title("settlement_permit", "§ 26 Abs. 3 AufenthG", settle, None)
            if naturalise and done and b.rng.random() < 0.6:
                b.naturalise(max(settle, date(2021, 1, 1)))
        elif settle < b.today:
            b.title("residence_permit", "§ 25 Abs. 2 AufenthG", settle, 3)


def _tolerated(b: _Builder) -> None:
    entry = date(2015, 1, 1) + timedelta(days=b.rng.randint(0, 1000))
    b.arrive(b.rng.choice([*REFUGEES, "GMB", "NGA"]), entry, "asylum")
    filed = b.day(entry, 3, 60)
    b.send("asylum_decision", {"kind": "application_filed", "filedOn": filed})
    decided = b.day(filed, 200, 800)
    b.send("asylum_decision", {"kind": "decision", "outcome": "rejected", "decidedOn": decided})
    start = b.day(decided, 10, 40)
    ground = b.rng.choice(["general", "training", "employment"])
    end = min(start + timedelta(days=b.rng.randint(900, 2400)), b.today)
    b.send(
        "residence_decision",
        {
            "kind": "duldung_issued",
            "ground": ground,
            "validFrom": start,
            "validUntil": end + timedelta(days=1),
        },
    )
    if b.rng.random() < 0.7 and end < b.today - timedelta(days=120):
        applied = end - timedelta(days=b.rng.randint(30, 90))
        paragraph = b.rng.choice(["§ 25b AufenthG", "§ 25a AufenthG", "§ 104c AufenthG"])
        b.send(
            "residence_decision",
            {"kind": "title_applied", "paragraph": paragraph, "appliedOn": applied},
        )
        b.send(
            "residence_decision",
            {
                "kind": "fiktion_issued",
                "fiktion": "81_3",
                "issuedOn": applied + timedelta(days=7),
                "validUntil": end + timedelta(days=120),
            },
        )
        b.title("residence_permit", paragraph, end + timedelta(days=2), 2)


def _eu(b: _Builder) -> None:
    entry = date(2013, 1, 1) + timedelta(days=b.rng.randint(0, 4000))
    b.arrive(b.rng.choice(EU), min(entry, b.today - timedelta(days=30)), "eu_free_movement")
    if b.rng.random() < 0.3:
        b.send(
            "integration_course",
            {
                "kind": "language_certificate",
                "cefrLevel": b.rng.choice(["B1", "B2", "C1"]),
                "issuedOn": b.day(entry, 300, 1500),
            },
        )


def _skilled(b: _Builder, *, naturalise: bool = True) -> None:
    entry = date(2016, 1, 1) + timedelta(days=b.rng.randint(0, 3000))
    entry = min(entry, b.today - timedelta(days=60))
    b.arrive(b.rng.choice(SKILLED), entry, "visa")
    start = b.day(entry, 5, 30)
    blue = b.rng.random() < 0.5
    until = b.title(
        "eu_blue_card" if blue else "residence_permit",
        "§ 18g AufenthG" if blue else "§ 18b AufenthG",
        start,
        4,
    )
    b.send(
        "integration_course",
        {
            "kind": "language_certificate",
            "cefrLevel": b.rng.choice(["A2", "B1", "B2"]),
            "issuedOn": b.day(start, 200, 900),
        },
    )
    settle = b.day(start, 700, 1700)
    if until and settle < b.today and settle <= until:
        b.title("settlement_permit", "§ 18c AufenthG", settle, None)
        if naturalise and b.rng.random() < 0.4:
            b.naturalise(max(settle, entry + timedelta(days=5 * 366)))


def _student(b: _Builder) -> None:
    entry = date(2017, 9, 1) + timedelta(days=b.rng.randint(0, 2000))
    entry = min(entry, b.today - timedelta(days=60))
    b.arrive(b.rng.choice([*SKILLED, "CHN", "TUR", "CMR"]), entry, "visa")
    start = b.day(entry, 5, 30)
    until = b.title("residence_permit", "§ 16b AufenthG", start, 2)
    if until and until < b.today:
        b.title("residence_permit", "§ 16b AufenthG", until + timedelta(days=1), 2)
        change = until + timedelta(days=b.rng.randint(400, 700))
        if change < b.today:
            b.title("residence_permit", "§ 18b AufenthG", change, 3)


def _departed(b: _Builder) -> None:
    if b.rng.random() < 0.5:
        _tolerated(b)
    else:
        _skilled(b, naturalise=False)
    last = max(
        date.fromisoformat(str(v))
        for m in b.messages
        for k, v in m["body"].items()
        if k.endswith(("On", "From", "Date")) and isinstance(v, str)
    )
    departed = b.day(last, 30, 400)
    b.send("residence_decision", {"kind": "departure", "departedOn": departed})


def _transferred(b: _Builder) -> None:
    _refugee(b, naturalise=False)
    b.send(
        "file_transfer",
        {
            "kind": "transfer",
            "toAbh": "abh-05111",
            "transferredOn": b.today - timedelta(days=b.rng.randint(1, 200)),
        },
    )


BUILD = {
    "ukraine_24": _ukraine,
    "refugee": _refugee,
    "tolerated_25b": _tolerated,
    "eu_citizen": _eu,
    "skilled_worker": _skilled,
    "student": _student,
    "departed": _departed,
    "transferred": _transferred,
}


def synthetic_paths(
    count: int = 200, *, seed: int = 20261121, today: date, sender: str = "abh-05315"
) -> Iterator[Path]:
    rng = random.Random(seed)  # noqa: S311 - synthetic demo data, not security
    names = list(ARCHETYPES)
    weights = [ARCHETYPES[n] for n in names]
    for index in range(count):
        archetype = rng.choices(names, weights)[0]
        builder = _Builder(random.Random(rng.random()), today, sender, index)  # noqa: S311
        BUILD[archetype](builder)
        yield Path(archetype, index, builder.messages)
