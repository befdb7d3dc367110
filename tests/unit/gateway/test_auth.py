"""Bearer tokens: issued tokens verify; everything else is refused with a clear reason."""

from __future__ import annotations

import jwt
import pytest

from gateway.auth import AuthError, bearer_token, issue_token, verify_token

SECRET = "unit-test-secret-" * 5
ISSUER = "integration-hub"


def test_an_issued_token_names_agency_and_role() -> None:
    token = issue_token(SECRET, subject="u1", agency="abh-05315", role="abh_officer", issuer=ISSUER)

    principal = verify_token(SECRET, token, issuer=ISSUER)

    assert (principal.subject, principal.agency, principal.role) == (
        "u1",
        "abh-05315",
        "abh_officer",
    )


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("not-a-jwt", "not a valid signed JWT"),
        (
            issue_token(
                "another-secret-" * 5,
                subject="u",
                agency="a",
                role="admin",
                issuer=ISSUER,
            ),
            "signature",
        ),
        (
            issue_token(SECRET, subject="u", agency="a", role="admin", issuer="elsewhere"),
            "another system",
        ),
        (
            issue_token(
                SECRET, subject="u", agency="a", role="admin", issuer=ISSUER, ttl_seconds=-10
            ),
            "expired",
        ),
        (
            jwt.encode(
                {
                    "sub": "u",
                    "iss": ISSUER,
                    "iat": 1,
                    "exp": 4_000_000_000,
                    "agency": "a",
                    "role": "emperor",
                },
                SECRET,
                algorithm="HS256",
            ),
            "unknown role",
        ),
        (
            jwt.encode(
                {"sub": "u", "iss": ISSUER, "iat": 1, "exp": 4_000_000_000, "role": "admin"},
                SECRET,
                algorithm="HS256",
            ),
            "agency",
        ),
        (
            jwt.encode(
                {
                    "sub": "u",
                    "iss": ISSUER,
                    "iat": 1,
                    "exp": 4_000_000_000,
                    "agency": "a",
                    "role": "admin",
                },
                SECRET,
                algorithm="HS512",
            ),
            "not a valid signed JWT",
        ),
    ],
)
def test_a_bad_token_is_refused_with_its_reason(token: str, reason: str) -> None:
    with pytest.raises(AuthError, match=reason):
        verify_token(SECRET, token, issuer=ISSUER)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer ", "Token xyz"])
def test_a_missing_or_malformed_header_is_refused(header: str | None) -> None:
    with pytest.raises(AuthError):
        bearer_token(header)


def test_an_unknown_role_cannot_be_issued() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        issue_token(SECRET, subject="u", agency="a", role="mayor", issuer=ISSUER)
