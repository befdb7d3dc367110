"""``hub dlq list | show ID | replay ID|--all``: review and replay dead letters.

A dead letter (``services/runtime/consumer.py`` ``dead_letter()``) is the original message's
bytes, published to ``hub.dlq.<consumer>`` in the stream ``HUB_DEAD_LETTERS`` with headers
naming the consumer, the reason, and the original subject, stream and sequence. Its ID here is
its sequence in ``HUB_DEAD_LETTERS``.

Replay sends the event back to the consumer that failed, and to no other: republishing it to
its original subject would hand every other consumer of the stream a duplicate. The event is
applied through the failed projection's own handler in one transaction, together with a row in
``projections.dead_letter_replays`` (consumer, original stream and sequence), so a letter is
applied once even if a replay is repeated or crashes half-way; then the letter is deleted from
the dead-letter stream. The projection's cursor passed the event when it was dead-lettered, so
the event is applied out of stream order: replay after fixing what made it fail, and rebuild
the read model instead (``hub projections rebuild``) where order matters more.

Only the projector's consumers (``<projection>_<service>``) can be replayed, and no letter
about a person who has been erased or whose processing is restricted (``gateway.erasures``).
A policy's letter (the steering group's) is listed and shown but not replayed by this command.

What is printed: the headers and the event's envelope attributes (type, id, source, times,
position, pseudonymous person id) and the names of its payload fields, never their values,
and a reason with any echoed input value cut out. Personal values travel only as ciphertext,
but even that stays off the terminal.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

import asyncpg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError, ServerError

from contracts import DEAD_LETTER_STREAM, REGISTRY, ContractError, stream_name
from projections.runner import PROJECTIONS, Projection, durable_name
from projections.timeline import projector as timeline

REPLAYS = "projections.dead_letter_replays"
#: what the server answers for a sequence that holds no message (any more)
NO_MESSAGE = (NotFoundError, ServerError)
_ECHOED = re.compile(r"input_value=.*?(?=, input_type=|\]|$)")
_DETAIL = re.compile(r"\s*DETAIL:.*", re.DOTALL)  # PostgreSQL's, e.g. "Failing row contains"
_ENVELOPE = ("type", "id", "source", "time", "recordedtime", "sourceposition", "personid")


@dataclass(frozen=True)
class Letter:
    """One dead letter: its ID (sequence in HUB_DEAD_LETTERS) and what its headers say."""

    id: int
    consumer: str
    reason: str
    subject: str
    stream: str
    sequence: int
    time: str
    data: bytes

    def envelope(self) -> dict[str, Any]:
        """The event's envelope attributes and payload field names (no values)."""
        try:
            raw = json.loads(self.data)
        except ValueError:
            return {"undecodable": f"{len(self.data)} bytes"}
        if not isinstance(raw, dict):
            return {"undecodable": type(raw).__name__}
        found: dict[str, Any] = {key: raw[key] for key in _ENVELOPE if key in raw}
        data = raw.get("data")
        if isinstance(data, dict):
            found["data fields"] = sorted(data)
        return found

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "consumer": self.consumer,
            "reason": safe_reason(self.reason),
            "original": f"{self.stream}#{self.sequence}",
            "subject": self.subject,
            "dead-lettered": self.time,
        }


def safe_reason(reason: str) -> str:
    """The reason without input values a validation error may echo."""
    return _DETAIL.sub("", _ECHOED.sub("input_value=<hidden>", reason))


def _letter(msg: Any) -> Letter:
    headers = msg.headers or {}
    return Letter(
        id=int(msg.seq),
        consumer=headers.get("Hub-Consumer", msg.subject.removeprefix("hub.dlq.")),
        reason=headers.get("Hub-Dead-Letter-Reason", ""),
        subject=headers.get("Hub-Original-Subject", ""),
        stream=headers.get("Hub-Original-Stream", ""),
        sequence=int(headers.get("Hub-Original-Sequence", "0") or 0),
        time=str(getattr(msg, "time", None) or ""),
        data=bytes(msg.data or b""),
    )


async def letters(js: JetStreamContext, consumer: str | None = None) -> list[Letter]:
    """Every dead letter still in the stream (of ``consumer`` only, if given), oldest first."""
    try:
        state = (await js.stream_info(DEAD_LETTER_STREAM)).state
    except NotFoundError:
        return []
    found: list[Letter] = []
    seq = int(state.first_seq or 1)
    while seq <= int(state.last_seq or 0):
        try:
            msg = await js.get_msg(DEAD_LETTER_STREAM, seq=seq, next=True)
        except NO_MESSAGE:
            break
        letter = _letter(msg)
        if consumer is None or letter.consumer == consumer:
            found.append(letter)
        seq = letter.id + 1
    return found


async def letter(js: JetStreamContext, letter_id: int) -> Letter:
    try:
        return _letter(await js.get_msg(DEAD_LETTER_STREAM, seq=letter_id))
    except NO_MESSAGE:
        raise LookupError(f"no dead letter {letter_id}") from None


def projection_for(consumer: str) -> tuple[Projection, str] | None:
    """The projection and source service whose live consumer is ``consumer``."""
    for projection in PROJECTIONS:
        for service in projection.sources():
            if durable_name(projection, service) == consumer:
                return projection, service
    return None


async def ensure_table(pool: asyncpg.Pool) -> None:
    await pool.execute(
        f"CREATE TABLE IF NOT EXISTS {REPLAYS} (consumer text NOT NULL, stream text NOT NULL,"
        " sequence bigint NOT NULL, letter bigint NOT NULL, event_id text NOT NULL,"
        " event_type text NOT NULL, replayed_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (consumer, stream, sequence))"
    )


@dataclass(frozen=True)
class Outcome:
    letter: int
    consumer: str
    result: str  # replayed | already replayed | refused: <why>

    @property
    def replayed(self) -> bool:
        return self.result in ("replayed", "already replayed")


async def replay(js: JetStreamContext, pool: asyncpg.Pool, found: Letter) -> Outcome:
    """Apply the letter's event through its projection's handler (once), then remove it."""
    target = projection_for(found.consumer)
    if target is None:
        return Outcome(found.id, found.consumer, "refused: not a projection's live consumer")
    projection, service = target
    if found.stream != stream_name(service):
        return Outcome(found.id, found.consumer, "refused: from another stream")
    try:
        event, payload = REGISTRY.decode(found.data)
    except ContractError as error:
        return Outcome(found.id, found.consumer, f"refused: {safe_reason(error.reason)}")
    if event.personid and await _erased(pool, event.personid):
        return Outcome(found.id, found.consumer, "refused: the person is erased or restricted")
    handler = (
        timeline.TimelineProjection() if projection.name == timeline.NAME else projection.handler()
    )
    await ensure_table(pool)
    try:
        async with pool.acquire() as conn, conn.transaction():
            await handler.begin(conn)
            first = await conn.fetchval(
                f"INSERT INTO {REPLAYS} (consumer, stream, sequence, letter, event_id, event_type)"
                " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true",
                found.consumer,
                found.stream,
                found.sequence,
                found.id,
                event.id,
                event.type,
            )
            if first:
                await handler.apply(conn, event, payload)
                await handler.flush(conn)
    except Exception as error:
        return Outcome(found.id, found.consumer, f"refused: still fails: {type(error).__name__}")
    if first:
        await handler.committed([event])
    with contextlib.suppress(*NO_MESSAGE):  # removed already (by an earlier replay)
        await js.delete_msg(DEAD_LETTER_STREAM, found.id)
    return Outcome(found.id, found.consumer, "replayed" if first else "already replayed")


async def _erased(pool: asyncpg.Pool, person_id: str) -> bool:
    """Was the person erased (or their processing restricted)? Then nothing about them may
    reappear in a read model, whatever a projection's own guard does."""
    if not await pool.fetchval("SELECT to_regclass('gateway.erasures')"):
        return False
    return bool(
        await pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM gateway.erasures WHERE person_id::text = $1)",
            person_id,
        )
    )


def render_list(found: list[Letter]) -> str:
    if not found:
        return "no dead letters"
    rows = [["id", "consumer", "original", "dead-lettered", "reason"]]
    for item in found:
        s = item.summary()
        rows.append(
            [str(s["id"]), s["consumer"], s["original"], s["dead-lettered"], s["reason"][:80]]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    )


def render_letter(found: Letter) -> str:
    lines = [f"{key}: {value}" for key, value in found.summary().items()]
    lines.append("event:")
    lines += [f"  {key}: {value}" for key, value in found.envelope().items()]
    replayable = projection_for(found.consumer) is not None
    lines.append(f"replayable: {'yes' if replayable else 'no (not a projection consumer)'}")
    return "\n".join(lines)
