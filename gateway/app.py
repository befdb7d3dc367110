"""The gateway process: FastAPI + strawberry GraphQL over the read models."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
from cross_web import HTTPException
from fastapi import FastAPI, Request, WebSocket
from fastapi.middleware.asyncexitstack import AsyncExitStackMiddleware
from fastapi.responses import JSONResponse
from nats.aio.client import Client
from opentelemetry import trace
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    Message,
)

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
from gateway.http import HubHTTP, LeanGraphQL, dumps, loads
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
from services.runtime.database import keep_session
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


async def open_pool(
    url: str, settings: HubSettings, *, min_size: int = 2, max_size: int = 16
) -> asyncpg.Pool:
    """The gateway's database connections. Each statement may run at most
    ``HUB_GATEWAY_STATEMENT_TIMEOUT_SECONDS``: a read held up by a lock (a stuck migration, a
    rebuild's switch that does not finish) or by a stalled server answers ``unavailable``
    then, and gives its connection back. Without a limit it waited as long as the lock was
    held, and once every pooled connection waited, so did every other request."""
    timeout_ms = round(settings.gateway_statement_timeout_seconds * 1000)
    return await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        reset=keep_session,
        server_settings={"statement_timeout": str(timeout_ms)} if timeout_ms > 0 else {},
    )


RATE_LIMITED_MESSAGE = "too many requests for this token; retry after the given seconds"


class RateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after


def malformed(message: object) -> str | None:
    """Why a graphql-transport-ws message is not one the protocol defines, or ``None``.

    Strawberry's handler indexes each message as the protocol shapes it: a message that is
    JSON but no object (a list, a string), or a ``subscribe`` whose ``payload`` is no object
    or whose ``id`` or ``query`` is no string, failed inside it with a traceback and a socket
    closed without a reason. The protocol asks for 4400 with the reason instead."""
    if not isinstance(message, dict):
        return "WebSocket message must be a JSON object"
    kind = message.get("type")
    if kind in ("subscribe", "complete") and not isinstance(message.get("id"), str):
        return f"a {kind} message needs an id that is a string"
    if kind != "subscribe":
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return "a subscribe message needs a payload with a query that is a string"
    for name, shape in (("variables", dict), ("operationName", str), ("extensions", dict)):
        if payload.get(name) is not None and not isinstance(payload[name], shape):
            return f"the subscribe payload's {name} must be a JSON {_JSON_NAMES[shape]}"
    return None


_JSON_NAMES = {dict: "object", str: "string"}


class ExpiringTransportWSHandler(BaseGraphQLTransportWSHandler[HubContext, None]):
    """Closes an acknowledged connection with 4401 when its bearer token expires, and one that
    sends a message the protocol does not define with 4400 (:func:`malformed`)."""

    expiry: asyncio.Task[None] | None = None

    async def handle_message(self, message: Message) -> None:
        reason = malformed(message)
        if reason is not None:
            await self.handle_invalid_message(reason)
            return
        # of the protocol's shape now, but a message may still lack its type (strawberry
        # answers that with 4400)
        shaped = cast("dict[str, Any]", message)
        if shaped.get("type") == "subscribe" and not await self._admitted(shaped["id"]):
            return
        await super().handle_message(message)

    async def _admitted(self, operation_id: str) -> bool:
        """An operation a socket starts (a subscription, or a query or mutation sent over the
        socket) takes a token of the subject's rate limit, as an HTTP request does; refused,
        it gets an ``error`` with ``rate_limited`` and ``retryAfter``, and the socket stays."""
        principal, take = self.context.principal, self.context.rate_limit
        if principal is None or take is None:
            return True  # not acknowledged yet: strawberry refuses it (4401)
        wait = await take(principal.subject)
        if wait <= 0:
            return True
        await self.send_message(
            {
                "id": operation_id,
                "type": "error",
                "payload": [
                    {
                        "message": RATE_LIMITED_MESSAGE,
                        "extensions": {
                            "code": "rate_limited",
                            "retryAfter": max(1, math.ceil(wait)),
                        },
                    }
                ],
            }
        )
        return False

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

    def decode_json(self, data: str | bytes) -> object:
        return loads(data)  # orjson, as the lean route (gateway.http)

    def parse_json(self, data: str | bytes) -> Any:
        """A body (or a ``variables`` parameter) that is JSON but neither an object nor a list
        (a batch) is bad input: strawberry's view would fail on it with a 500."""
        parsed = super().parse_json(data)
        if not isinstance(parsed, dict | list):
            raise HTTPException(400, "Expected a JSON object")
        return parsed

    def encode_json(self, data: object) -> bytes:
        return dumps(data)

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
    """FastAPI with one middleware of our own outside everything (gateway.http.HubHTTP:
    the server span, the security headers, also on the 500 answers, and the body limit),
    the lean ``POST /graphql`` route inside the exception handlers, and no FastAPI
    telemetry (its server span would be a second one per request)."""

    def __init__(
        self,
        *,
        env: str,
        max_body_bytes: int,
        tracer: trace.Tracer,
        lean: Callable[[ASGIApp], LeanGraphQL] | None = None,
        **kwargs: Any,
    ) -> None:
        self.env = env
        self.max_body_bytes = max_body_bytes
        self.tracer = tracer
        self.lean = lean
        #: the lean route, once the stack is built (the first request builds it)
        self.lean_graphql: LeanGraphQL | None = None
        kwargs.setdefault("telemetry", {"tracing": False, "metrics": False, "logs": False})
        super().__init__(**kwargs)

    def build_middleware_stack(self) -> ASGIApp:
        """FastAPI's stack (``FastAPI.build_middleware_stack``) without its telemetry layers
        and its own body limit (ours is stricter and outside), and with the lean route."""
        error_handler = None
        handlers: dict[Any, Any] = {}
        for key, value in self.exception_handlers.items():
            if key in (500, Exception):
                error_handler = value
            else:
                handlers[key] = value
        app: ASGIApp = AsyncExitStackMiddleware(self.router)
        if self.lean is not None:
            self.lean_graphql = self.lean(app)
            app = self.lean_graphql
        app = ExceptionMiddleware(app, handlers=handlers, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        app = ServerErrorMiddleware(app, handler=error_handler, debug=self.debug)
        return HubHTTP(app, env=self.env, max_bytes=self.max_body_bytes, tracer=self.tracer)


def _asks_for_ide_page(request: Request) -> bool:
    """A GET for GraphiQL's page: HTML, no token and no operation in the query string (a GET
    with ``query`` is an operation, whatever it accepts, and needs a token)."""
    return (
        request.method == "GET"
        and "text/html" in request.headers.get("accept", "")
        and "authorization" not in request.headers
        and "query" not in request.query_params
    )


def create_app(
    settings: HubSettings, resources: GatewayResources | None = None, *, background: bool = True
) -> FastAPI:
    """Build the gateway; with ``resources`` given (tests), it uses those connections.
    ``background``: this process runs the gateway's background jobs (resending erasures a
    service has not confirmed, the daily retention run); of several gateway processes on one
    port (``HUB_GATEWAY_WORKERS``) only the first does, so that each job runs once."""
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
            pool = await open_pool(database_url(settings), settings)
            nc = await connect(settings, "gateway")
        else:
            pool, nc = resources.pool, resources.nc
        await audit.ensure_tables(pool)
        await erasure.ensure_tables(pool)
        await workspace_sessions.ensure_tables(pool)
        await ratelimit.ensure_tables(pool)
        await read_models.ensure(pool)
        notifier = Notifier(
            database_url(settings) if resources is None else resources.url,
            per_subject=settings.subscriptions_per_subject,
        )
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
        jobs: list[asyncio.Task[None]] = []
        if background:
            # erasures a service has not confirmed yet are sent again until it has
            coordinator = erasure.ErasureCoordinator(pool, commands)
            jobs.append(asyncio.create_task(coordinator.run(stop)))
            if settings.retention_every_hours > 0:  # once a day by default, erasing what is due
                rules = retention.load_rules(settings.retention_rules)
                every = settings.retention_every_hours * 3600
                jobs.append(
                    asyncio.create_task(
                        retention.run_daily(pool, coordinator, rules, stop, every_seconds=every)
                    )
                )
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(*jobs)
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

    def new_context(principal: Principal | None, purpose: str | None) -> HubContext:
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
            rate_limit=buckets.take,
        )

    async def http_context(headers: Mapping[str, str]) -> HubContext:
        """An HTTP request's context (both /graphql routes): its token, rate limit and
        purpose; ``headers`` by lowercase name."""
        try:
            principal = await authenticate_off_loop(headers.get("authorization"))
        except AuthError as error:
            raise Unauthenticated(str(error)) from None
        wait = await buckets.take(principal.subject)
        if wait > 0:
            raise RateLimited(wait)
        purpose = request_purpose(headers.get(PURPOSE_HEADER.lower()), principal)
        return new_context(principal, purpose)

    async def context_getter(
        request: Request = None,  # type: ignore[assignment]
        ws: WebSocket = None,  # type: ignore[assignment]
    ) -> HubContext:
        principal: Principal | None = None
        purpose: str | None = None
        if ws is None:
            if ide_enabled and _asks_for_ide_page(request):
                # only GraphiQL's page itself is served without a token; nothing is executed
                return new_context(None, None)
            return await http_context(request.headers)
        # WebSockets authenticate in connection_init (or with the handshake header)
        if "authorization" in ws.headers:
            try:
                found = await authenticate_off_loop(ws.headers["authorization"])
                # the purpose: the handshake's header, else the token's claim
                purpose = request_purpose(ws.headers.get(PURPOSE_HEADER), found)
                principal = found
            except (AuthError, BadPurpose):
                principal, purpose = None, None  # connection_init decides
        return new_context(principal, purpose)

    served_schema = schema if settings.env == "dev" else build_schema(introspection_for_all=False)

    def lean(app: ASGIApp) -> LeanGraphQL:
        return LeanGraphQL(app, schema=served_schema, context_for=http_context)

    app = GatewayApp(
        env=settings.env,
        max_body_bytes=settings.max_body_bytes,
        tracer=tracer,
        lean=lean,
        title="Integration hub gateway",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.schema_settings = schema_settings
    app.state.rate_limit = buckets
    graphql = AuthenticatingRouter(
        served_schema,
        context_getter=context_getter,
        graphql_ide="graphiql" if ide_enabled else None,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
    )
    app.include_router(graphql, prefix="/graphql")

    def workspace_context(principal: Principal, purpose: str | None) -> HubContext:
        """The context /graphql builds, for a principal signed in to the workspace."""
        return new_context(principal, purpose)

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
        return JSONResponse(
            {"errors": [{"message": RATE_LIMITED_MESSAGE, "extensions": {"code": "rate_limited"}}]},
            status_code=429,
            headers={"Retry-After": str(max(1, math.ceil(error.retry_after)))},
        )

    @app.exception_handler(BadPurpose)
    async def bad_purpose(_: Request, error: BadPurpose) -> JSONResponse:
        return JSONResponse(
            {"errors": [{"message": error.message, "extensions": {"code": "bad_purpose"}}]},
            status_code=400,
        )

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
