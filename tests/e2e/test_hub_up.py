"""``hub up`` as users run it: separate processes, GraphQL over HTTP, a clean Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from gateway.auth import issue_token
from hub.importer import synthetic_lines
from kernel.clock import today_in_germany
from tests.conftest import TEST_JWT_SECRET, TEST_VAULT_KEY, Servers, fresh_database, reset_streams
from tests.helpers import arrival_input

pytestmark = pytest.mark.e2e

REGISTER = """mutation($input: RegisterArrivalInput!) {
  registerArrival(input: $input) { personId position traceId } }"""
GRANT = """mutation($input: GrantResidenceTitleInput!) {
  grantResidenceTitle(input: $input) { position } }"""
TIMELINE = """query($id: ID!, $atLeast: String) {
  person(id: $id) { timeline(atLeast: $atLeast) { eventType summary traceId position } } }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RunningHub:
    def __init__(
        self, proc: subprocess.Popen[bytes], port: int, log: Path, env: dict[str, str]
    ) -> None:
        self.proc = proc
        self.env = env
        self.base_url = f"http://127.0.0.1:{port}"
        self.log = log

    def token(self, role: str = "abh_officer") -> str:
        return issue_token(
            TEST_JWT_SECRET, subject="e2e", agency="abh-05315", role=role, issuer="integration-hub"
        )

    def graphql(self, query: str, variables: dict[str, Any], **headers: str) -> dict[str, Any]:
        response = httpx.post(
            f"{self.base_url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token()}", **headers},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        data = body["data"]
        assert isinstance(data, dict)
        return data

    def wait_until_up(self, timeout: float = 90) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"hub did not come up:\n{self.log.read_text()[-3000:]}")

    def wait_for_log(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text():
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.2)

    def interrupt(self) -> int:
        descendants = psutil.Process(self.proc.pid).children(recursive=True)
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(60)
        _gone, alive = psutil.wait_procs(descendants, timeout=10)
        assert not alive, f"left running: {alive}"
        return code


def start_hub(tmp_path: Path, env: dict[str, str], *args: str) -> Iterator[RunningHub]:
    port = free_port()
    log = tmp_path / "hub.log"
    full_env = {
        **os.environ,
        **env,
        "HUB_GATEWAY_PORT": str(port),
        "HUB_INBOUND_PORT": str(free_port()),
        "HUB_HOME": str(tmp_path / "home"),
        "HUB_JWT_SECRET": TEST_JWT_SECRET,
        "HUB_VAULT_MASTER_KEY": TEST_VAULT_KEY,
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hub", "up", *args],
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hub = RunningHub(proc, port, log, full_env)
    try:
        yield hub
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


def hub_command(hub: RunningHub, *args: str) -> subprocess.CompletedProcess[str]:
    """An operator's command (``hub ARGS``) in the running hub's environment."""
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        env=hub.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def env_on_test_servers(servers: Servers, database: str) -> dict[str, str]:
    return {
        "HUB_POSTGRES_URL": servers.postgres_url,
        "HUB_NATS_URL": servers.nats_url,
        "HUB_NATS_DEV_SECRETS": str(servers.nats_secrets),
        "HUB_DATABASE": database,
        # the tests' persons must not be erased by the daily retention run in between
        "HUB_RETENTION_EVERY_HOURS": "0",
    }


@pytest.fixture
def hub_on_test_servers(
    tmp_path: Path, servers: Servers, database: str, nats_client: Any
) -> Iterator[RunningHub]:
    yield from start_hub(tmp_path, env_on_test_servers(servers, database), "--no-demo")


@pytest.fixture(scope="module")
async def module_bus(servers: Servers) -> None:
    """Empty, provisioned streams for this module's shared hub (``nats_client`` per test)."""
    from services.runtime.messaging import close, connect_admin

    nc = await connect_admin(servers.bus_settings(), "test")
    try:
        await reset_streams(nc.jetstream())
    finally:
        await close(nc)


@pytest.fixture(scope="module")
def shared_hub(
    tmp_path_factory: pytest.TempPathFactory, servers: Servers, module_bus: None
) -> Iterator[RunningHub]:
    """One ``hub up`` (on a fresh database) for the flows that need a running hub and nothing
    of their own: each flow's data is its own (new cases, gaps, conflicts); starting and
    stopping the processes is most of such a test's time. After the flows the hub must still
    stop cleanly on Ctrl-C (exit code 0, no process left): checked when the module is done."""
    yield from module_hub_up(tmp_path_factory.mktemp("shared-hub"), servers)


def module_hub_up(home: Path, servers: Servers, **env: str) -> Iterator[RunningHub]:
    """A ``hub up`` on the test servers and a fresh database (``env`` on top) for a module's
    tests, up when it is yielded; afterwards it must stop cleanly on Ctrl-C."""
    with (
        fresh_database(servers.postgres_url) as database,
        contextlib.contextmanager(start_hub)(
            home, {**env_on_test_servers(servers, database), **env}, "--no-demo"
        ) as hub,
    ):
        hub.wait_until_up()
        yield hub
        assert hub.interrupt() == 0


def test_an_arrival_travels_from_mutation_to_timeline_across_processes(
    hub_on_test_servers: RunningHub,
) -> None:
    hub = hub_on_test_servers
    hub.wait_until_up()
    trace_id = "0af7651916cd43dd8448eb211c80319c"

    created = hub.graphql(
        REGISTER, {"input": arrival_input()}, traceparent=f"00-{trace_id}-b7ad6b7169203331-01"
    )["registerArrival"]
    granted = hub.graphql(
        GRANT,
        {
            "input": {
                "personId": created["personId"],
                "title": "RESIDENCE_PERMIT",
                "paragraph": "§ 24 AufenthG",
                "validFrom": "2022-03-20",
                "validUntil": "2027-03-04",
            }
        },
    )["grantResidenceTitle"]
    timeline = hub.graphql(TIMELINE, {"id": created["personId"], "atLeast": granted["position"]})[
        "person"
    ]["timeline"]

    assert created["traceId"] == trace_id
    assert len(timeline) == 4
    assert [e["traceId"] for e in timeline if e["eventType"].endswith("person_registered.v1")] == [
        trace_id
    ]
    assert any("§ 24 AufenthG" in e["summary"] for e in timeline)

    rebuilt = hub_command(hub, "projections", "rebuild", "timeline")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt timeline: 4 rows" in rebuilt.stdout
    again = hub.graphql(TIMELINE, {"id": created["personId"]})["person"]["timeline"]
    assert again == timeline

    status = hub_command(hub, "status", "--json")
    assert status.returncode == 0, status.stdout + status.stderr
    report = json.loads(status.stdout)
    assert [(h["endpoint"], h["status"]) for h in report["health"]] == [
        ("gateway /healthz", 200),
        ("gateway /readyz", 200),
        ("inbound /inbound/healthz", 200),
    ]
    relays = {r["service"]: r for r in report["relays"]}
    assert relays["foreigners_authority"]["stored"] > 0
    assert relays["foreigners_authority"]["behind"] == 0
    assert report["dead_letters"] == {}
    assert_each_process_uses_its_own_role(hub)
    assert hub.interrupt() == 0


def assert_each_process_uses_its_own_role(hub: RunningHub) -> None:
    """Every session on the hub's database is a process role's (besides this check's own), and
    only the services' command servers hold the vault key."""
    import psycopg

    from services.runtime.database import with_database

    database = hub.env["HUB_DATABASE"]
    admin_url = with_database(hub.env["HUB_POSTGRES_URL"], database)
    with psycopg.connect(admin_url) as conn:
        users = {
            str(row[0])
            for row in conn.execute(
                "SELECT usename FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        }
    processes = ["foreigners_authority", "case_management", "projector", "gateway"]
    assert {f"{database}_{process}" for process in processes} <= users
    assert all(user.startswith(f"{database}_") for user in users), users
    for child in psutil.Process(hub.proc.pid).children():
        argv = child.cmdline()
        if "run" not in argv:
            continue  # the embedded servers
        environ = child.environ()
        holds_key = "HUB_VAULT_MASTER_KEY" in environ
        assert holds_key == ("service" in argv), argv  # not the relays, projector, gateway
        assert environ["HUB_POSTGRES_URL"].startswith(f"postgresql://{database}_"), argv


FIND_OLENA = '{ personSearch(familyName: "Demchenko", birthDate: "1987-04-12") { personId } }'


def test_make_up_path_embedded_servers_demo_data_and_clean_stop(tmp_path: Path) -> None:
    env = {"HUB_POSTGRES_URL": "", "HUB_NATS_URL": ""}
    for hub in start_hub(tmp_path, env):
        took = hub.wait_until_up()
        hub.wait_for_log("Demo token", timeout=180)
        print(f"hub up answered after {took:.1f}s")

        response = httpx.post(f"{hub.base_url}/graphql", json={"query": "{ __typename }"})
        assert response.status_code == 401
        page = httpx.get(f"{hub.base_url}/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        # every synthetic message was accepted (sent in batches, as hub import sends a file)
        messages = sum(1 for _ in synthetic_lines(200, today=today_in_germany(), prefix="demo"))
        assert (
            f"loaded demo data: 8 persons and 200 synthetic paths ({messages} messages accepted)"
            in hub.log.read_text()
        )
        # the demo officer (Köln) finds the demo persons of Köln by name
        log_lines = hub.log.read_text().splitlines()
        at = next(i for i, line in enumerate(log_lines) if "Demo token" in line)
        token = next(line.strip() for line in log_lines[at + 1 :] if line.strip())
        found = httpx.post(
            f"{hub.base_url}/graphql",
            json={"query": FIND_OLENA},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert "errors" not in found, found
        assert len(found["data"]["personSearch"]) == 1, found

        # the operator's commands find the embedded servers by themselves (no exports)
        status = hub_command(hub, "status", "--json")
        assert status.returncode == 0, status.stdout + status.stderr
        report = json.loads(status.stdout)
        assert report["relays"], report
        assert all(r["behind"] == 0 for r in report["relays"]), report
        assert (tmp_path / "home" / "servers.json").exists()

        assert hub.interrupt() == 0
        assert not (tmp_path / "home" / "servers.json").exists()
        log = hub.log.read_text()
        assert "stopped" in log
        assert "Traceback" not in log


def test_a_case_runs_from_intake_to_withdrawal_across_processes(
    shared_hub: RunningHub,
) -> None:
    from tests.integration.case_flow import (
        ACCEPT,
        GOAL,
        GRANT,
        INBOX,
        OPEN_CASE,
        REFER,
        WITHDRAW,
        purpose_header,
    )
    from tests.integration.case_flow import TIMELINE as CASE_TIMELINE

    hub = shared_hub  # up (wait_until_up); it is stopped and checked after the module

    def as_(role: str, agency: str, subject: str) -> dict[str, str]:
        return {
            "Authorization": "Bearer "
            + issue_token(
                TEST_JWT_SECRET, subject=subject, agency=agency, role=role, issuer="integration-hub"
            )
        }

    manager = as_("case_manager", "kim-05315", "cm-anna")
    # the partner reads under the consent, for the purpose it names
    partner = {**as_("partner_agency", "awo-05315", "awo-ben"), **purpose_header("referral")}

    def run(query: str, variables: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        response = httpx.post(
            f"{hub.base_url}/graphql",
            headers=headers,
            timeout=30,
            json={"query": query, "variables": variables},
        )
        body = response.json()
        assert "errors" not in body, body
        data = body["data"]
        assert isinstance(data, dict)
        return data

    opened = run(
        OPEN_CASE,
        {
            "input": {
                "givenNames": "Amir",
                "familyName": "Haddad",
                "targetGroup": "newly_arrived",
                "legalSpheres": ["sgb_ii"],
                "intakeSource": "jobcenter",
            }
        },
        manager,
    )["openCase"]
    consent = run(
        GRANT,
        {
            "input": {
                "caseId": opened["caseId"],
                "recipients": ["awo-05315"],
                "categories": ["case_basic", "work"],
                "purposes": ["referral"],
                "validUntil": (today_in_germany() + timedelta(days=365)).isoformat(),
            }
        },
        manager,
    )["grantConsent"]
    sent = run(
        REFER,
        {
            "input": {
                "caseId": opened["caseId"],
                "toAgency": "awo-05315",
                "service": "job coaching",
                "consentId": consent["consentId"],
                "sharedCategories": ["case_basic", "work"],
                "purpose": "referral",
            }
        },
        manager,
    )["sendReferral"]

    inbox = run(INBOX, {"atLeast": sent["position"]}, partner)["referralInbox"]
    assert [r["id"] for r in inbox] == [sent["referralId"]]
    accepted = run(ACCEPT, {"input": {"referralId": sent["referralId"]}}, partner)
    assert accepted["acceptReferral"]["position"]

    run(WITHDRAW, {"input": {"consentId": consent["consentId"]}}, manager)
    goal = run(
        GOAL,
        {
            "input": {
                "caseId": opened["caseId"],
                "domain": "work",
                "description": "Praktikum finden",
                "targetDate": (today_in_germany() + timedelta(days=400)).isoformat(),
            }
        },
        manager,
    )["agreeGoal"]
    seen = run(CASE_TIMELINE, {"id": opened["personId"], "atLeast": goal["position"]}, partner)[
        "person"
    ]["timeline"]
    assert [e["eventType"].split(".")[2] for e in seen] == ["consent_granted", "consent_withdrawn"]


def test_gaps_and_escalations_reach_the_steering_group_across_processes(
    shared_hub: RunningHub,
) -> None:
    from tests.integration.test_conflicts_gateway import (
        ESCALATE,
        OUTCOME,
        REPORT,
        RESOLVE,
        SCHEDULE,
    )
    from tests.integration.test_steering_flow import GAP, GAPS

    hub = shared_hub  # up (wait_until_up); it is stopped and checked after the module

    def as_(role: str, agency: str) -> dict[str, str]:
        return {
            "Authorization": "Bearer "
            + issue_token(
                TEST_JWT_SECRET,
                subject=f"{role}-1",
                agency=agency,
                role=role,
                issuer="integration-hub",
            )
        }

    manager = as_("case_manager", "kim-05315")
    board = as_("conflict_board", "konfliktmanagement-05315")
    steering = as_("steering", "lenkungsgruppe-05315")

    def run(query: str, variables: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        body = httpx.post(
            f"{hub.base_url}/graphql",
            headers=headers,
            timeout=30,
            json={"query": query, "variables": variables},
        ).json()
        assert "errors" not in body, body
        data = body["data"]
        assert isinstance(data, dict)
        return data

    def eventually(query: str, pick: Any) -> Any:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = pick(run(query, {}, steering))
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"never arrived: {query}")

    gap = run(
        GAP,
        {
            "input": {
                "category": "missing_offer",
                "description": "Es fehlen Beratungsangebote für Familien in"
                " Porz; mehrere Fälle bleiben deshalb offen.",
                "affectedCount": 9,
            }
        },
        manager,
    )["reportSystemicGap"]
    eventually(GAPS, lambda d: [g for g in d["steering"]["gaps"] if g["id"] == gap["gapId"]])
    run(
        "mutation($i: TriageGapInput!) { triageGap(input: $i) { position } }",
        {"i": {"gapId": gap["gapId"], "priority": "medium", "owner": "Sozialdezernat"}},
        steering,
    )
    measure = run(
        "mutation($i: DecideMeasureInput!) { decideMeasure(input: $i) { position } }",
        {
            "i": {
                "gapId": gap["gapId"],
                "title": "Familienberatung in Porz",
                "owner": "Jugendamt",
                "due": (today_in_germany() + timedelta(days=90)).isoformat(),
            }
        },
        steering,
    )["decideMeasure"]
    goal = run(
        "mutation($i: DefineGoalInput!) { defineIntegrationGoal(input: $i) { goalId } }",
        {
            "i": {
                "fieldOfAction": "social_cohesion",
                "goal": "Mehr Familien beraten",
                "indicator": "Beratene Familien pro Quartal",
                "unit": "Familien",
                "baseline": 20,
                "target": 50,
                "due": (today_in_germany() + timedelta(days=365)).isoformat(),
            }
        },
        steering,
    )["defineIntegrationGoal"]
    recorded = run(
        "mutation($i: RecordIndicatorValueInput!) { recordIndicatorValue(input: $i) { position } }",
        {"i": {"goalId": goal["goalId"], "period": "2026-Q4", "value": 24}},
        steering,
    )["recordIndicatorValue"]
    view = run(
        "query($p: String) { steering { gaps(atLeast: $p) { id status measures"
        " { title } } goals(atLeast: $p) { values { value } } } }",
        {"p": recorded["position"]},
        steering,
    )["steering"]
    assert next(g for g in view["gaps"] if g["id"] == gap["gapId"])["measures"] == [
        {"title": "Familienberatung in Porz"}
    ]
    assert view["goals"][0]["values"] == [{"value": 24.0}]
    assert measure["position"]

    conflict = run(
        REPORT,
        {
            "input": {
                "kind": "neighbourhood",
                "district": "Köln-Porz",
                "stage": 4,
                "parties": [
                    {"type": "group", "name": "Anwohnende"},
                    {"type": "organisation", "name": "Sportverein"},
                ],
                "description": "Streit um die Nutzung des Sportplatzes am Abend.",
            }
        },
        board,
    )["reportConflict"]["conflictId"]
    run(
        ESCALATE,
        {
            "input": {
                "conflictId": conflict,
                "toStage": 6,
                "toBody": "steering_group",
                "reason": "Sachbeschädigungen, Polizei mehrfach vor Ort",
            }
        },
        board,
    )
    eventually(
        "{ steering { escalations { conflictId } } }",
        lambda d: [e for e in d["steering"]["escalations"] if e["conflictId"] == conflict],
    )
    scheduled = run(
        SCHEDULE,
        {
            "input": {
                "conflictId": conflict,
                "format": "moderation",
                "scheduledFor": today_in_germany().isoformat(),
                "facilitator": "Quartiersbüro Porz",
            }
        },
        board,
    )["scheduleIntervention"]
    run(
        OUTCOME,
        {
            "input": {
                "conflictId": conflict,
                "interventionId": scheduled["interventionId"],
                "outcome": "held",
                "stageAfter": 3,
            }
        },
        board,
    )
    run(
        RESOLVE,
        {
            "input": {
                "conflictId": conflict,
                "outcome": "agreement",
                "lessons": "Nutzungszeiten gemeinsam festlegen.",
            }
        },
        board,
    )
