"""Referrals (Vermittlungen): sent, then answered only by the receiving agency."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from services.case_management.domain import InvalidValue, NotAllowed, Referral
from services.case_management.domain.referral import DECLINE_REASONS, OUTCOMES

SENDER = "kim-bielefeld"
RECEIVER = "caritas"
BYSTANDER = "jobcenter"


def send(**changes: object) -> Referral:
    values: dict[str, object] = {
        "case_id": uuid4(),
        "person_id": uuid4(),
        "from_agency": SENDER,
        "to_agency": RECEIVER,
        "service": "  Migrationsberatung für Erwachsene  ",
        "consent_id": uuid4(),
        "shared_categories": ["language", "case_basic", "language"],
        "purpose": "referral",
        "note_enc": "hubenc:v1:note",
    }
    values.update(changes)
    return Referral.send(**values)  # type: ignore[arg-type]


def sent() -> Referral:
    """A sent referral whose Sent event has been collected already."""
    referral = send()
    referral.collect_events()
    return referral


# -- send -------------------------------------------------------------------------------------


def test_sending_records_recipient_service_consent_and_shared_categories() -> None:
    case_id, person_id, consent_id = uuid4(), uuid4(), uuid4()

    referral = send(case_id=case_id, person_id=person_id, consent_id=consent_id)

    (event,) = referral.collect_events()
    assert isinstance(event, Referral.Sent)
    assert event.case_id == case_id
    assert event.person_id == person_id
    assert event.from_agency == SENDER
    assert event.to_agency == RECEIVER
    assert event.service == "Migrationsberatung für Erwachsene"
    assert event.consent_id == consent_id
    assert event.shared_categories == ["case_basic", "language"]
    assert event.purpose == "referral"
    assert event.note_enc == "hubenc:v1:note"
    assert referral.status == "sent"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"service": "   "}, "service"),
        ({"service": "x" * 201}, "service"),
        ({"to_agency": SENDER}, "toAgency"),
        ({"shared_categories": []}, "sharedCategories"),
    ],
)
def test_sending_is_refused_naming_the_field_at_fault(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidValue) as refused:
        send(**changes)

    assert refused.value.field == field


def test_a_service_name_of_two_hundred_characters_is_accepted() -> None:
    referral = send(service="x" * 200)

    assert len(referral.service) == 200


# -- answers ----------------------------------------------------------------------------------


def test_the_receiving_agency_accepts() -> None:
    referral = sent()

    referral.accept(agency=RECEIVER)

    (event,) = referral.collect_events()
    assert isinstance(event, Referral.Accepted)
    assert event.by == RECEIVER
    assert referral.status == "accepted"


def test_the_receiving_agency_declines_with_a_reason_code() -> None:
    referral = sent()

    referral.decline(agency=RECEIVER, reason="no_capacity")

    (event,) = referral.collect_events()
    assert isinstance(event, Referral.Declined)
    assert event.by == RECEIVER
    assert event.reason == "no_capacity"
    assert referral.status == "declined"


def test_the_receiving_agency_completes_an_accepted_referral() -> None:
    referral = sent()
    referral.accept(agency=RECEIVER)
    referral.collect_events()

    referral.complete(agency=RECEIVER, outcome="service_provided")

    (event,) = referral.collect_events()
    assert isinstance(event, Referral.Completed)
    assert event.by == RECEIVER
    assert event.outcome == "service_provided"
    assert referral.status == "completed"


ANSWERS: dict[str, Callable[[Referral, str], None]] = {
    "accept": lambda referral, agency: referral.accept(agency=agency),
    "decline": lambda referral, agency: referral.decline(agency=agency, reason="other"),
    "complete": lambda referral, agency: referral.complete(agency=agency, outcome="other"),
}


@pytest.mark.parametrize("agency", [SENDER, BYSTANDER, "CARITAS", ""])
@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_only_the_receiving_agency_answers_a_referral(agency: str, answer: str) -> None:
    referral = sent()
    if answer == "complete":
        referral.accept(agency=RECEIVER)
        referral.collect_events()

    with pytest.raises(NotAllowed) as refused:
        ANSWERS[answer](referral, agency)

    assert refused.value.field == "referralId"
    assert referral.collect_events() == []


@pytest.mark.parametrize("reason", ["", "busy", "NO_CAPACITY"])
def test_declining_needs_a_known_reason_code(reason: str) -> None:
    referral = sent()

    with pytest.raises(InvalidValue) as refused:
        referral.decline(agency=RECEIVER, reason=reason)

    assert refused.value.field == "reason"
    assert referral.status == "sent"


def test_completing_needs_a_known_outcome() -> None:
    referral = sent()
    referral.accept(agency=RECEIVER)

    with pytest.raises(InvalidValue) as refused:
        referral.complete(agency=RECEIVER, outcome="great")

    assert refused.value.field == "outcome"
    assert referral.status == "accepted"


def test_a_referral_cannot_be_completed_before_it_was_accepted() -> None:
    referral = sent()

    with pytest.raises(NotAllowed) as refused:
        referral.complete(agency=RECEIVER, outcome="service_provided")

    assert refused.value.field == "referralId"
    assert "sent" in refused.value.message


@pytest.mark.parametrize("answer", sorted(ANSWERS))
def test_nothing_follows_a_decline(answer: str) -> None:
    referral = sent()
    referral.decline(agency=RECEIVER, reason="not_eligible")
    referral.collect_events()

    with pytest.raises(NotAllowed) as refused:
        ANSWERS[answer](referral, RECEIVER)

    assert "declined" in refused.value.message
    assert referral.status == "declined"
    assert referral.collect_events() == []


def test_an_accepted_referral_can_be_neither_accepted_again_nor_declined() -> None:
    referral = sent()
    referral.accept(agency=RECEIVER)

    with pytest.raises(NotAllowed):
        referral.accept(agency=RECEIVER)
    with pytest.raises(NotAllowed):
        referral.decline(agency=RECEIVER, reason="no_capacity")

    assert referral.status == "accepted"


# -- the state machine under any sequence of commands -----------------------------------------

agencies = st.sampled_from([RECEIVER, SENDER, BYSTANDER])


class ReferralLifecycle(RuleBasedStateMachine):
    """Any sequence of answers by any agency keeps the referral on sent -> accepted ->
    completed or sent -> declined, with one event per accepted command and none otherwise."""

    def __init__(self) -> None:
        super().__init__()
        self.referral = sent()
        self.status = "sent"
        self.history: list[str] = ["sent"]

    def _expect(self, allowed_from: str, agency: str, code_ok: bool, then: str) -> type | None:
        if agency != RECEIVER or self.status != allowed_from:
            return NotAllowed
        if not code_ok:
            return InvalidValue
        self.status = then
        self.history.append(then)
        return None

    def _run(self, command: object, expected_error: type | None) -> None:
        assert callable(command)
        if expected_error is None:
            command()
            assert len(self.referral.collect_events()) == 1
        else:
            with pytest.raises(expected_error):
                command()
            assert self.referral.collect_events() == []

    @rule(agency=agencies)
    def accept(self, agency: str) -> None:
        expected = self._expect("sent", agency, True, "accepted")
        self._run(lambda: self.referral.accept(agency=agency), expected)

    @rule(agency=agencies, reason=st.sampled_from([*DECLINE_REASONS, "busy"]))
    def decline(self, agency: str, reason: str) -> None:
        expected = self._expect("sent", agency, reason in DECLINE_REASONS, "declined")
        self._run(lambda: self.referral.decline(agency=agency, reason=reason), expected)

    @rule(agency=agencies, outcome=st.sampled_from([*OUTCOMES, "great"]))
    def complete(self, agency: str, outcome: str) -> None:
        expected = self._expect("accepted", agency, outcome in OUTCOMES, "completed")
        self._run(lambda: self.referral.complete(agency=agency, outcome=outcome), expected)

    @invariant()
    def status_follows_the_model(self) -> None:
        assert self.referral.status == self.status
        assert self.history in (
            ["sent"],
            ["sent", "accepted"],
            ["sent", "accepted", "completed"],
            ["sent", "declined"],
        )


ReferralLifecycle.TestCase.settings = settings(
    max_examples=40, stateful_step_count=8, deadline=None
)
TestAnySequenceOfAnswersFollowsTheReferralLifecycle = ReferralLifecycle.TestCase
