"""The blind index's normalisation and tokens: no I/O."""

from __future__ import annotations

import unicodedata
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.foreigners_authority.search_index import (
    AZR_NUMBER,
    BIRTH_DATE,
    FAMILY_NAME,
    GIVEN_NAME,
    Identity,
    Tokens,
    given_name_parts,
    normalise,
)

KEY = bytes(range(32))

#: accents that are dropped (not the diaeresis, which writes German umlauts out)
ACCENTS = ["\u0301", "\u0300", "\u0302", "\u0327", "\u030c", "\u0303", "\u0328"]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Müller", "Mueller"),
        ("MÜLLER", "mueller"),
        ("Mu\u0308ller", "Müller"),  # decomposed ü
        ("Strauß", "STRAUSS"),
        ("  José   María ", "jose maria"),
        ("Çelik", "celik"),
        ("Şahin", "sahin"),
        ("Öztürk", "Oeztuerk"),
        ("Dvořák", "dvorak"),
    ],
)
def test_names_typed_differently_normalise_alike(typed: str, stored: str) -> None:
    assert normalise(typed) == normalise(stored)


def test_an_umlaut_is_not_its_bare_vowel() -> None:
    # the chosen rule: "ü" is written "ue" (as in a German passport's machine-readable zone)
    assert normalise("Müller") != normalise("Muller")
    assert normalise("Müller") == "mueller"


def test_distinct_names_stay_distinct() -> None:
    assert normalise("Meier") != normalise("Meyer")
    assert normalise("Al Hassan") != normalise("Alhassan")


@given(st.text(max_size=40))
def test_normalise_is_idempotent(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once


@given(st.text(alphabet=st.characters(codec="ascii", categories=["L"]), min_size=1, max_size=20))
def test_case_changes_do_not_matter(name: str) -> None:
    assert normalise(name.upper()) == normalise(name.lower()) == normalise(name.swapcase())


@given(
    st.text(
        alphabet=st.characters(codec="ascii", categories=["L"]), min_size=1, max_size=20
    ).filter(lambda n: not any(c in "aouAOU" for c in n)),
    st.lists(st.sampled_from(ACCENTS), min_size=1, max_size=3),
)
def test_accents_do_not_matter(name: str, accents: list[str]) -> None:
    accented = unicodedata.normalize(
        "NFC", "".join(c + accents[i % len(accents)] for i, c in enumerate(name))
    )
    assert normalise(accented) == normalise(name)


@given(st.text(alphabet="aouAOU", min_size=1, max_size=10))
def test_umlauts_are_their_written_out_form_in_any_case(vowels: str) -> None:
    with_umlauts = unicodedata.normalize("NFC", "".join(v + "\u0308" for v in vowels))
    written_out = "".join(v + "e" for v in vowels)
    assert normalise(with_umlauts) == normalise(written_out) == normalise(written_out.upper())


def test_given_names_are_found_whole_and_one_by_one() -> None:
    assert given_name_parts(" Amina  Fatima ") == ["amina fatima", "amina", "fatima"]
    assert given_name_parts("") == []


def test_tokens_are_keyed_and_typed() -> None:
    tokens = Tokens(KEY)
    other = Tokens(bytes(32))
    assert tokens.token(FAMILY_NAME, "mueller") != other.token(FAMILY_NAME, "mueller")
    assert tokens.token(FAMILY_NAME, "mueller") != tokens.token(GIVEN_NAME, "mueller")
    assert tokens.key_id != other.key_id
    assert b"mueller" not in tokens.token(FAMILY_NAME, "mueller")


def test_a_files_tokens_match_the_terms_it_is_searched_by() -> None:
    tokens = Tokens(KEY)
    identity = Identity("Müller", "Amina Fatima", "1990-03-04", "123456789012")
    stored = set(tokens.of_identity(identity))
    terms = tokens.of_terms(
        family_name="MUELLER",
        given_name="fatima",
        birth_date=date(1990, 3, 4),
        azr_number="1234 5678 9012",
    )
    assert set(terms) == {FAMILY_NAME, GIVEN_NAME, BIRTH_DATE, AZR_NUMBER}
    assert set(terms.items()) <= stored
    assert tokens.of_terms(family_name="Muller")[FAMILY_NAME] not in {t for _, t in stored}


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Tokens(b"short")
