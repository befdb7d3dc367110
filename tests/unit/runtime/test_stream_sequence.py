"""The stream sequence read from a JetStream message's reply subject equals what nats-py's
metadata parser gives, in both forms of the subject."""

from __future__ import annotations

from nats.aio.msg import Msg

from services.runtime.projection_base import stream_sequence


def message(reply: str) -> Msg:
    return Msg(_client=None, subject="hub.x", reply=reply, data=b"{}")  # type: ignore[arg-type]


def test_the_stream_sequence_of_both_reply_forms_equals_the_metadata() -> None:
    for reply in (
        "$JS.ACK.HUB_FOREIGNERS_AUTHORITY.timeline_rebuild_foreigners_authority.1.4711.12.1764512345678901234.3",
        "$JS.ACK.hub.ACCOUNTHASH.HUB_CASE_MANAGEMENT.case_views_case_management.2.815.9.1764512345678901234.0.token",
    ):
        msg = message(reply)
        assert stream_sequence(msg) == msg.metadata.sequence.stream
    assert stream_sequence(message("$JS.ACK.S.C.1.4711.12.1764512345678901234.3")) == 4711
