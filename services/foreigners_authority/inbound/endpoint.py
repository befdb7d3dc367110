"""The authenticated HTTP endpoint for inbound messages, with a receipt for each.

POST /inbound/messages   one message (JSON); answers a receipt:
                         200 accepted or duplicate, 422 rejected with reasons per field,
                         401 without a valid bearer token, 403 for another authority, a role
                         other than abh_officer, or a file the sender does not hold (the same
                         answer as for a person id that names no file), 413 over 256 KiB.
POST /inbound/batches    many messages (NDJSON, one a line); answers a receipt a line, in order
                         (see batch.py)
GET  /inbound/schemas    the JSON Schema of every message form
GET  /inbound/healthz
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from contracts.commands import personal_fields
from contracts.commands.foreigners_authority import RegisterArrival
from contracts.positions import Position
from contracts.roles import Role
from services.foreigners_authority.application import SERVICE, ForeignersAuthority, Receipt
from services.foreigners_authority.inbound.limits import MAX_BYTES
from services.foreigners_authority.inbound.messages import InboundMessageForm
from services.runtime.commands import DATABASE_DOWN, CommandRejected
from services.runtime.context import CommandContext
from services.runtime.database import RETRY_AFTER_SECONDS
from services.runtime.logs import redacting
from services.runtime.tokens import AuthError, Principal, verify_off_loop, verify_token

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from services.foreigners_authority.inbound import batch

#: only an authority's officers send: admin is the hub's operator, not an authority, and holds
#: no file, so it may neither send for an authority nor open files of its own
SENDER_ROLES = frozenset({str(Role.ABH_OFFICER)})
#: the fields of inbound messages that hold personal values (a new person's are the arrival's,
#: as the command catalogue marks them): redacted from every log line
PERSONAL_FIELDS = personal_fields(RegisterArrival)
FORMS: TypeAdapter[Any] = TypeAdapter(InboundMessageForm)

#: runs a call on the application in a command context (the service's writer thread)
Execute = Callable[[Callable[[], Any], CommandContext], Awaitable[Any]]


def receipt_body(receipt: Receipt) -> dict[str, Any]:
    return {
        "messageId": receipt.message_id,
        "status": receipt.status,
        "personId": str(receipt.person_id) if receipt.person_id else None,
        "position": receipt.position,
        # the token a query's atLeast takes, as a mutation's result gives it: read your write
        "atLeast": Position(SERVICE, receipt.position).token()
        if receipt.position is not None
        else None,
        "errors": receipt.errors,
    }


def receipt_status(receipt: Receipt) -> int:
    if receipt.status != "rejected":
        return 200
    if any(e.get("code") == "unknown_person" for e in receipt.errors):
        return 403  # not the sender's file, or no file: one answer for both
    return 422


async def _body(request: Request) -> bytes | None:
    """The body, or None if it is longer than MAX_BYTES: a declared Content-Length over the
    limit is refused before reading, and reading stops as soon as the limit is passed."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def refusal(message_id: str | None, errors: list[dict[str, str]], status: int) -> Refusal:
    return Refusal(
        {
            "messageId": message_id,
            "status": "rejected",
            "personId": None,
            "position": None,
            "atLeast": None,
            "errors": errors,
        },
        status,
    )


#: the refusal while the database is away
UNAVAILABLE = {
    "field": "message",
    "code": "unavailable",
    "message": "the foreigners authority's database is unavailable; send the message again"
    " shortly (a message applied already is answered as a duplicate)",
    "messageDe": "Die Datenbank der Ausländerbehörde ist gerade nicht erreichbar; bitte die"
    " Nachricht gleich erneut senden (eine schon übernommene wird als Duplikat beantwortet).",
}


def _rejected(message_id: str | None, errors: list[dict[str, str]], status: int) -> JSONResponse:
    return refusal(message_id, errors, status).response()


def _union_tags() -> frozenset[str]:
    """Message types and body kinds: pydantic puts them into error locations."""
    import typing

    from services.foreigners_authority.inbound import messages

    tags = set(messages.MESSAGE_TYPES)
    for model in vars(messages).values():
        fields = getattr(model, "model_fields", {}) if isinstance(model, type) else {}
        if "kind" in fields:
            tags.update(typing.get_args(fields["kind"].annotation))
    return frozenset(tags)


TAGS = _union_tags()


def _field_errors(error: ValidationError) -> list[dict[str, str]]:
    errors = []
    for item in error.errors()[:20]:
        location = [str(p) for p in item["loc"] if str(p) not in TAGS]
        if item["type"] in ("union_tag_invalid", "union_tag_not_found"):
            # the context names the tag as "'message_type' | 'messageType'": take the alias
            names = str(item.get("ctx", {}).get("discriminator", "")).split("|")
            location.append(names[-1].strip(" '"))
        errors.append(
            {
                "field": ".".join(location) or "message",
                "message": item["msg"],
                "code": "invalid_input",
            }
        )
    return errors


async def authorised(
    request: Request, verify: Callable[[str], Principal]
) -> Principal | JSONResponse:
    """The sender's principal, or the answer refusing the request (401, 403)."""
    try:
        principal = await verify_off_loop(verify, request.headers.get("authorization"))
    except AuthError as error:
        return JSONResponse(
            {
                "status": "rejected",
                "errors": [
                    {"field": "authorization", "message": str(error), "code": "unauthenticated"}
                ],
            },
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    if principal.role not in SENDER_ROLES:
        return _rejected(
            None,
            [
                {
                    "field": "authorization",
                    "code": "forbidden",
                    "message": f"role {principal.role!r} may not send",
                }
            ],
            403,
        )
    return principal


@dataclass(frozen=True)
class Refusal:
    """A message refused before it reaches the application: the receipt and its status."""

    receipt: dict[str, Any]
    status: int

    def response(self) -> JSONResponse:
        return JSONResponse(self.receipt, status_code=self.status)


def checked_form(data: Any, principal: Principal) -> Any:
    """The message's form, or its :class:`Refusal` (422 invalid, 403 another sender)."""
    message_id = data.get("messageId") if isinstance(data, dict) else None
    message_id = message_id if isinstance(message_id, str) else None
    try:
        form = FORMS.validate_python(data)
    except ValidationError as error:
        return refusal(message_id, _field_errors(error), 422)
    if form.sender != principal.agency:  # the sender is the token's agency, always
        return refusal(
            form.message_id,
            [
                {
                    "field": "sender",
                    "code": "forbidden",
                    "message": f"your token is for {principal.agency}, not {form.sender}",
                }
            ],
            403,
        )
    return form


def conflict_error(error: CommandRejected) -> dict[str, str]:
    """The reason for a message that kept losing races with concurrent writers (409): nothing
    of it was stored, and sending it again is safe."""
    return {"field": "message", "code": error.code, "message": error.message}


def sender_context(principal: Principal, message_id: str) -> CommandContext:
    return CommandContext(
        agency=principal.agency,
        role=principal.role,
        legal_basis="§ 86 AufenthG",
        purpose="residence_administration",
        subject=principal.subject,
        correlation_id=message_id,
    )


def create_inbound_app(
    app: ForeignersAuthority,
    execute: Execute,
    *,
    jwt_secret: str = "",
    issuer: str = "",
    verify: Callable[[str], Principal] | None = None,
    limits: batch.BatchLimits | None = None,
) -> FastAPI:
    """The inbound interface. Tokens are checked by ``verify`` (the process's verifier: the
    hub's HS256 tokens or the identity provider's, see ``token_verifier``); without one, by
    the HS256 ``jwt_secret``."""
    if verify is None:

        def verify(token: str) -> Principal:
            return verify_token(jwt_secret, token, issuer=issuer)

    api = FastAPI(title="Foreigners authority inbound interface", docs_url=None, redoc_url=None)

    async def database_away(_: Request, error: Exception) -> JSONResponse:
        """The event store or the vault could not be reached (a restart): nothing of the
        message is stored, or, in a batch, the messages before it are, and sending it all
        again is safe (a message applied already is answered as a duplicate)."""
        log.warning("inbound: the database is unavailable (%s)", type(error).__name__)
        response = _rejected(None, [UNAVAILABLE], 503)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    for down in DATABASE_DOWN:
        api.add_exception_handler(down, database_away)

    @api.get("/inbound/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @api.get("/inbound/schemas")
    async def schemas() -> dict[str, Any]:
        return FORMS.json_schema(by_alias=True)

    @api.post("/inbound/messages")
    async def receive(request: Request) -> JSONResponse:
        principal = await authorised(request, verify)
        if isinstance(principal, JSONResponse):
            return principal
        raw = await _body(request)
        if raw is None:
            return _rejected(
                None,
                [
                    {
                        "field": "message",
                        "code": "too_large",
                        "message": f"a message is at most {MAX_BYTES} bytes",
                    }
                ],
                413,
            )
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _rejected(
                None,
                [
                    {
                        "field": "message",
                        "code": "invalid_json",
                        "message": "the message is not valid JSON",
                    }
                ],
                400,
            )
        # the message's personal values never reach a log line, whatever happens below
        with redacting(data, PERSONAL_FIELDS):
            form = checked_form(data, principal)
            if isinstance(form, Refusal):
                return form.response()
            context = sender_context(principal, form.message_id)
            try:
                receipt = await execute(lambda: app.receive(form), context)
            except CommandRejected as error:  # lost a race again and again: nothing stored
                return _rejected(form.message_id, [conflict_error(error)], 409)
            return JSONResponse(receipt_body(receipt), status_code=receipt_status(receipt))

    from services.foreigners_authority.inbound.batch import BatchLimits, add_batch_route

    add_batch_route(api, app, execute, verify, limits or BatchLimits())
    return api
