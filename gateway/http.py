"""The gateway's HTTP layer: one pure ASGI middleware, and a lean route for ``POST /graphql``.

Every HTTP request used to pass eleven ASGI layers before it reached strawberry (uvicorn's
proxy headers, FastAPI's own telemetry with a second server span, Starlette's error
middleware, FastAPI's exception telemetry and body limit, our security headers, tracing and
body limit, the exception middleware, the exit stack, the router and the route), and then
FastAPI's dependency injection and strawberry's request adapter; by py-spy, about a third of
the gateway's CPU per read. Now:

- :class:`HubHTTP` is the one middleware of our own, outside everything: the request's server
  span (the caller's W3C trace context continued; ``http.request.method``, ``url.path``,
  ``http.response.status_code``), the security headers on every response, also on the 500
  answer, and the body limit (413 before the app sees a byte beyond it: the body is read up
  to the limit here and handed on in one piece). FastAPI's own telemetry is switched off, so
  that each request has one server span, as before.
- :class:`LeanGraphQL` answers a ``POST /graphql`` with a JSON body directly: it parses the
  body with orjson, builds the same context (gateway.app's ``context_getter``), executes
  with ``schema.execute`` (the cached parse and validation of gateway/documents.py and the
  plain objects of gateway/execution.py, as before) and serialises with orjson. It does what
  strawberry's view does for such a request (``AsyncBaseHTTPView.run``), in the same order,
  and hands anything else to the ordinary route with the body replayed: another method or
  content type, a body that is not a JSON object (strawberry's 400 answers), a batch.
  ``tests/integration/test_lean_graphql.py`` compares both on queries, mutations, errors and
  refusals.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.http import process_result
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from services.runtime import telemetry

#: the API answers JSON only: nothing may load, frame or be framed
API_CSP = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
#: GraphiQL's page (dev only) loads its scripts and styles from the hub (gateway/workspace);
#: its editor sets inline styles
IDE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"

_POST_OPERATIONS = frozenset(OperationType.from_http("POST"))


def dumps(data: Any) -> bytes:
    """JSON as strawberry's view writes it (compact), with orjson; anything orjson refuses (an
    integer beyond 64 bits, a non-string key) is written by the standard library as before."""
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, separators=(",", ":")).encode()


def loads(data: str | bytes) -> Any:
    """JSON as strawberry's view reads it; orjson first, the standard library for what orjson
    is stricter about (``NaN``, lone surrogates, huge integers), with its errors. Bytes that
    are no text in any encoding it reads (UTF-8, or UTF-16 or -32 with their byte order) are
    a ``JSONDecodeError`` like any other body that is not JSON (the view answers 400), not the
    ``UnicodeDecodeError`` it raises for them (which would end the request with a 500)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            return json.loads(data)
        except UnicodeDecodeError as error:
            raise json.JSONDecodeError(
                f"the body is not UTF-8 text ({error.reason})", "", error.start
            ) from None


def _security_headers(prod: bool) -> tuple[list[tuple[bytes, bytes]], list[tuple[bytes, bytes]]]:
    """The headers every response gets: (for an API answer, for an HTML page)."""

    def wanted(csp: str) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
        ]
        if prod:
            headers.append((b"strict-transport-security", HSTS.encode()))
        return headers

    return wanted(API_CSP), wanted(API_CSP if prod else IDE_CSP)


class HubHTTP:
    """Tracing, security headers and the body limit for every HTTP request, in one pure ASGI
    layer (module doc). ``lean`` answers ``POST /graphql`` (the ordinary ``app`` else)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        env: str,
        max_bytes: int,
        tracer: trace.Tracer | None = None,
    ) -> None:
        self.app = app
        self.prod = env != "dev"
        self.max_bytes = max_bytes
        self.tracer = tracer or telemetry.tracer("hub.gateway")
        self._api_headers, self._html_headers = _security_headers(self.prod)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope["headers"]
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw_headers}
        method, path = scope["method"], scope["path"]
        with self.tracer.start_as_current_span(
            f"{method} {path}",
            context=telemetry.extract(headers),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:

            async def send_secured(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                    message = self._with_security_headers(message)
                await send(message)

            declared = headers.get("content-length")
            if declared is not None:
                try:
                    size = int(declared)
                except ValueError:
                    size = -1
                if size < 0 or size > self.max_bytes:
                    await self._refuse(send_secured)
                    return
            body = await self._read_body(receive)
            if body is None:
                await self._refuse(send_secured)
                return
            await self.app(scope, _replay(body, receive), send_secured)

    def _with_security_headers(self, message: Message) -> Message:
        headers = list(message.get("headers", []))
        present = {name.lower() for name, _ in headers}
        html = any(
            name.lower() == b"content-type" and value.startswith(b"text/html")
            for name, value in headers
        )
        wanted = self._html_headers if html else self._api_headers
        headers += [(name, value) for name, value in wanted if name not in present]
        return {**message, "headers": headers}

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        """The request's body messages, or ``None`` once they exceed the limit. A disconnect
        ends the reading; it is handed on like the body."""
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"the request body exceeds {self.max_bytes} bytes",
                        "extensions": {"code": "too_large"},
                    }
                ]
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A receive that hands on the messages already read, then the connection's own (a
    disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def _body_of(messages: list[Message]) -> bytes:
    return b"".join(m.get("body", b"") for m in messages if m["type"] == "http.request")


#: builds the request's context from its headers (gateway.app); raises what the route's
#: exception handlers answer (unauthenticated, rate limited, bad purpose)
ContextFor = Callable[[dict[str, str]], Awaitable[Any]]


class LeanGraphQL:
    """``POST /graphql`` with a JSON object for a body, straight to ``schema.execute``
    (module doc); every other request goes to ``app`` unchanged (the body replayed)."""

    def __init__(
        self, app: ASGIApp, *, schema: BaseSchema, context_for: ContextFor, path: str = "/graphql"
    ) -> None:
        self.app = app
        self.schema = schema
        self.context_for = context_for
        self.path = path
        #: off: every request takes the ordinary route (tests compare both)
        self.enabled = True
        #: the requests this route has answered itself
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            not self.enabled
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != self.path
        ):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            await self.app(scope, receive, send)
            return
        messages = []
        while True:  # HubHTTP has read the body already: one message, handed on at once
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        request = self._request_of(_body_of(messages))
        if request is None:  # strawberry's own answer (a 400, or a batch refused)
            await self.app(scope, _replay(messages, receive), send)
            return
        query, variables, operation_name, extensions = request
        self.answered += 1
        context = await self.context_for(headers)
        try:
            result = await self.schema.execute(
                query,
                root_value=None,
                variable_values=variables,
                context_value=context,
                operation_name=operation_name,
                allowed_operation_types=_POST_OPERATIONS,
                operation_extensions=extensions,
            )
        except CannotGetOperationTypeError as error:
            await _plain(send, 400, error.as_http_error_reason())
            return
        except InvalidOperationTypeError as error:
            await _plain(send, 400, error.as_http_error_reason("POST"))
            return
        except MissingQueryError:
            await _plain(send, 400, "No GraphQL query found in the request")
            return
        body = dumps(process_result(result))
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _request_of(body: bytes) -> tuple[Any, Any, Any, Any] | None:
        """(query, variables, operationName, extensions) of a body strawberry would execute
        as one operation, else ``None``."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None  # not JSON, or JSON only the standard library reads: the view decides
        if not isinstance(data, dict):
            return None
        query = data.get("query")
        variables = data.get("variables")
        extensions = data.get("extensions")
        if not isinstance(query, str | None) or not isinstance(variables, dict | None):
            return None
        if not isinstance(extensions, dict | None):
            return None
        return query, variables, data.get("operationName"), extensions


async def _plain(send: Send, status: int, text: str) -> None:
    """A plain-text answer, as strawberry's view gives it for an ``HTTPException``."""
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", str(len(body)).encode()),
                (b"content-type", b"text/plain; charset=utf-8"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
