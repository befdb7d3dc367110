"""Hypothesis strategies for free text, with and without personal data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from hypothesis import strategies as st

from kernel.person_free import PersonalData

ORGANISATIONAL_WORDS = [
    "Familien",
    "warten",
    "Monate",
    "auf",
    "einen",
    "Kursplatz",
    "Jobcenter",
    "Ausländerbehörde",
    "Jugendzentrum",
    "Nordstraße",
    "Anwohnende",
    "Moderation",
    "SGB",
    "II",
    "§",
    "25a",
    "AufenthG",
    "appointments",
    "interpreters",
    "are",
    "missing",
    "in",
    "the",
    "district",
    "Übergang",
    "Frauenberatung",
    "Herrenhaus",
    "ca.",
    "%",
    "-",
]
words = st.sampled_from(ORGANISATIONAL_WORDS)
small_numbers = st.integers(1, 999).map(str)
years = st.integers(1950, 2099).map(str)

#: Ordinary organisational text: words, small counts, years and paragraphs.
ordinary_text = st.lists(words | small_numbers | years, min_size=6, max_size=60).map(
    lambda tokens: " ".join(["Beobachtung:", *tokens, "im Quartier."])
)

letters = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10)
emails = st.tuples(
    letters, st.sampled_from(["", ".", "+", "_"]), letters, letters, st.sampled_from(["de", "org"])
).map(lambda p: f"{p[0]}{p[1]}{p[2]}@{p[3]}.{p[4]}")


def digits(low: int, high: int) -> st.SearchStrategy[str]:
    return st.text("0123456789", min_size=low, max_size=high)


phones = st.tuples(
    st.sampled_from(
        [
            "0{area} {number}",
            "0{area}/{number}",
            "0{area}-{number}",
            "0{area}{number}",
            "(0{area}) {number}",
            "+49 {area} {number}",
            "+49-{area}-{number}",
            "+49 (0){area} {number}",
            "+49 (0) {area} {number}",
        ]
    ),
    st.integers(1, 9).map(str),
    digits(1, 3),
    st.integers(1, 9).map(str),
    digits(5, 7),
).map(lambda p: p[0].format(area=p[1] + p[2], number=p[3] + p[4]))

MONTHS = [
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
#: Every date format either service's copy of the rule caught before there was one.
DATE_FORMATS = [
    "{d:02}.{m:02}.{y}",
    "{d}.{m}.{y}",
    "{d:02}.{m:02}.{yy:02}",
    "{d}.{m}.{yy:02}",
    "{d:02}/{m:02}/{y}",
    "{d}/{m}/{yy:02}",
    "{y}-{m:02}-{d:02}",
    "{d}. {month} {y}",
    "{d}.{month}",
    "{d} {month}",
    "{d:02} {month}",
]
dates = st.tuples(
    st.dates(date(1900, 1, 1), date(2099, 12, 31)),
    st.sampled_from(DATE_FORMATS),
    st.booleans(),
).map(
    lambda p: p[1].format(
        d=p[0].day,
        m=p[0].month,
        y=p[0].year,
        yy=p[0].year % 100,
        month=MONTHS[p[0].month - 1 + (12 if p[2] else 0)],
    )
)
file_numbers = st.integers(10**8, 10**14 - 1).map(str)
SALUTATIONS = ["Herr", "Frau", "Hr.", "Fr.", "Mr", "Mr.", "Mrs", "Mrs.", "Ms", "Ms."]
names = st.sampled_from(["Müller", "Schmidt", "Yilmaz", "Nowak", "Haddad", "K"])
CASES: list[Callable[[str], str]] = [str.title, str.upper, str.lower]
salutations = st.tuples(st.sampled_from(SALUTATIONS), st.sampled_from(CASES), names).map(
    lambda p: f"{p[1](p[0])} {p[2]}"
)

PERSONAL: dict[PersonalData, st.SearchStrategy[str]] = {
    PersonalData.EMAIL: emails,
    PersonalData.PHONE: phones,
    PersonalData.DATE: dates,
    PersonalData.FILE_NUMBER: file_numbers,
    PersonalData.SALUTATION: salutations,
}


def embedded(piece: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Ordinary words with the piece somewhere in between."""
    return st.tuples(
        st.lists(words, min_size=3, max_size=10), piece, st.lists(words, max_size=10)
    ).map(lambda parts: " ".join(["Fachkräfte berichten:", *parts[0], parts[1], *parts[2]]))
