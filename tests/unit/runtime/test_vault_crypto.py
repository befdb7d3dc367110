"""Field encryption under a person's key: confidentiality, binding, tamper detection."""

from __future__ import annotations

import base64
import os
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime.vault import (
    KeyWrapper,
    TamperedCiphertext,
    decrypt_field,
    encrypt_field,
    is_token,
)

KEY = os.urandom(32)


@given(value=st.text(max_size=300))
def test_a_field_round_trips_and_never_shows_its_clear_text(value: str) -> None:
    person = uuid4()

    token = encrypt_field(KEY, person, "names", value)

    assert is_token(token)
    if len(value) >= 4:
        assert value not in token
    assert decrypt_field(KEY, person, "names", token) == value


def test_a_token_does_not_decrypt_for_another_person_or_field() -> None:
    person = uuid4()
    token = encrypt_field(KEY, person, "names", "Amir Haddad")

    with pytest.raises(TamperedCiphertext):
        decrypt_field(KEY, uuid4(), "names", token)
    with pytest.raises(TamperedCiphertext):
        decrypt_field(KEY, person, "azr_number", token)


def test_an_altered_token_is_detected() -> None:
    person = uuid4()
    token = encrypt_field(KEY, person, "names", "Amir Haddad")
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]

    with pytest.raises(TamperedCiphertext):
        decrypt_field(KEY, person, "names", altered)


def test_a_person_key_unwraps_only_with_its_master_key_and_person() -> None:
    wrapper = KeyWrapper(base64.urlsafe_b64encode(os.urandom(32)).decode())
    other = KeyWrapper(base64.urlsafe_b64encode(os.urandom(32)).decode())
    person = uuid4()
    wrapped = wrapper.wrap(person, KEY)

    assert wrapper.unwrap(person, wrapped) == KEY
    with pytest.raises(TamperedCiphertext):
        other.unwrap(person, wrapped)
    with pytest.raises(TamperedCiphertext):
        wrapper.unwrap(uuid4(), wrapped)


def test_a_short_master_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        KeyWrapper(base64.urlsafe_b64encode(b"short").decode())


def test_a_vault_without_the_master_key_neither_creates_nor_unwraps_keys() -> None:
    from uuid import uuid4

    import pytest

    from services.runtime.vault import PersonalDataUnavailable, PersonalDataVault

    relays = PersonalDataVault("postgresql://nowhere/hub", "foreigners_authority", None)
    person = uuid4()
    with pytest.raises(PersonalDataUnavailable, match="no vault master key"):
        relays.create_key(person)
    with pytest.raises(PersonalDataUnavailable, match="no vault master key"):
        relays.decrypt(person, "names", "hubenc:v1:AAAA")
