"""Sealed command fields (services/runtime/sealing.py): only the owning service opens them,
only for the command they were sealed for, and personal fields in clear are refused."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from contracts.commands import CATALOGUE, Command
from services.runtime.sealing import SEALED, Opener, Sealer, SealError, public_of


def key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def command(service: str, name: str) -> Command:
    found = CATALOGUE.get(service, name)
    assert found is not None
    return found


REGISTER = command("foreigners_authority", "register_arrival")
OPEN_CASE = command("case_management", "open_case")
ARRIVAL = {
    "givenNames": "Lina",
    "familyName": "Saleh",
    "birthDate": "1990-03-04",
    "azrNumber": "123456789099",
    "nationalities": ["SYR"],
    "abhId": "abh-05315",
}


def test_the_personal_fields_travel_sealed_and_the_service_opens_them() -> None:
    own = key()
    sealed = Sealer({"foreigners_authority": public_of(own)}).seal_body(REGISTER, ARRIVAL)

    wire = json.dumps(sealed)
    for value in ("Lina", "Saleh", "1990-03-04", "123456789099"):
        assert value not in wire
    assert sealed["nationalities"] == ["SYR"]  # not personal: stays readable for routing
    opened = json.loads(Opener(own).open_body(REGISTER, wire.encode()))
    assert opened == ARRIVAL


def test_another_services_key_cannot_open_it() -> None:
    sealed = Sealer({"foreigners_authority": public_of(key())}).seal_body(REGISTER, ARRIVAL)

    with pytest.raises(SealError):
        Opener(key()).open_body(REGISTER, json.dumps(sealed).encode())


def test_a_sealed_value_cannot_be_moved_into_another_command() -> None:
    own = key()
    sealer = Sealer({"case_management": public_of(own), "foreigners_authority": public_of(own)})
    sealed = sealer.seal_body(REGISTER, ARRIVAL)

    with pytest.raises(SealError):  # the command's subject is the associated data
        Opener(own).open_body(OPEN_CASE, json.dumps({SEALED: sealed[SEALED]}).encode())


def test_a_tampered_value_is_refused() -> None:
    own = key()
    sealed = Sealer({"foreigners_authority": public_of(own)}).seal_body(REGISTER, ARRIVAL)
    token = sealed[SEALED]
    sealed[SEALED] = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")

    with pytest.raises(SealError):
        Opener(own).open_body(REGISTER, json.dumps(sealed).encode())


@pytest.mark.parametrize(
    "body",
    [
        ARRIVAL,  # personal fields in clear
        {**ARRIVAL, SEALED: 42},
        {SEALED: "not-a-sealed-value"},
    ],
    ids=["in clear", "not a string", "not sealed"],
)
def test_anything_but_a_sealed_value_for_the_personal_fields_is_refused(
    body: dict[str, object],
) -> None:
    with pytest.raises(SealError) as refused:
        Opener(key()).open_body(REGISTER, json.dumps(body).encode())

    assert refused.value.code == "unsealed"
    for value in ("Lina", "Saleh", "123456789099"):
        assert value not in refused.value.message


def test_a_command_without_personal_fields_passes_unchanged() -> None:
    grant = command("foreigners_authority", "grant_residence_title")
    body = json.dumps({"personId": "x", "title": "residence_permit"}).encode()

    assert Sealer({}).seal_body(grant, json.loads(body)) == json.loads(body)
    assert Opener(key()).open_body(grant, body) == body


# -- replies sealed for the gateway (the Art. 15 read) --------------------------------------

SUBJECT = "case_management.subject_access"
ANSWER = {"status": "found", "data": {"client": {"family_name": "Saleh", "birth_date": "1990"}}}


def test_a_reply_sealed_for_the_gateway_opens_only_with_its_key_for_its_request() -> None:
    gateway = key()
    service = Opener(key(), gateway_key=public_of(gateway))

    token = service.seal_reply(SUBJECT, "nonce-of-this-request", ANSWER)

    assert "Saleh" not in token
    assert Sealer({}, own_key=gateway).open_reply(SUBJECT, "nonce-of-this-request", token) == (
        ANSWER
    )
    with pytest.raises(SealError):  # another request's nonce: a replayed answer
        Sealer({}, own_key=gateway).open_reply(SUBJECT, "nonce-of-another-one", token)
    with pytest.raises(SealError):  # another service's command
        Sealer({}, own_key=gateway).open_reply(
            "foreigners_authority.subject_access", "nonce-of-this-request", token
        )
    with pytest.raises(SealError):  # another key than the gateway's
        Sealer({}, own_key=key()).open_reply(SUBJECT, "nonce-of-this-request", token)


def test_without_the_keys_no_reply_is_sealed_or_opened() -> None:
    with pytest.raises(SealError):
        Opener(key()).seal_reply(SUBJECT, "n" * 16, ANSWER)
    assert not Opener(key()).seals_replies
    with pytest.raises(SealError):
        Sealer({}).open_reply(SUBJECT, "n" * 16, "token")
