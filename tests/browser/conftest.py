"""Browser tests of the workspace: a hub started as ``make up`` starts it (``hub up`` with its
own embedded servers and the demo data), driven by Playwright through Debian's chromium.
axe-core (vendored here, tests only) runs on every page; a screenshot of every page is kept
in ``test-output/browser/``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = os.environ.get("HUB_CHROMIUM", "/usr/bin/chromium")
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text(encoding="utf-8")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "browser"
READY = "Workspace (Arbeitsoberfläche)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def hub_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A hub as ``make up`` starts it, for this module."""
    home = tmp_path_factory.mktemp("browser-hub")
    port = _free_port()
    log = home / "hub.log"
    env = {k: v for k, v in os.environ.items() if k not in ("HUB_POSTGRES_URL", "HUB_NATS_URL")}
    env.update(
        HUB_HOME=str(home / "home"),
        HUB_GATEWAY_PORT=str(port),
        HUB_INBOUND_PORT=str(_free_port()),
    )
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "up"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 240
        while READY not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.3)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        yield url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """Playwright's sync API runs its own event loop: it is stopped after this module, so the
    asyncio tests that follow find none running."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `sudo apt-get install -y chromium` (make browser)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Pages:
    """One signed-in browser context; ``check`` runs axe and keeps a screenshot."""

    def __init__(self, browser: Any, base: str, name: str) -> None:
        self.context = browser.new_context(base_url=base, locale="de-DE")
        self.page = self.context.new_page()
        self.name = name
        self.csp_errors: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.csp_errors.append(m.text) if "Content Security Policy" in m.text else None
            ),
        )

    def check(self, step: str) -> None:
        """No serious or critical axe violation and no CSP refusal on the page as it is."""
        page = self.page
        OUTPUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUTPUT / f"{self.name}-{step}.png"), full_page=True)
        page.evaluate(AXE)  # through DevTools: not subject to the page's CSP
        violations = page.evaluate(
            """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
        )
        assert violations == [], f"{self.name}-{step}: {violations}"
        assert self.csp_errors == [], self.csp_errors

    def sign_in(self, user: str) -> None:
        self.page.goto("/anmelden")
        self.check("anmelden")
        self.page.locator(f"#benutzer-{user}").check()
        self.page.get_by_role("button", name="Anmelden").click()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def pages(chromium: Any, hub_url: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    opened: list[Pages] = []

    def open_as(user: str) -> Pages:
        p = Pages(chromium, hub_url, f"{request.node.name}-{user}")
        opened.append(p)
        p.sign_in(user)
        return p

    yield open_as
    for p in opened:
        p.close()
