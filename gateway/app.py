"""The gateway process: FastAPI + strawberry GraphQL over the read models."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse
from nats.aio.client import Client
from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import ConnectionInitMessage

from contracts import REGISTRY
from gateway import audit, erasure, ratelimit, readiness, retention
from gateway.auth import AuthError, Principal, bearer_token, token_verifier, verify_off_loop
from gateway.context import (
    PURPOSE_HEADER,
    BadPurpose,
    VerifiedTokens,
    connection_purpose,
    request_purpose,
)
from gateway.ratelimit import SharedTokenBuckets
from gateway.schema import GatewaySettings, HubContext, build_schema, schema
from gateway.subject_access.http import subject_access_routes
from gateway.subscriptions import Notifier
from gateway.workspace import Workspace, graphiql_page
from gateway.workspace import install as install_workspace
from gateway.workspace import sessions as workspace_sessions
from gateway.workspace.oidc import sign_in_for
from projections import schema as read_models
from services.runtime import telemetry
from services.runtime.commands import CommandClient
from services.runtime.messaging import close, connect
from services.runtime.sealing import sealer_for
from services.runtime.service import database_url
from services.runtime.settings import HubSettings


@dataclass
class GatewayResources:
    pool: asyncpg.Pool
    nc: Client
    url: str


class Unauthenticated(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


class TracingMiddleware:
    """A server span per HTTP request, continuing the caller's W3C trace context (pure ASGI)."""

    def __init__(self, app: ASGIApp, tracer: trace.Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        method, path = scope["method"], scope["path"]
        with self.tracer.start_as_current_span(
            f"{method} {path}",
            context=telemetry.extract(headers),
            kind=trace.SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path},
        ) as span:

            async def send_traced(message: Message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self.app(scope, receive, send_traced)


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


class SecurityHeadersMiddleware:
    """Security headers on every HTTP response (pure ASGI): CSP, nosniff, no referrer, no
    framing, and in prod HSTS. The relaxed CSP for GraphiQL's page exists only in dev."""

    def __init__(self, app: ASGIApp, env: str) -> None:
        self.app = app
        self.prod = env != "dev"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                html = any(
                    name.lower() == b"content-type" and value.startswith(b"text/html")
                    for name, value in headers
                )
                csp = IDE_CSP if html and not self.prod else API_CSP
                wanted = [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
                if self.prod:
                    wanted.append((b"strict-transport-security", HSTS.encode()))
                headers += [(name, value) for name, value in wanted if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Answers 413 to a request body larger than ``max_bytes`` before it is parsed: at once
    when its Content-Length says so, else as soon as the streamed chunks exceed it (pure ASGI)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await self._refuse(send)
                    return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLarge:
            if started:
                raise
            await self._refuse(send)

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


class ExpiringTransportWSHandler(BaseGraphQLTransportWSHandler[HubContext, None]):
    """Closes an acknowledged connection with 4401 when its bearer token expires."""

    expiry: asyncio.Task[None] | None = None

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        await super().handle_connection_init(message)
        principal = self.context.principal
        exp = principal.exp if principal is not None else None
        if self.connection_acknowledged and self.expiry is None and exp is not None:
            self.expiry = asyncio.create_task(self._close_at(exp))

    async def _close_at(self, exp: int) -> None:
        await asyncio.sleep(max(0.0, exp - time.time()))
        with contextlib.suppress(Exception):  # the client may have gone meanwhile
            await self.websocket.close(code=4401, reason="the bearer token has expired")

    async def shutdown(self) -> None:
        if self.expiry is not None and not self.expiry.done():
            self.expiry.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.expiry
        await super().shutdown()


class AuthenticatingRouter(GraphQLRouter[HubContext, None]):
    """Refuses a WebSocket whose ``connection_init`` carries no valid bearer token, and closes
    it (4401) when that token expires."""

    graphql_transport_ws_handler_class = ExpiringTransportWSHandler

    @property
    def graphql_ide_html(self) -> str:
        return graphiql_page()  # served from the hub, not from a CDN

    async def on_ws_connect(self, context: HubContext) -> None:
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        principal = context.principal
        if principal is None:
            header = params.get("Authorization") or params.get("authorization")
            if context.authenticate is None:
                raise ConnectionRejectionError({"message": "authentication unavailable"})
            try:  # once per connection; an identity provider's key fetch must not hold the loop
                principal = await asyncio.to_thread(context.authenticate, header)
            except AuthError as error:
                raise ConnectionRejectionError({"message": str(error)}) from None
        named = connection_purpose(params)
        if named is not None or context.principal is None:
            # the purpose: connection_init's Hub-Purpose, else the token's claim
            try:
                context.purpose = request_purpose(named, principal)
            except BadPurpose as error:
                raise ConnectionRejectionError(
                    {"message": error.message, "code": "bad_purpose"}
                ) from None
        context.principal = principal


class GatewayApp(FastAPI):
    """FastAPI with the security headers outside everything, also around its 500 answers."""

    def __init__(self, *, env: str, **kwargs: Any) -> None:
        self.env = env
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeadersMiddleware(super().build_middleware_stack(), self.env)


def _asks_for_ide_page(request: Request) -> bool:
    """A GET for GraphiQL's page: HTML, no token and no operation in the query string (a GET
    with ``query`` is an operation, whatever it accepts, and needs a token)."""
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "authorization" not in request.headers
        and "query" not in request.query_params
    )


async def keep_session(conn: asyncpg.Connection) -> None:
    """The gateway pool's reset on release: nothing beyond what asyncpg always does (roll
    back an open transaction, drop listeners). The gateway keeps no session state on pooled
    connections (no SET, LISTEN, cursor or session advisory lock outside a transaction; the
    notifier has its own connection), so the default reset query would only cost each read a
    second round trip."""
    return None


def create_app(settings: HubSettings, resources: GatewayResources | None = None) -> FastAPI:
    """Build the gateway; with ``resources`` given (tests), it uses those connections."""
    verify = token_verifier(settings)
    schema_settings = GatewaySettings(
        consistency_wait_seconds=settings.consistency_wait_seconds,
        indicator_key=settings.resolved_indicator_key(),
    )
    state: dict[str, object] = {}
    tracer = telemetry.tracer("hub.gateway")
    ide_enabled = settings.env == "dev"

    def gateway_pool() -> asyncpg.Pool | None:
        pool = state.get("pool")
        return pool if isinstance(pool, asyncpg.Pool) else None

    # the rate limit of all gateway processes together (leased in chunks from PostgreSQL)
    buckets = SharedTokenBuckets(
        settings.rate_limit_per_second,
        settings.rate_limit_burst,
        gateway_pool,
        chunk=settings.rate_limit_chunk,
    )
    verified = VerifiedTokens()  # tokens verified in the last 30 s (gateway.context)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        telemetry.setup_tracing("hub-gateway")
        owned = resources is None
        if resources is None:
            pool = await asyncpg.create_pool(
                database_url(settings), min_size=2, max_size=16, reset=keep_session
            )
            nc = await connect(settings, "gateway")
        else:
            pool, nc = resources.pool, resources.nc
        await audit.ensure_tables(pool)
        await erasure.ensure_tables(pool)
        await workspace_sessions.ensure_tables(pool)
        await ratelimit.ensure_tables(pool)
        await read_models.ensure(pool)
        notifier = Notifier(database_url(settings) if resources is None else resources.url)
        await notifier.start()
        state["pool"] = pool
        state["nc"] = nc
        state["commands"] = CommandClient(
            nc,
            timeout=settings.command_timeout_seconds,
            sealer=sealer_for(settings, REGISTRY.services()),
        )
        state["notifier"] = notifier
        stop = asyncio.Event()
        commands = state["commands"]
        assert isinstance(commands, CommandClient)
        # erasures a service has not confirmed yet are sent again until it has
        coordinator = erasure.ErasureCoordinator(pool, commands)
        background = [asyncio.create_task(coordinator.run(stop))]
        if settings.retention_every_hours > 0:  # once a day by default, erasing what is due
            rules = retention.load_rules(settings.retention_rules)
            every = settings.retention_every_hours * 3600
            background.append(
                asyncio.create_task(
                    retention.run_daily(pool, coordinator, rules, stop, every_seconds=every)
                )
            )
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*background)
            await notifier.close()
            if owned:
                await close(nc)
                await pool.close()

    def authenticate(authorization: str | None) -> Principal:
        return verify(bearer_token(authorization))

    async def authenticate_off_loop(authorization: str | None) -> Principal:
        known = verified.get(authorization)
        if known is not None:
            return known
        principal = await verify_off_loop(verify, authorization)
        verified.put(authorization, principal)
        return principal

    async def context_getter(
        request: Request = None,  # type: ignore[assignment]
        ws: WebSocket = None,  # type: ignore[assignment]
    ) -> HubContext:
        principal: Principal | None = None
        purpose: str | None = None
        if ws is not None:
            # WebSockets authenticate in connection_init (or with the handshake header)
            if "authorization" in ws.headers:
                try:
                    found = await authenticate_off_loop(ws.headers["authorization"])
                    # the purpose: the handshake's header, else the token's claim
                    purpose = request_purpose(ws.headers.get(PURPOSE_HEADER), found)
                    principal = found
                except (AuthError, BadPurpose):
                    principal, purpose = None, None  # connection_init decides
        elif not (ide_enabled and _asks_for_ide_page(request)):
            # only GraphiQL's page itself is served without a token; nothing is executed
            try:
                principal = await authenticate_off_loop(request.headers.get("authorization"))
            except AuthError as error:
                raise Unauthenticated(str(error)) from None
            wait = await buckets.take(principal.subject)
            if wait > 0:
                raise RateLimited(wait)
            purpose = request_purpose(request.headers.get(PURPOSE_HEADER), principal)
        pool = state["pool"]
        commands = state["commands"]
        assert isinstance(pool, asyncpg.Pool)
        assert isinstance(commands, CommandClient)
        return HubContext(
            principal=principal,
            pool=pool,
            commands=commands,
            settings=schema_settings,
            authenticate=authenticate,
            notifier=state.get("notifier"),
            purpose=purpose,
        )

    app = GatewayApp(
        env=settings.env,
        title="Integration hub gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.schema_settings = schema_settings
    app.state.rate_limit = buckets
    served_schema = schema if settings.env == "dev" else build_schema(introspection_for_all=False)
    graphql = AuthenticatingRouter(
        served_schema,
        context_getter=context_getter,
        graphql_ide="graphiql" if ide_enabled else None,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
    )
    app.include_router(graphql, prefix="/graphql")

    def workspace_context(principal: Principal, purpose: str | None) -> HubContext:
        """The context /graphql builds, for a principal signed in to the workspace."""
        pool = state["pool"]
        commands = state["commands"]
        assert isinstance(pool, asyncpg.Pool)
        assert isinstance(commands, CommandClient)
        return HubContext(
            principal=principal,
            pool=pool,
            commands=commands,
            settings=schema_settings,
            authenticate=authenticate,
            notifier=state.get("notifier"),
            purpose=purpose,
        )

    install_workspace(
        app,
        Workspace(
            schema=served_schema,
            contexts=workspace_context,
            env=settings.env,
            pool=gateway_pool,  # sessions, drafts and form tokens (gateway.workspace_*)
            limit=buckets.take,  # the API's rate limit, per signed-in principal
            oidc=sign_in_for(settings, verify),
        ),
    )

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(_: Request, error: Unauthenticated) -> JSONResponse:
        return JSONResponse(
            {"errors": [{"message": error.message, "extensions": {"code": "unauthenticated"}}]},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="integration-hub"'},
        )

    @app.exception_handler(RateLimited)
    async def rate_limited(_: Request, error: RateLimited) -> JSONResponse:
        message = "too many requests for this token; retry after the given seconds"
        return JSONResponse(
            {"errors": [{"message": message, "extensions": {"code": "rate_limited"}}]},
            status_code=429,
            headers={"Retry-After": str(max(1, math.ceil(error.retry_after)))},
        )

    @app.exception_handler(BadPurpose)
    async def bad_purpose(_: Request, error: BadPurpose) -> JSONResponse:
        return JSONResponse(
            {"errors": [{"message": error.message, "extensions": {"code": "bad_purpose"}}]},
            status_code=400,
        )

    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(TracingMiddleware, tracer=tracer)

    def report_resources() -> tuple[asyncpg.Pool, CommandClient]:
        pool, commands = state["pool"], state["commands"]
        assert isinstance(pool, asyncpg.Pool)
        assert isinstance(commands, CommandClient)
        return pool, commands

    app.include_router(subject_access_routes(authenticate_off_loop, buckets.take, report_resources))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        pool = state.get("pool")
        if isinstance(pool, asyncpg.Pool):
            await pool.fetchval("SELECT 1")
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """503 naming what is not ready: the database, the bus, or read models that lag
        (gateway/readiness.py)."""
        pool, nc = state.get("pool"), state.get("nc")
        result = await readiness.check(
            pool if isinstance(pool, asyncpg.Pool) else None,
            nc if isinstance(nc, Client) else None,
            settings.ready_max_lag,
        )
        return JSONResponse(result.body(), status_code=200 if result.ready else 503)

    return app
