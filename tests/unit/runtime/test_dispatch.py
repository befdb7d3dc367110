"""The projectors' dispatch of events to handlers by payload type, and its type check."""

from __future__ import annotations

import textwrap
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from mypy import api as mypy_api

from contracts import CloudEvent, Payload
from contracts import case_management as cm
from services.runtime.projection_base import Dispatch

ROOT = Path(__file__).resolve().parents[3]
CASE = str(uuid.uuid4())
PERSON = str(uuid.uuid4())


def event_of(payload: Payload) -> CloudEvent:
    subject = "hub.case_management.case_closed.v1"
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/hub/case_management",
        type=subject,
        subject=CASE,
        time=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        dataschema=f"urn:hub:schema:{subject}",
        data=payload.model_dump(mode="json"),
        correlationid=str(uuid.uuid4()),
        legalbasis="§ 9 TIntG NRW",
        purpose="case_processing",
        sourceagency="kim-05315",
        actingrole="case_manager",
        recordedtime=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
        sourceposition=7,
    )


CLOSED = cm.CaseClosed(
    case_id=CASE, person_id=PERSON, closed_on=date(2026, 3, 2), reason="goals_met"
)
REOPENED = cm.CaseReopened(
    case_id=CASE, person_id=PERSON, reopened_on=date(2026, 3, 9), reason="new_need"
)
WITHDRAWN = cm.ConsentWithdrawn(
    consent_id=str(uuid.uuid4()), person_id=PERSON, withdrawn_on=date(2026, 3, 3)
)
EXPIRED = cm.ConsentExpired(
    consent_id=str(uuid.uuid4()), person_id=PERSON, expired_on=date(2026, 3, 4)
)


async def test_each_event_goes_to_the_handler_registered_for_its_type() -> None:
    # given a dispatch with a handler for closed and one for reopened cases
    dispatch: Dispatch[list[str], str] = Dispatch()

    @dispatch.handles(cm.CaseClosed)
    async def closed(seen: list[str], event: CloudEvent, p: cm.CaseClosed) -> str:
        seen.append(f"closed {p.reason} at {event.sourceposition}")
        return "closed"

    @dispatch.handles(cm.CaseReopened)
    async def reopened(seen: list[str], event: CloudEvent, p: cm.CaseReopened) -> str:
        seen.append(f"reopened on {p.reopened_on}")
        return "reopened"

    # when both events arrive
    seen: list[str] = []
    results = [await dispatch(seen, event_of(p), p) for p in (CLOSED, REOPENED)]

    # then each went to its own handler, with its payload, and its result came back
    assert seen == ["closed goals_met at 7", "reopened on 2026-03-09"]
    assert results == ["closed", "reopened"]
    handled: set[type[Payload]] = {cm.CaseClosed, cm.CaseReopened}
    assert dispatch.types == handled


async def test_an_event_of_a_type_without_a_handler_is_ignored() -> None:
    # given a dispatch that handles closed cases only
    dispatch: Dispatch[list[str], str] = Dispatch()

    @dispatch.handles(cm.CaseClosed)
    async def closed(seen: list[str], event: CloudEvent, p: cm.CaseClosed) -> str:
        seen.append("closed")
        return "closed"

    # when a reopened case arrives
    seen: list[str] = []
    result = await dispatch(seen, event_of(REOPENED), REOPENED)

    # then nothing ran
    assert (seen, result) == ([], None)


async def test_one_handler_registered_for_two_types_handles_both() -> None:
    # given one handler for withdrawn and expired consents
    dispatch: Dispatch[list[str], None] = Dispatch()

    @dispatch.handles(cm.ConsentWithdrawn, cm.ConsentExpired)
    async def ended(
        seen: list[str], event: CloudEvent, p: cm.ConsentWithdrawn | cm.ConsentExpired
    ) -> None:
        seen.append(type(p).__name__)

    # when both arrive
    seen: list[str] = []
    for p in (WITHDRAWN, EXPIRED):
        await dispatch(seen, event_of(p), p)

    # then the one handler saw both
    assert seen == ["ConsentWithdrawn", "ConsentExpired"]


async def test_a_handler_for_payload_is_the_fallback_of_the_other_types() -> None:
    # given a handler for closed cases and one for any payload
    dispatch: Dispatch[list[str], None] = Dispatch()

    @dispatch.handles(cm.CaseClosed)
    async def closed(seen: list[str], event: CloudEvent, p: cm.CaseClosed) -> None:
        seen.append("closed")

    @dispatch.handles(Payload)
    async def other(seen: list[str], event: CloudEvent, p: Payload) -> None:
        seen.append(f"other: {type(p).__name__}")

    # when a closed and a reopened case arrive
    seen: list[str] = []
    for p in (CLOSED, REOPENED):
        await dispatch(seen, event_of(p), p)

    # then the more specific handler wins, and the fallback takes the rest
    assert seen == ["closed", "other: CaseReopened"]


def test_a_type_has_one_handler_only() -> None:
    # given a dispatch that handles closed cases
    dispatch: Dispatch[None, None] = Dispatch()

    @dispatch.handles(cm.CaseClosed)
    async def closed(on: None, event: CloudEvent, p: cm.CaseClosed) -> None:
        return None

    # when a second handler is registered for the same type, then that is refused
    with pytest.raises(ValueError, match="CaseClosed already has a handler"):

        @dispatch.handles(cm.CaseClosed)
        async def closed_again(on: None, event: CloudEvent, p: cm.CaseClosed) -> None:
            return None


def test_the_type_checker_rejects_a_handler_registered_for_a_type_it_does_not_accept(
    tmp_path: Path,
) -> None:
    # given a module that registers a handler of closed cases for reopened ones, and one whose
    # handlers all accept what they are registered for
    wrong = tmp_path / "wrong_handler.py"
    wrong.write_text(
        textwrap.dedent(
            """
            from contracts import CloudEvent
            from contracts import case_management as cm
            from services.runtime.projection_base import Dispatch

            dispatch: Dispatch[None, None] = Dispatch()

            @dispatch.handles(cm.CaseReopened)
            async def closed(on: None, event: CloudEvent, p: cm.CaseClosed) -> None:
                return None
            """
        )
    )
    right = tmp_path / "right_handler.py"
    right.write_text(
        textwrap.dedent(
            """
            from contracts import CloudEvent
            from contracts import case_management as cm
            from services.runtime.projection_base import Dispatch

            dispatch: Dispatch[None, None] = Dispatch()

            @dispatch.handles(cm.ConsentWithdrawn, cm.ConsentExpired)
            async def ended(
                on: None, event: CloudEvent, p: cm.ConsentWithdrawn | cm.ConsentExpired
            ) -> None:
                return None
            """
        )
    )

    # when mypy (strict, the project's settings) checks both
    config = ["--config-file", str(ROOT / "pyproject.toml")]
    wrong_out, _, wrong_status = mypy_api.run([*config, str(wrong)])
    right_out, _, right_status = mypy_api.run([*config, str(right)])

    # then it rejects the wrong registration on its line, and accepts the right ones
    assert wrong_status == 1
    assert "wrong_handler.py:8: error" in wrong_out
    assert "CaseReopened" in wrong_out
    assert "[arg-type]" in wrong_out
    assert (right_status, right_out.strip()) == (0, "Success: no issues found in 1 source file")
