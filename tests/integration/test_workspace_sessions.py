"""The workspace's sessions, one-time form tokens and drafts in PostgreSQL: a restarted gateway
(a new app object on the same database) or a second replica keeps the user signed in, keeps
what they typed and sends no command twice; expired sessions are refused and purged; the
workspace takes its share of the API's rate limit per signed-in principal."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import asyncpg
import httpx
import pytest

from gateway.app import GatewayResources, create_app
from gateway.auth import Principal, issue_token
from gateway.workspace import sessions as workspace_sessions
from gateway.workspace.sessions import IDLE_SECONDS, MAX_SECONDS, SessionStore
from services.runtime.messaging import close, connect
from services.runtime.settings import HubSettings
from tests.integration.conftest import InProcessHub
from tests.integration.gateway_only import running_gateway

WHO = Principal(subject="demo-case-manager", agency="kim-05315", role="case_manager")
INTAKE = {
    "vorname": "Hanna",
    "nachname": "Beispiel",
    "geburtsdatum": "17.03.1990",
    "zielgruppe": "newly_arrived",
    "rechtskreise": ["sgb_ii"],
    "zugang": "jobcenter",
    "kontakt": "0221 123",
}


def hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no hidden field {name}"
    return found.group(1)


@contextlib.asynccontextmanager
async def another_gateway(hub: InProcessHub, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A new gateway app on the same database and bus: a restart, or a second replica."""
    nc = await connect(hub.settings, "test-gateway-restarted", user="gateway")
    app = create_app(hub.settings, GatewayResources(pool=hub.pool, nc=nc, url=database_url))
    try:
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://hub.test", timeout=30
            ) as client,
        ):
            yield client
    finally:
        await close(nc)


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[tuple[SessionStore, list[float]]]:
    """A store on a fresh database with a clock the test moves."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    await workspace_sessions.ensure_tables(pool)
    now = [1_800_000_000.0]
    try:
        yield SessionStore(lambda: pool, clock=lambda: now[0]), now
    finally:
        await pool.close()


async def test_a_restarted_gateway_keeps_the_session_the_draft_and_the_form_tokens(
    hub: InProcessHub, database_url: str
) -> None:
    first = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hub.app), base_url="http://hub.test", timeout=30
    )
    async with first:
        signed = await first.post("/anmelden", data={"benutzer": "fallmanagement"})
        assert signed.status_code == 303
        cookie = first.cookies["hub_session"]
        form = (await first.get("/faelle/neu")).text
        data = {"csrf": hidden(form, "csrf"), "formular": hidden(form, "formular"), **INTAKE}
        opened = await first.post("/faelle/neu", data=data)
        assert opened.status_code == 303
        assert opened.headers["location"].startswith("/faelle/")
        second_form = (await first.get("/faelle/neu")).text
        draft_data = {
            "csrf": hidden(second_form, "csrf"),
            "formular": hidden(second_form, "formular"),
            **INTAKE,
        }

    async with another_gateway(hub, database_url) as restarted:
        # the same cookie on the new gateway: still signed in, same CSRF token
        restarted.cookies.set("hub_session", cookie)
        page = await restarted.get("/faelle/neu")
        assert page.status_code == 200, page.text
        assert hidden(page.text, "csrf") == data["csrf"]
        # the same form sent again (the back button after the restart): the first one's
        # result, the new case's page, and no second case (it would have another id)
        again = await restarted.post("/faelle/neu", data=data)
        assert again.status_code == 303
        assert again.headers["location"] == opened.headers["location"]

        # the session times out; the form typed meanwhile is kept in the database, as the
        # draft of the user whose session it was
        await hub.pool.execute(
            "UPDATE gateway.workspace_sessions SET idle_until = now() - interval '1 second'"
        )
        sent = await restarted.post("/faelle/neu", data=draft_data)
        assert sent.status_code == 303
        assert await hub.pool.fetchval("SELECT count(*) FROM gateway.workspace_sessions") == 0
        assert sent.headers["location"].startswith("/anmelden?weiter=/faelle/neu%3Fentwurf%3D")
        stored = await hub.pool.fetch("SELECT sealed FROM gateway.workspace_drafts")
        assert len(stored) == 1
        assert b"Beispiel" not in stored[0]["sealed"]  # what was typed is encrypted
        assert b"0221" not in stored[0]["sealed"]
    weiter = unquote(sent.headers["location"].split("weiter=")[1])

    async with another_gateway(hub, database_url) as third:  # and another restart
        third.cookies.clear()
        back = await third.post("/anmelden", data={"benutzer": "fallmanagement", "weiter": weiter})
        assert back.headers["location"].startswith("/faelle/neu?entwurf=")
        restored = await third.get(back.headers["location"])
        assert "Ihre Eingaben sind wiederhergestellt" in restored.text
        assert 'value="Beispiel"' in restored.text
        assert 'value="0221 123"' in restored.text
        once = await third.get(back.headers["location"])
        assert "Ihre Eingaben sind wiederhergestellt" not in once.text
    assert await hub.pool.fetchval("SELECT count(*) FROM gateway.workspace_drafts") == 0


async def test_the_session_id_is_random_256_bit_stored_hashed_and_the_cookie_is_httponly_lax(
    hub: InProcessHub,
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hub.app), base_url="http://hub.test"
    ) as client:
        signed = await client.post("/anmelden", data={"benutzer": "awo"})
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "samesite=lax" in cookie
        session_id = client.cookies["hub_session"]
        rows = await hub.pool.fetch("SELECT * FROM gateway.workspace_sessions")
        again = await client.post("/anmelden", data={"benutzer": "awo"})  # a new id every time
        assert again.status_code == 303
        newer = client.cookies["hub_session"]
    assert len(session_id) == 43  # 32 random bytes, base64url
    assert [row["id_hash"] for row in rows] == [hashlib.sha256(session_id.encode()).digest()]
    assert session_id not in str([dict(row) for row in rows])
    remaining = await hub.pool.fetch("SELECT id_hash FROM gateway.workspace_sessions")
    assert [row["id_hash"] for row in remaining] == [hashlib.sha256(newer.encode()).digest()]


async def test_expired_sessions_are_refused_and_purged(
    store: tuple[SessionStore, list[float]],
) -> None:
    sessions, now = store
    idle = await sessions.create(WHO)
    busy = await sessions.create(WHO)
    forgotten = await sessions.create(WHO)
    assert (await sessions.get(idle.id)) is not None

    now[0] += IDLE_SECONDS - 5
    assert await sessions.get(busy.id) is not None  # in use: its idle time starts again
    now[0] += 10
    assert await sessions.get(idle.id) is None  # idle too long: refused and deleted
    assert await sessions.get(busy.id) is not None
    assert await sessions.purge() == 1  # the one nobody came back for
    assert await sessions.get(forgotten.id) is None

    while now[0] < 1_800_000_000.0 + MAX_SECONDS - IDLE_SECONDS:
        now[0] += IDLE_SECONDS - 60
        assert await sessions.get(busy.id) is not None
    now[0] += IDLE_SECONDS - 60
    assert await sessions.get(busy.id) is None  # however active: the absolute lifetime
    assert await sessions.pool.fetchval("SELECT count(*) FROM gateway.workspace_sessions") == 0


async def test_a_sign_in_purges_what_has_expired(
    store: tuple[SessionStore, list[float]],
) -> None:
    sessions, now = store
    await sessions.create(WHO)
    await sessions.keep_draft("/faelle/neu", {"nachname": ["Beispiel"]})
    await sessions.keep_login("state", {"nonce": "n"})
    now[0] += MAX_SECONDS + 1
    fresh = await sessions.create(WHO)  # the next sign-in, somewhere
    assert await sessions.get(fresh.id) is not None
    for table in ("workspace_sessions", "workspace_drafts", "workspace_logins"):
        left = await sessions.pool.fetchval(f"SELECT count(*) FROM gateway.{table}")
        assert left == (1 if table == "workspace_sessions" else 0), table


async def test_a_form_token_runs_its_action_once_across_two_gateways(
    store: tuple[SessionStore, list[float]],
) -> None:
    sessions, _ = store
    replica = SessionStore(lambda: sessions.pool, clock=sessions.clock)  # a second gateway
    session = await sessions.create(WHO)
    calls: list[int] = []

    async def act() -> str | None:
        calls.append(1)
        await asyncio.sleep(0.3)
        return "/faelle/1"

    results = await asyncio.gather(
        sessions.once(session, "t", act),
        sessions.once(session, "t", act),
        replica.once(session, "t", act),
    )
    assert list(results) == ["/faelle/1"] * 3
    assert len(calls) == 1
    assert await replica.once(session, "t", act) == "/faelle/1"
    assert len(calls) == 1

    async def refused() -> str | None:
        calls.append(1)
        return None  # the form had errors: the user may correct them and submit again

    assert await sessions.once(session, "u", refused) is None
    assert await replica.once(session, "u", act) == "/faelle/1"
    assert len(calls) == 3


async def test_a_draft_is_taken_once_for_its_own_page_by_its_owner_until_it_expires(
    store: tuple[SessionStore, list[float]],
) -> None:
    sessions, now = store
    values = {"nachname": ["Beispiel"]}
    draft = await sessions.keep_draft("/faelle/neu", values)
    assert len(draft) == 43
    assert await sessions.take_draft(draft, "/luecken/neu") is None  # another page: gone
    kept = await sessions.keep_draft("/faelle/neu", values)
    assert await sessions.take_draft(kept, "/faelle/neu") == values
    assert await sessions.take_draft(kept, "/faelle/neu") is None
    owned = await sessions.keep_draft("/faelle/neu", values, owner="demo-case-manager")
    assert await sessions.take_draft(owned, "/faelle/neu", "someone-else") is None
    assert await sessions.take_draft(owned, "/faelle/neu") is None
    assert await sessions.take_draft(owned, "/faelle/neu", "demo-case-manager") == values
    late = await sessions.keep_draft("/faelle/neu", values)
    now[0] += workspace_sessions.DRAFT_SECONDS + 1
    assert await sessions.take_draft(late, "/faelle/neu") is None


def _bearer(settings: HubSettings, subject: str, role: str) -> dict[str, str]:
    token = issue_token(
        settings.resolved_jwt_secret(),
        subject=subject,
        agency="kim-05315",
        role=role,
        issuer=settings.jwt_issuer,
    )
    return {"Authorization": f"Bearer {token}"}


async def test_the_workspace_takes_the_apis_rate_limit_per_signed_in_principal(
    settings: HubSettings, database_url: str, nats_client: Any
) -> None:
    limited = settings.model_copy(update={"rate_limit_per_second": 0.2, "rate_limit_burst": 3})
    async with running_gateway(limited, database_url, nats_client) as (app, _):
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://hub.test") as user,
            httpx.AsyncClient(transport=transport, base_url="http://hub.test") as colleague,
        ):
            signed = await user.post("/anmelden", data={"benutzer": "fallmanagement"})
            assert signed.status_code == 303
            assert (await colleague.post("/anmelden", data={"benutzer": "awo"})).status_code == 303
            pages = [(await user.get("/start")).status_code for _ in range(3)]
            refused = await user.get("/start")
            posted = await user.post("/abmelden", data={"csrf": "x"})
            other = await colleague.get("/start")
            # the API and the workspace share the principal's bucket
            api = await app_post(transport, limited, "demo-case-manager")
    assert pages == [200, 200, 200]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 5
    assert "Zu viele Anfragen" in refused.text
    assert refused.headers["content-type"].startswith("text/html")
    assert posted.status_code == 429  # a form's POST too
    assert other.status_code == 200  # another principal has its own bucket
    assert api.status_code == 429


async def app_post(transport: httpx.ASGITransport, settings: HubSettings, subject: str) -> Any:
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        return await client.post(
            "/graphql",
            json={"query": "{ __typename }"},
            headers=_bearer(settings, subject, "case_manager"),
        )


async def test_the_gateways_database_role_may_do_what_the_store_does(
    settings: HubSettings, database_url: str
) -> None:
    """Provisioned as ``hub up`` does it, the gateway's own role (which may create nothing)
    keeps sessions, form tokens, drafts and sign-ins."""
    from hub import database_roles, database_setup
    from hub.catalog import SERVICES

    assert database_roles.WORKSPACE_TABLES == workspace_sessions.TABLES
    admin = await asyncpg.connect(database_url)
    try:
        await database_setup.create_shared_tables(admin)
    finally:
        await admin.close()
    await asyncio.to_thread(database_setup.create_event_stores, settings)
    passwords = await asyncio.to_thread(
        database_setup.create_roles, settings, str(settings.postgres_url)
    )
    role = database_roles.role_for("gateway", SERVICES).name(settings.database)
    url = database_roles.role_url(database_url, role, passwords["gateway"])
    pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
    try:
        await workspace_sessions.ensure_tables(pool)  # only looks
        sessions = SessionStore(lambda: pool)
        session = await sessions.create(WHO)
        assert await sessions.get(session.id) is not None

        async def act() -> str | None:
            return "/faelle/1"

        assert await sessions.once(session, "t", act) == "/faelle/1"
        draft = await sessions.keep_draft("/faelle/neu", {"nachname": ["Beispiel"]})
        assert await sessions.take_draft(draft, "/faelle/neu") == {"nachname": ["Beispiel"]}
        await sessions.keep_login("state", {"nonce": "n"})
        assert await sessions.take_login("state") == {"nonce": "n"}
        await sessions.purge()
        await sessions.end(session.id)
        assert await sessions.get(session.id) is None
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pool.execute("CREATE TABLE gateway.workspace_extra (id int)")
    finally:
        await pool.close()
