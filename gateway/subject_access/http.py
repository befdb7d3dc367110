"""The Art. 15 report over plain HTTP, as a printable PDF or as JSON:
``GET /reports/subject-access/<personId>.pdf`` and ``.json``, with the data-protection
officer's bearer token (401 without a valid token, 403 for any other role, 404 for an id that
names no person the hub knows)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from contracts.roles import DATA_PROTECTION
from gateway.auth import AuthError, Principal
from gateway.subject_access import pdf
from gateway.subject_access.report import produce
from services.runtime.commands import CommandClient

PREFIX = "/reports/subject-access"
NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, code: str, message: str, **headers: str) -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]},
        status_code=status,
        headers={**NO_STORE, **headers},
    )


def subject_access_routes(
    authenticate: Callable[[str | None], Awaitable[Principal]],
    wait_for_rate: Callable[[str], Awaitable[float]],
    resources: Callable[[], tuple[asyncpg.Pool, CommandClient]],
) -> APIRouter:
    """The two routes; ``wait_for_rate`` is the gateway's rate limit per token subject."""
    router = APIRouter()

    async def report(request: Request, person_id: str) -> dict[str, Any] | JSONResponse:
        try:
            principal = await authenticate(request.headers.get("authorization"))
        except AuthError as error:
            return _error(
                401,
                "unauthenticated",
                str(error),
                **{"WWW-Authenticate": 'Bearer realm="integration-hub"'},
            )
        wait = await wait_for_rate(principal.subject)
        if wait > 0:
            return _error(
                429,
                "rate_limited",
                "too many requests for this token; retry after the given seconds",
                **{"Retry-After": str(max(1, math.ceil(wait)))},
            )
        if principal.role not in DATA_PROTECTION:
            return _error(
                403, "forbidden", f"role '{principal.role}' may not request a subject access report"
            )
        not_found = _error(404, "not_found", "no person with this id is known to the hub")
        try:
            person = UUID(person_id)
        except ValueError:
            return not_found
        pool, commands = resources()
        document = await produce(pool, commands, principal, person)
        return not_found if document is None else document

    @router.get(PREFIX + "/{person_id}.json")
    async def as_json(request: Request, person_id: str) -> Response:
        answer = await report(request, person_id)
        if isinstance(answer, JSONResponse):
            return answer
        return JSONResponse(answer, headers=NO_STORE)

    @router.get(PREFIX + "/{person_id}.pdf")
    async def as_pdf(request: Request, person_id: str) -> Response:
        answer = await report(request, person_id)
        if isinstance(answer, JSONResponse):
            return answer
        content = await asyncio.to_thread(pdf.render, answer)
        return Response(
            content,
            media_type="application/pdf",
            headers={
                **NO_STORE,
                "Content-Disposition": f'attachment; filename="auskunft-art15-{person_id}.pdf"',
            },
        )

    return router
