"""Code lists of the foreigners authority, kept as data files: countries (ISO 3166-1 alpha-3
and ICAO's XX codes), official municipality keys (AGS), residence-title paragraphs with
the kind of title each gives, and the limits set on titles under a paragraph (§ 24). Loaded
once, on first use; checked by the application before a command reaches the residence file."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from services.foreigners_authority.domain.errors import InvalidValue

_SUBSECTION = re.compile(r" Abs\. \d+")


def _read(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class CodeLists:
    countries: dict[str, str]
    free_movement: frozenset[str]
    lands: dict[str, str]
    nrw_districts: dict[str, str]
    titles: dict[str, str]  # paragraph -> kind of title
    #: paragraph -> the last day a title (or protection) under it may run
    limits: dict[str, date] = field(default_factory=dict)

    def check_nationalities(self, codes: Iterable[str], field: str = "nationalities") -> None:
        unknown = sorted(c for c in codes if c not in self.countries)
        if unknown:
            raise InvalidValue(
                f"unknown country code(s) {', '.join(unknown)} (ISO 3166-1 alpha-3, or XXA "
                "for stateless)",
                field,
            )

    def check_municipality(self, key: str, field: str = "municipalityKey") -> None:
        if len(key) != 8 or not key.isdigit():
            raise InvalidValue("the municipality key (AGS) has 8 digits", field)
        if key[:2] not in self.lands:
            raise InvalidValue(f"no Land has the key {key[:2]}", field)
        if key[:2] == "05" and key[:5] not in self.nrw_districts:
            raise InvalidValue(f"no district of Nordrhein-Westfalen has the key {key[:5]}", field)

    def title_kind(self, paragraph: str) -> str | None:
        """The kind of title a paragraph gives (a subsection falls back to its section)."""
        return self.titles.get(paragraph) or self.titles.get(_SUBSECTION.sub("", paragraph))

    def check_paragraph(self, paragraph: str, field: str = "paragraph") -> None:
        if self.title_kind(paragraph) is None:
            raise InvalidValue(
                f"{paragraph} is not a paragraph under which a residence title is granted", field
            )

    def limit(self, paragraph: str) -> date | None:
        """The last day a title under ``paragraph`` may run, if a limit is set (a subsection
        falls back to its section)."""
        return self.limits.get(paragraph) or self.limits.get(_SUBSECTION.sub("", paragraph))

    def check_limit(
        self, paragraph: str, valid_until: date | None, field: str = "validUntil"
    ) -> None:
        """The one check of a limit such as § 24's: for a title granted under the paragraph
        and for § 24 protection granted or extended alike."""
        limit = self.limit(paragraph)
        if limit is not None and (valid_until is None or valid_until > limit):
            raise InvalidValue(f"{paragraph} runs at most until {limit.isoformat()}", field)

    def check_title(self, kind: str, paragraph: str, field: str = "paragraph") -> None:
        self.check_paragraph(paragraph, field)
        expected = self.title_kind(paragraph)
        if kind != expected and kind != "national_visa":
            raise InvalidValue(
                f"{paragraph} gives a {str(expected).replace('_', ' ')}, not a "
                f"{kind.replace('_', ' ')}",
                "title",
            )


@cache
def load_codelists() -> CodeLists:
    countries = _read("countries.json")["countries"]
    municipalities = _read("municipalities.json")
    titles = _read("titles.json")["titles"]
    limits = _read("limits.json")["limits"]
    return CodeLists(
        countries={c["code"]: c["name"] for c in countries},
        free_movement=frozenset(c["code"] for c in countries if c["free_movement"]),
        lands=dict(municipalities["lands"]),
        nrw_districts=dict(municipalities["nrw_districts"]),
        titles={t["paragraph"]: t["kind"] for t in titles},
        limits={item["paragraph"]: date.fromisoformat(item["until"]) for item in limits},
    )
