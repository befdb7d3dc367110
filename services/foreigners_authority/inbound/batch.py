"""The batch form of the inbound interface, for bulk imports (a migration of existing files).

POST /inbound/batches   NDJSON (``application/x-ndjson``): one message a line, in the forms
                        and with the checks of ``POST /inbound/messages``. Answers 200 with
                        NDJSON: one receipt a non-empty line, in order, of the single
                        endpoint's shape plus ``line`` (the line's number in the body):
                        accepted, duplicate (also of a message earlier in the same batch) or
                        rejected with the reasons per field. A bad line never stops the others.

The whole request is refused, with a reason in English (``message``) and German
(``messageDe``), when the token does not allow sending (401, 403, as for one message), the
content type is not NDJSON (415), the body is longer than the byte limit or has more
messages than the message limit (413), or it is empty, not UTF-8, a JSON array or has no
line of JSON at all (400).

The accepted messages are applied in transactions of ``BatchLimits.per_transaction``
messages (``ForeignersAuthority.receive_batch``): a crash between two leaves the first ones
stored, and the retried batch gets ``duplicate`` for them and stores the rest.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from services.foreigners_authority.application import ForeignersAuthority, Receipt
from services.foreigners_authority.inbound.endpoint import (
    PERSONAL_FIELDS,
    Execute,
    Refusal,
    authorised,
    checked_form,
    conflict_error,
    receipt_body,
    refusal,
    sender_context,
)
from services.foreigners_authority.inbound.limits import MAX_BYTES
from services.runtime.commands import CommandRejected
from services.runtime.logs import redacting
from services.runtime.tokens import Principal

log = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
#: media types taken as NDJSON (JSON Lines has no registered type; these are in use)
NDJSON_TYPES = frozenset({NDJSON, "application/jsonl", "application/jsonlines"})


@dataclass(frozen=True)
class BatchLimits:
    """How much one batch may hold (``HUB_INBOUND_BATCH_MAX``, ``HUB_INBOUND_BATCH_MAX_BYTES``),
    how many of its messages are saved in one transaction, and how many batches the service
    reads and imports at once (``HUB_INBOUND_BATCHES_AT_ONCE``): the others wait, their bodies
    unread, so that the memory a batch takes (about four times its size) is not multiplied
    by the senders' concurrency."""

    messages: int = 5000
    bytes: int = 32 * 1024 * 1024
    per_transaction: int = 1000
    at_once: int = 2


def _refused(status: int, code: str, message: str, message_de: str) -> JSONResponse:
    """The whole batch refused, with the reason in English and German."""
    return JSONResponse(
        {
            "status": "rejected",
            "errors": [
                {"field": "body", "code": code, "message": message, "messageDe": message_de}
            ],
        },
        status_code=status,
    )


async def _read(request: Request, limit: int) -> bytes | None:
    """The body, or None once it is longer than ``limit`` (a declared length is refused
    before reading)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _line_refusal(code: str, message: str, status: int) -> Refusal:
    return refusal(None, [{"field": "message", "code": code, "message": message}], status)


def add_batch_route(
    api: FastAPI,
    app: ForeignersAuthority,
    execute: Execute,
    verify: Callable[[str], Principal],
    limits: BatchLimits,
) -> None:
    turns = asyncio.Semaphore(limits.at_once)

    @api.post("/inbound/batches")
    async def receive_batch(request: Request) -> Response:
        principal = await authorised(request, verify)
        if isinstance(principal, JSONResponse):
            return principal
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in NDJSON_TYPES:
            return _refused(
                415,
                "unsupported_media_type",
                f"a batch is sent as {NDJSON}: one message (JSON) a line",
                f"Ein Stapel wird als {NDJSON} gesendet: eine Nachricht (JSON) je Zeile",
            )
        async with turns:  # its body is read only in its turn (BatchLimits.at_once)
            return await _import(request, principal)

    async def _import(request: Request, principal: Principal) -> Response:
        raw = await _read(request, limits.bytes)
        if raw is None:
            return _refused(
                413,
                "too_large",
                f"a batch is at most {limits.bytes} bytes; send smaller batches",
                f"Ein Stapel hat höchstens {limits.bytes} Bytes; bitte kleinere Stapel senden",
            )
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _refused(
                400,
                "not_utf8",
                "the batch is not UTF-8 text",
                "Der Stapel ist kein UTF-8-Text",
            )
        text = text.removeprefix("\ufeff")  # a byte order mark some editors write
        lines = [(n, line) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
        if not lines:
            return _refused(
                400, "empty", "the batch holds no message", "Der Stapel enthält keine Nachricht"
            )
        if len(lines) > limits.messages:
            return _refused(
                413,
                "too_many_messages",
                f"a batch holds at most {limits.messages} messages, this one {len(lines)}",
                f"Ein Stapel enthält höchstens {limits.messages} Nachrichten, dieser {len(lines)}",
            )
        if lines[0][1].lstrip().startswith("["):
            return _refused(
                400,
                "not_ndjson",
                "a batch is one message a line (NDJSON), not a JSON array",
                "Ein Stapel ist eine Nachricht je Zeile (NDJSON), kein JSON-Array",
            )
        parsed: list[Any] = []
        for _, line in lines:
            if len(line) > MAX_BYTES and len(line.encode()) > MAX_BYTES:
                parsed.append(
                    _line_refusal("too_large", f"a message is at most {MAX_BYTES} bytes", 413)
                )
                continue
            try:
                parsed.append(json.loads(line))
            except ValueError:
                parsed.append(_line_refusal("invalid_json", "the message is not valid JSON", 400))
        if all(isinstance(p, Refusal) for p in parsed):
            return _refused(
                400,
                "not_ndjson",
                "no line of the batch is a message in JSON",
                "Keine Zeile des Stapels ist eine Nachricht in JSON",
            )
        # the messages' personal values never reach a log line, whatever happens below
        with redacting([p for p in parsed if not isinstance(p, Refusal)], PERSONAL_FIELDS):
            answers: list[dict[str, Any] | None] = [None] * len(lines)
            forms: list[tuple[int, Any]] = []
            for index, data in enumerate(parsed):
                form = data if isinstance(data, Refusal) else checked_form(data, principal)
                if isinstance(form, Refusal):
                    answers[index] = form.receipt
                else:
                    forms.append((index, form))
            batch_id = f"batch-{uuid.uuid4()}"
            for start in range(0, len(forms), limits.per_transaction):
                chunk = forms[start : start + limits.per_transaction]
                try:
                    receipts: list[Receipt] = await execute(
                        lambda chunk=chunk: app.receive_batch([form for _, form in chunk]),  # type: ignore[misc]
                        sender_context(principal, batch_id),
                    )
                except CommandRejected as error:  # kept losing races: nothing of it stored
                    for index, form in chunk:
                        answers[index] = refusal(
                            form.message_id, [conflict_error(error)], 409
                        ).receipt
                    continue
                for (index, _), receipt in zip(chunk, receipts, strict=True):
                    answers[index] = receipt_body(receipt)
            counts: dict[str, int] = {}
            body = []
            for (number, _), answer in zip(lines, answers, strict=True):
                assert answer is not None
                counts[str(answer["status"])] = counts.get(str(answer["status"]), 0) + 1
                body.append(json.dumps({**answer, "line": number}, default=str))
            log.info(
                "inbound batch %s from %s: %d messages, %s",
                batch_id,
                principal.agency,
                len(lines),
                ", ".join(f"{status} {n}" for status, n in sorted(counts.items())),
            )
        return Response("\n".join(body) + "\n", media_type=NDJSON)
