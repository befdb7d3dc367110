"""The purpose of a request: from the Hub-Purpose header or the token's claim, checked against
the one list of purposes (kernel.purposes)."""

from __future__ import annotations

import pytest

from gateway.auth import AuthError, Principal, issue_token, verify_token
from gateway.context import BadPurpose, connection_purpose, request_purpose
from kernel.purposes import PURPOSES, Purpose
from services.case_management.domain import vocabulary
from services.runtime.tokens import ClaimMapping

SECRET = "unit-test-secret-" * 5
ISSUER = "integration-hub"


def caller(purpose: str | None = None) -> Principal:
    return Principal(subject="u", agency="awo-05315", role="partner_agency", purpose=purpose)


def test_the_header_names_the_purpose_else_the_token_else_none() -> None:
    assert request_purpose("referral", caller()) == "referral"
    assert request_purpose(None, caller("counselling")) == "counselling"
    assert request_purpose("counselling", caller("counselling")) == "counselling"
    assert request_purpose(None, caller()) is None


@pytest.mark.parametrize(
    ("named", "claimed", "reason"),
    [
        ("marketing", None, "names no known purpose"),
        ("", None, "names no known purpose"),
        (None, "marketing", "purpose claim names no known purpose"),
        ("referral", "counselling", "contradicts"),
    ],
)
def test_an_unknown_or_contradicting_purpose_is_refused_without_quoting_it(
    named: str | None, claimed: str | None, reason: str
) -> None:
    with pytest.raises(BadPurpose) as refused:
        request_purpose(named, caller(claimed))

    assert reason in refused.value.message
    assert "marketing" not in refused.value.message


def test_a_websocket_names_its_purpose_in_connection_init() -> None:
    assert connection_purpose({"Authorization": "Bearer x", "Hub-Purpose": "referral"}) == (
        "referral"
    )
    assert connection_purpose({"hub-purpose": "referral"}) == "referral"
    assert connection_purpose({"Hub-Purpose": 7}) == ""  # refused as unknown
    assert connection_purpose({}) is None
    assert connection_purpose(None) is None


def test_a_token_may_be_bound_to_a_known_purpose() -> None:
    token = issue_token(
        SECRET,
        subject="u",
        agency="awo-05315",
        role="partner_agency",
        issuer=ISSUER,
        purpose="referral",
    )

    assert verify_token(SECRET, token, issuer=ISSUER).purpose == "referral"
    with pytest.raises(ValueError, match="unknown purpose"):
        issue_token(SECRET, subject="u", agency="a", role="admin", issuer=ISSUER, purpose="x")


def test_an_identity_providers_token_names_at_most_one_purpose() -> None:
    claims = {"sub": "u", "groups": ["/agencies/awo-05315"], "realm_access": {"roles": ["admin"]}}
    mapping = ClaimMapping()

    assert mapping.principal(claims).purpose is None
    assert mapping.principal({**claims, "purpose": "referral"}).purpose == "referral"
    with pytest.raises(AuthError, match="several purposes"):
        mapping.principal({**claims, "purpose": ["referral", "counselling"]})


def test_case_management_names_the_kernels_purposes() -> None:
    assert vocabulary.Purpose is Purpose
    assert {"referral", "benefit_processing"} <= PURPOSES
