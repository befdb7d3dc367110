"""The workspace's further pages over the in-process hub: the Fallakte's Rechtskreiswechsel and
case conferences with a German timeline, the conflict's interventions, outcome and board log
(corrections shown as corrections), the steering group's gaps board, the authority's person
search and status history, and the data-protection officer's page."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from gateway.auth import issue_token

from tests.conftest import Servers
from tests.integration.conftest import InProcessHub
from tests.integration.live_hub import module_hub
from tests.integration.test_workspace import INTAKE, browser, form_of, hidden, open_case


@pytest.fixture(scope="module")
async def hub(servers: Servers) -> AsyncIterator[InProcessHub]:
    async with module_hub(servers, rate_limit_per_second=0) as running:
        yield running


async def sign_in(client: httpx.AsyncClient, user: str) -> None:
    response = await client.post("/anmelden", data={"benutzer": user})
    assert response.status_code == 303, response.text


async def page_until(
    client: httpx.AsyncClient, path: str, text: str, tries: int = 60
) -> httpx.Response:
    """The page once it shows ``text`` (the read models follow the commands)."""
    for _ in range(tries):
        page = await client.get(path)
        if text in page.text:
            return page
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never showed {text!r}")


def as_demo_user(hub: InProcessHub, subject: str, role: str, agency: str) -> dict[str, str]:
    """The API's headers for a demo user of the sign-in page (the same subject)."""
    token = issue_token(
        hub.settings.resolved_jwt_secret(),
        subject=subject,
        agency=agency,
        role=role,
        issuer=hub.settings.jwt_issuer,
    )
    return {"Authorization": f"Bearer {token}"}


def tokens_of(html: str, action: str) -> dict[str, str]:
    """The CSRF and one-time tokens of the form posting to ``action``."""
    start = html.index(f'action="{action}"')
    form = html[start : html.index("</form>", start)]
    return {"csrf": hidden(form, "csrf"), "formular": hidden(form, "formular")}


CHANGE_SPHERE = """mutation($input: ChangeLegalSphereInput!) {
  changeLegalSphere(input: $input) { position } }"""
CONFERENCE = """mutation($input: HoldCaseConferenceInput!) {
  holdCaseConference(input: $input) { position } }"""


async def test_the_case_file_shows_legal_sphere_changes_conferences_and_a_german_timeline(
    hub: InProcessHub,
) -> None:
    async with browser(hub) as client:
        await sign_in(client, "fallmanagement")
        case_id = await open_case(client)
        manager = as_demo_user(hub, "demo-case-manager", "case_manager", "kim-05315")
        day = dt.date.today()
        german = day.strftime("%d.%m.%Y")
        changed = await hub.graphql(
            CHANGE_SPHERE,
            {
                "input": {
                    "caseId": case_id,
                    "fromSphere": "sgb_ii",
                    "toSphere": "sgb_xii",
                    "effective": day.isoformat(),
                }
            },
            headers=manager,
        )
        assert "errors" not in changed, changed
        held = await hub.graphql(
            CONFERENCE,
            {
                "input": {
                    "caseId": case_id,
                    "heldOn": day.isoformat(),
                    "participants": ["kim-05315"],
                }
            },
            headers=manager,
        )
        assert "errors" not in held, held
        page = await page_until(client, f"/faelle/{case_id}", "Fallkonferenz durchgeführt")
        html = page.text
        assert 'id="tabelle-rechtskreiswechsel"' in html
        assert 'SGB II (Bürgergeld)</td><td class="kern-table__cell">SGB XII (Sozialhilfe)' in html
        assert 'id="tabelle-fallkonferenzen"' in html
        assert (
            f"Rechtskreiswechsel: SGB II (Bürgergeld) → SGB XII (Sozialhilfe) ab {german}"
            in page.text
        )
        assert f"Fallkonferenz durchgeführt am {german} mit kim-05315" in page.text
        assert "Fall aufgenommen" in page.text
        assert "Legal sphere changed" not in page.text  # the API's English summary is not shown
        assert "Case opened" not in page.text
