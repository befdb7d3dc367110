"""Domain errors: one base class with code, message, field and missing; services extend it."""

from __future__ import annotations

import pytest

from kernel.errors import DomainError, InvalidValue, NotAllowed, NotFound
from services.case_management.domain import SharingRefused
from services.case_management.domain import errors as case_errors
from services.conflict_management import domain as conflict_domain
from services.foreigners_authority.domain import Contradiction, UnknownPerson
from services.foreigners_authority.domain import errors as residence_errors
from services.steering_group import domain as steering_domain


def test_a_domain_error_carries_message_code_field_and_missing() -> None:
    error = DomainError("no consent covers this", "consent_missing", "consentId", ("purpose",))

    assert str(error) == "no consent covers this"
    assert error.message == "no consent covers this"
    assert error.code == "consent_missing"
    assert error.field == "consentId"
    assert error.missing == ["purpose"]


def test_field_and_missing_are_optional() -> None:
    error = DomainError("the rule is broken", "rule_violated")

    assert error.field is None
    assert error.missing is None


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidValue("stage 10 is not a Glasl stage", "stage"), "invalid_value"),
        (NotAllowed("the conflict is resolved", "conflictId"), "not_allowed"),
        (NotFound("no case", "caseId"), "not_found"),
        (SharingRefused("no consent", "consentId", ["no consent named"]), "consent_missing"),
        (UnknownPerson("no residence file", "personId"), "unknown_person"),
        (Contradiction("the person departed"), "contradicts_file"),
    ],
)
def test_every_service_error_is_a_domain_error_with_its_code(error: DomainError, code: str) -> None:
    assert isinstance(error, DomainError)
    assert error.code == code


def test_the_field_is_the_second_argument_as_before() -> None:
    error = InvalidValue("describe the gap in 20 to 2000 characters", "description")

    assert error.field == "description"
    assert error.missing is None


def test_sharing_refused_lists_what_is_missing() -> None:
    error = SharingRefused("no consent", None, ["the consent was withdrawn"])

    assert error.missing == ["the consent was withdrawn"]
    assert error.field is None


@pytest.mark.parametrize(
    "module", [case_errors, residence_errors, conflict_domain, steering_domain]
)
def test_every_service_uses_the_kernels_base_classes(module: object) -> None:
    assert vars(module)["DomainError"] is DomainError
    assert vars(module)["InvalidValue"] is InvalidValue
    if "NotAllowed" in vars(module):
        assert vars(module)["NotAllowed"] is NotAllowed
