"""The ``hub`` command: run the hub, issue tokens, export contracts, rebuild projections,
show the pipeline's status and replay dead letters."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from hub import local_servers
from services.runtime.logs import configure_logging
from services.runtime.settings import HubSettings

#: how often an operator's command tries to reach the bus before it says it cannot
OPERATOR_ATTEMPTS = 3

log = logging.getLogger("hub")


def _process_name(args: argparse.Namespace) -> str:
    """The name ``hub up`` shows for this process (``case_management-relay``, ``gateway``)."""
    process: str = getattr(args, "process", None) or "hub"
    name: str | None = getattr(args, "name", None)
    return {"service": name, "relay": f"{name}-relay"}.get(process) or process


def _token(
    settings: HubSettings,
    *,
    subject: str,
    agency: str,
    role: str,
    ttl: int,
    purpose: str | None = None,
) -> str:
    from gateway.auth import issue_token

    return issue_token(
        settings.resolved_jwt_secret(),
        subject=subject,
        agency=agency,
        role=role,
        issuer=settings.jwt_issuer,
        ttl_seconds=ttl,
        purpose=purpose,
    )


def cmd_up(args: argparse.Namespace, settings: HubSettings) -> int:
    from hub.catalog import SERVICES
    from hub.supervisor import Supervisor, default_children

    if args.no_demo:
        settings = settings.model_copy(update={"demo": False})
    settings.resolved_jwt_secret()  # dev secrets: made once, before any process needs them
    settings.resolved_vault_master_key()
    settings.resolved_indicator_key()
    for name in [*SERVICES, "gateway"]:  # the gateway's opens replies sealed for it
        settings.resolved_sealing_key(name)

    def on_ready(base_url: str, env: dict[str, str]) -> None:
        token = _token(
            settings, subject="demo-officer", agency="abh-05315", role="abh_officer", ttl=12 * 3600
        )
        _rebuild_pending(settings, env)
        if settings.demo:
            manager = _token(
                settings,
                subject="demo-case-manager",
                agency="kim-05315",
                role="case_manager",
                ttl=3600,
            )
            _load_demo_once(
                env["HUB_POSTGRES_URL"],
                settings.database,
                base_url,
                token,
                manager,
                f"http://{settings.inbound_host}:{settings.inbound_port}",
            )
        case_manager = _token(
            settings,
            subject="demo-case-manager",
            agency="kim-05315",
            role="case_manager",
            ttl=12 * 3600,
        )
        partner = _token(
            settings, subject="demo-awo", agency="awo-05315", role="partner_agency", ttl=12 * 3600
        )
        admin_url = local_servers.without_password(env["HUB_POSTGRES_URL"])
        print(
            f"\n  Workspace (Arbeitsoberfläche): {base_url}/\n"
            f"  The hub is up: {base_url}/graphql (GraphiQL in the browser)\n"
            f"  Demo token (foreigners authority officer, 12 h):\n\n  {token}\n\n"
            f"  Case manager of the demo cases (kim-05315):\n\n  {case_manager}\n\n"
            f"  Partner agency (awo-05315):\n\n  {partner}\n\n"
            f"  Try: curl -s {base_url}/graphql -H 'Authorization: Bearer <token>' "
            "-H 'Content-Type: application/json' -d '{\"query\":\"{ __typename }\"}'\n"
            "  More tokens: .venv/bin/hub token --role case_manager --agency kim-05315\n"
            "  Reads under a person's consent name a purpose: add the header "
            "'Hub-Purpose: referral' (or hub token --purpose referral)\n"
            "  Operator commands (hub status, hub dlq, hub projections rebuild, ...) find these\n"
            "  servers by themselves while the hub runs; from another home or machine:\n"
            f"    export HUB_POSTGRES_URL='{admin_url}'\n"
            f"{_admin_password_hint(settings)}"
            f"    export HUB_NATS_URL='{env['HUB_NATS_URL']}'\n"
            "  Stop with Ctrl-C.\n",
            flush=True,
        )

    children = default_children(list(SERVICES), settings.gateway_workers)
    supervisor = Supervisor(settings, children=children, on_ready=on_ready)
    return supervisor.run()


def _rebuild_pending(settings: HubSettings, env: dict[str, str]) -> None:
    """Rebuild the read models whose schema version rose (projections.rebuild_pending), as
    the database administrator, beside the running projector; a failure is logged with the
    command that repeats it, and the hub stays up."""
    import asyncpg

    from projections.rebuild import rebuild_pending
    from projections.schema import pending_rebuilds
    from services.runtime.messaging import close, connect
    from services.runtime.service import database_url

    admin = settings.model_copy(
        update={"postgres_url": env["HUB_POSTGRES_URL"], "nats_url": env["HUB_NATS_URL"]}
    )

    async def run() -> None:
        pool = await asyncpg.create_pool(database_url(admin), min_size=1, max_size=4)
        try:
            if not await pending_rebuilds(pool):
                return
            nc = await connect(admin, "rebuild", user="projector")
            try:
                for report in await rebuild_pending(nc.jetstream(), pool):
                    log.info(
                        "rebuilt %s after its schema changed: %s rows, switched in %.2f s",
                        report.projection,
                        report.rows,
                        report.switch_s,
                    )
            finally:
                await close(nc)
        finally:
            await pool.close()

    try:
        asyncio.run(run())
    except Exception as error:
        log.error("rebuilding changed read models failed (%s): run hub projections rebuild", error)


def _admin_password_hint(settings: HubSettings) -> str:
    if settings.postgres_url:
        return ""  # the caller's own server and password
    secret = (settings.secrets_dir / "postgres-admin.password").resolve()
    return f'    export PGPASSWORD="$(cat {secret})"\n'


def cmd_provision(args: argparse.Namespace, settings: HubSettings) -> int:
    """Create what the processes may not, on the servers the environment names: the streams
    (``HUB_NATS_URL``, as the bus's admin user) and the database's schemas, tables and
    per-process roles (``HUB_POSTGRES_URL``, the database administrator's URL)."""
    from hub.database_setup import provision
    from hub.supervisor import provision_bus

    if not settings.nats_url and not settings.postgres_url:
        print("hub provision: set HUB_NATS_URL and/or HUB_POSTGRES_URL", file=sys.stderr)
        return 2
    if settings.nats_url:
        asyncio.run(provision_bus(settings))
        print("provisioned the streams")
    if settings.postgres_url:
        roles = provision(settings, settings.postgres_url)
        print(f"provisioned database {settings.database}: roles {', '.join(roles)}")
    return 0


def _load_demo_once(
    postgres_url: str,
    database: str,
    base_url: str,
    token: str,
    manager_token: str,
    inbound_url: str | None = None,
) -> None:
    import psycopg

    from hub.demo import load_board_and_steering, load_demo
    from services.runtime.database import with_database

    with psycopg.connect(with_database(postgres_url, database), autocommit=True) as conn:
        done = conn.execute(
            "SELECT 1 FROM public.hub_installation WHERE key = 'demo_loaded'"
        ).fetchone()
        if done:
            log.info("demo data already loaded")
            return
        count = load_demo(
            base_url,
            lambda abh: _token(
                HubSettings(), subject="demo-officer", agency=abh, role="abh_officer", ttl=3600
            ),
            manager_token,
            inbound_url,
        )
        synthetic = ""
        if inbound_url is not None:
            synthetic = _load_synthetic(inbound_url, token)
        load_board_and_steering(
            base_url,
            _token(
                HubSettings(),
                subject="demo-board",
                agency="konfliktmanagement-05315",
                role="conflict_board",
                ttl=3600,
            ),
            _token(
                HubSettings(),
                subject="demo-steering",
                agency="lenkungsgruppe-05315",
                role="steering",
                ttl=3600,
            ),
        )
        conn.execute(
            "INSERT INTO public.hub_installation (key, value) VALUES ('demo_loaded', %s)"
            " ON CONFLICT DO NOTHING",
            (str(count),),
        )
        log.info("loaded demo data: %s persons%s", count, synthetic)


def _load_synthetic(inbound_url: str, token: str, count: int = 200) -> str:
    """Synthetic paths through the foreigners authority's inbound interface."""
    import time

    import httpx

    from hub.importer import import_texts, synthetic_lines
    from kernel.clock import today_in_germany

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{inbound_url}/inbound/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    # in batches (POST /inbound/batches), as ``hub import`` sends a file: ~1,300 messages
    # in about 2 s instead of 16 s one by one
    lines = synthetic_lines(count, today=today_in_germany(), prefix="demo")
    receipts = import_texts(lines, inbound_url, token).counts
    return f" and {count} synthetic paths ({receipts.get('accepted', 0)} messages accepted)"


def cmd_token(args: argparse.Namespace, settings: HubSettings) -> int:
    try:
        print(
            _token(
                settings,
                subject=args.subject,
                agency=args.agency,
                role=args.role,
                ttl=args.ttl,
                purpose=args.purpose,
            )
        )
    except ValueError as error:
        print(f"hub token: {error}", file=sys.stderr)
        return 2
    return 0


def cmd_contracts_export(args: argparse.Namespace, settings: HubSettings) -> int:
    import json

    from pydantic import TypeAdapter

    from contracts.export import export_contracts
    from services.foreigners_authority.inbound.messages import InboundMessageForm

    paths = export_contracts(Path(args.directory))
    inbound = Path(args.directory) / "inbound" / "foreigners_authority.json"
    inbound.parent.mkdir(parents=True, exist_ok=True)
    schema = TypeAdapter(InboundMessageForm).json_schema(by_alias=True)
    inbound.write_text(json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {len(paths) + 1} files to {args.directory}")
    return 0


def cmd_rebuild(args: argparse.Namespace, settings: HubSettings) -> int:
    """Rebuild one read model (or every one) beside the live one and switch over."""
    import asyncpg

    from projections.rebuild import rebuild_many
    from projections.runner import PROJECTIONS
    from services.runtime.messaging import close, connect
    from services.runtime.service import database_url

    if args.all == (args.projection is not None):
        print("hub projections rebuild: name one read model or --all", file=sys.stderr)
        return 2
    known = [p.name for p in PROJECTIONS]
    names = known if args.all else [args.projection]
    if not set(names) <= set(known):
        print(f"hub projections rebuild: no read model {args.projection!r}", file=sys.stderr)
        return 2

    async def run() -> None:
        pool = await asyncpg.create_pool(database_url(settings), min_size=1, max_size=6)
        nc = await connect(settings, "rebuild", user="projector", first_attempts=OPERATOR_ATTEMPTS)
        try:
            # --all: every stream replayed once into every model that reads it, one switch
            for report in await rebuild_many(nc.jetstream(), pool, names):
                print(
                    f"rebuilt {report.projection}: {report.rows} rows, positions"
                    f" {report.positions}; switched in {report.switch_s:.2f} s"
                    " (the live projector waited for it)"
                )
        finally:
            await close(nc)
            await pool.close()

    asyncio.run(run())
    return 0


def _operator_connections(settings: HubSettings, name: str) -> Any:
    """The database (as its administrator, ``HUB_POSTGRES_URL``) and the bus (as its admin
    user, ``HUB_NATS_URL``) for the operator's commands."""
    import asyncpg

    from services.runtime.messaging import close, connect_admin
    from services.runtime.service import database_url

    @contextlib.asynccontextmanager
    async def opened() -> AsyncIterator[tuple[Any, Any]]:
        pool = await asyncpg.create_pool(database_url(settings), min_size=1, max_size=4)
        try:
            nc = await connect_admin(settings, name, first_attempts=OPERATOR_ATTEMPTS)
            try:
                yield pool, nc.jetstream()
            finally:
                await close(nc)
        finally:
            await pool.close()

    return opened()


def cmd_status(args: argparse.Namespace, settings: HubSettings) -> int:
    """Consumers' lag, relays against their event stores, dead letters, process health."""
    from hub.status import collect, render, render_json

    gateway = inbound = None
    if not args.no_health:
        gateway = args.gateway or f"http://{settings.gateway_host}:{settings.gateway_port}"
        inbound = args.inbound or f"http://{settings.inbound_host}:{settings.inbound_port}"

    async def run() -> int:
        import asyncpg

        from services.runtime.messaging import close, connect_admin
        from services.runtime.service import database_url

        pool = await asyncpg.create_pool(database_url(settings), min_size=1, max_size=4)
        try:
            try:  # an outage of the bus is what status is asked about: show the rest
                nc = await connect_admin(settings, "status", first_attempts=OPERATOR_ATTEMPTS)
            except Exception as error:
                if _unreachable(error) is None:
                    raise
                status = await collect(
                    None, pool, gateway, inbound, bus_error=str(error) or type(error).__name__
                )
            else:
                try:
                    status = await collect(nc.jetstream(), pool, gateway, inbound)
                finally:
                    await close(nc)
        finally:
            await pool.close()
        print(render_json(status) if args.json else render(status))
        return 0 if status.healthy else 1

    return asyncio.run(run())


def cmd_dlq(args: argparse.Namespace, settings: HubSettings) -> int:
    """List, show and replay dead letters (hub/dlq.py)."""
    import json

    from hub import dlq

    async def run() -> int:
        async with _operator_connections(settings, "dlq") as (pool, js):
            if args.action == "list":
                found = await dlq.letters(js, args.consumer)
                if args.json:
                    print(json.dumps([item.summary() for item in found], indent=2))
                else:
                    print(dlq.render_list(found))
                return 0
            if args.action == "show":
                try:
                    print(dlq.render_letter(await dlq.letter(js, args.id)))
                except LookupError as error:
                    print(f"hub dlq show: {error}", file=sys.stderr)
                    return 1
                return 0
            if args.all == (args.id is not None):
                print("hub dlq replay: name one letter or --all", file=sys.stderr)
                return 2
            try:
                chosen = (
                    await dlq.letters(js, args.consumer)
                    if args.all
                    else [await dlq.letter(js, args.id)]
                )
            except LookupError as error:
                print(f"hub dlq replay: {error}", file=sys.stderr)
                return 1
            outcomes = [await dlq.replay(js, pool, item) for item in chosen]
            for outcome in outcomes:
                print(f"{outcome.letter}  {outcome.consumer}  {outcome.result}")
            print(f"replayed {sum(o.replayed for o in outcomes)} of {len(outcomes)}")
            return 0 if all(o.replayed for o in outcomes) else 1

    return asyncio.run(run())


def cmd_audit_verify(args: argparse.Namespace, settings: HubSettings) -> int:
    """Check the audit log's hash chain; exit 1 if an entry was changed, inserted or deleted."""
    import asyncpg

    from gateway.audit import verify_chain
    from services.runtime.service import database_url

    async def run() -> int:
        conn = await asyncpg.connect(database_url(settings))
        try:
            report = await verify_chain(conn)
        finally:
            await conn.close()
        before = (
            f", {report.unchained} written before the chain existed" if report.unchained else ""
        )
        if report.intact:
            print(f"audit log intact: {report.entries} entries{before or ''}")
            return 0
        print(f"audit log BROKEN: {len(report.breaks)} problems in {report.entries} entries")
        for problem in report.breaks[:50]:
            print(f"  entry {problem}")
        return 1

    return asyncio.run(run())


def cmd_retention_run(args: argparse.Namespace, settings: HubSettings) -> int:
    """Erase what the retention rules make due today (with --dry-run: only report it)."""
    import datetime as dt

    import asyncpg

    from gateway import retention
    from gateway.erasure import ErasureCoordinator, ensure_tables
    from kernel.clock import today_in_germany
    from services.runtime.commands import CommandClient
    from services.runtime.messaging import close, connect
    from services.runtime.service import database_url

    try:
        today = dt.date.fromisoformat(args.today) if args.today else None
    except ValueError:
        print(
            f"hub retention run: --today {args.today!r} is not a date (YYYY-MM-DD)", file=sys.stderr
        )
        return 2
    try:
        rules = retention.load_rules(args.rules or settings.retention_rules)
    except (retention.RuleError, OSError, ValueError) as error:
        print(f"hub retention run: {error}", file=sys.stderr)
        return 2

    async def run() -> int:
        pool = await asyncpg.create_pool(database_url(settings), min_size=1, max_size=2)
        nc = None
        try:
            await ensure_tables(pool)
            coordinator = None
            if not args.dry_run:
                nc = await connect(
                    settings, "retention", user="gateway", first_attempts=OPERATOR_ATTEMPTS
                )
                coordinator = ErasureCoordinator(pool, CommandClient(nc))
            day = today or today_in_germany()
            outcomes = await retention.run(pool, rules, coordinator=coordinator, today=day)
            print(retention.report(outcomes, dry_run=args.dry_run, today=day))
            return 1 if any(o.pending for o in outcomes) else 0
        finally:
            if nc is not None:
                await close(nc)
            await pool.close()

    return asyncio.run(run())


def cmd_run(args: argparse.Namespace, settings: HubSettings) -> int:
    from services.runtime.service import stop_on_signals

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        from hub import processes

        if args.process == "service":
            await processes.run_service(args.name, settings, stop)
        elif args.process == "relay":
            await processes.run_relay(args.name, settings, stop)
        elif args.process == "projector":
            await processes.run_projector(settings, stop)
        elif args.process == "gateway":
            await processes.serve(settings, stop)

    factory = None
    if args.process == "gateway":
        from hub.processes import gateway_loop_factory

        factory = gateway_loop_factory()
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(main())
    return 0


def cmd_bench(args: argparse.Namespace, settings: HubSettings) -> int:
    if args.what == "scale":  # hub/bench_scale.py
        from hub.bench_scale import run_scale

        return run_scale(million=args.million, seconds=args.wrk_seconds, keep=args.keep)
    if args.what in ("reads", "rebuild"):  # hub/bench_reads.py
        from hub import bench_reads

        if args.what == "reads":
            return bench_reads.run_reads(
                million=args.million,
                seconds=args.wrk_seconds,
                keep=args.keep,
                gateway_workers=args.gateway_workers,
            )
        return bench_reads.run_rebuild(events=args.events, keep=args.keep)
    from hub.bench import run_benchmark

    return run_benchmark(
        arrivals=args.arrivals,
        keep=args.keep,
        quick=args.quick,
        rates=args.rate,
        seconds=args.seconds,
        json_path=args.json,
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hub", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the hub (embedded PostgreSQL and NATS unless given)")
    up.add_argument("--no-demo", action="store_true", help="do not load demo data")
    up.set_defaults(func=cmd_up)

    token = sub.add_parser("token", help="issue a bearer token")
    token.add_argument("--role", default="abh_officer")
    token.add_argument("--agency", default="abh-05315")
    token.add_argument("--subject", default="demo-user")
    token.add_argument("--ttl", type=int, default=8 * 3600, help="seconds")
    token.add_argument(
        "--purpose",
        default=None,
        help="bind the token to a purpose (kernel/purposes.py); reads under consent need one",
    )
    token.set_defaults(func=cmd_token)

    contracts = sub.add_parser("contracts", help="contract tools")
    csub = contracts.add_subparsers(dest="action", required=True)
    export = csub.add_parser("export", help="write JSON Schemas and the AsyncAPI document")
    export.add_argument("directory", nargs="?", default="exported/contracts")
    export.set_defaults(func=cmd_contracts_export)

    projections = sub.add_parser("projections", help="read-model tools")
    psub = projections.add_subparsers(dest="action", required=True)
    rebuild = psub.add_parser(
        "rebuild",
        help="rebuild a read model by replaying the streams (creates and swaps tables: run it"
        " with the administrator's HUB_POSTGRES_URL)",
    )
    rebuild.add_argument(
        "projection",
        nargs="?",
        help="timeline, case_views, pathway, conflicts or steering (projections/runner.py)",
    )
    rebuild.add_argument("--all", action="store_true", help="rebuild every read model")
    rebuild.set_defaults(func=cmd_rebuild, operator=True)

    status = sub.add_parser(
        "status",
        help="consumers' lag, relays against their event stores, dead letters, process health"
        " (as the database administrator and the bus's admin user)",
    )
    status.add_argument("--json", action="store_true", help="print JSON instead of tables")
    status.add_argument("--gateway", help="the gateway's base URL (default: HUB_GATEWAY_HOST/PORT)")
    status.add_argument(
        "--inbound", help="the inbound interface's base URL (default: HUB_INBOUND_HOST/PORT)"
    )
    status.add_argument("--no-health", action="store_true", help="do not ask the processes")
    status.set_defaults(func=cmd_status, operator=True)

    dlq = sub.add_parser("dlq", help="review and replay dead letters (hub.dlq.<consumer>)")
    dsub = dlq.add_subparsers(dest="action", required=True)
    dlq_list = dsub.add_parser("list", help="every dead letter, oldest first")
    dlq_list.add_argument("--consumer", help="only this consumer's")
    dlq_list.add_argument("--json", action="store_true")
    dlq_list.set_defaults(func=cmd_dlq, operator=True)
    dlq_show = dsub.add_parser("show", help="one letter: headers, envelope, field names")
    dlq_show.add_argument("id", type=int, help="its sequence in HUB_DEAD_LETTERS")
    dlq_show.set_defaults(func=cmd_dlq, operator=True)
    dlq_replay = dsub.add_parser(
        "replay", help="apply a letter through the projection that failed, once, and remove it"
    )
    dlq_replay.add_argument("id", type=int, nargs="?")
    dlq_replay.add_argument("--all", action="store_true", help="every letter (of --consumer)")
    dlq_replay.add_argument("--consumer", help="with --all: only this consumer's")
    dlq_replay.set_defaults(func=cmd_dlq, operator=True)

    audit = sub.add_parser("audit", help="audit log tools")
    asub = audit.add_subparsers(dest="action", required=True)
    verify = asub.add_parser("verify", help="check the audit log's hash chain")
    verify.set_defaults(func=cmd_audit_verify, operator=True)

    retention = sub.add_parser("retention", help="retention rules (docs/data-protection.md)")
    rsub = retention.add_subparsers(dest="action", required=True)
    retention_run = rsub.add_parser("run", help="erase what the retention rules make due")
    retention_run.add_argument(
        "--dry-run", action="store_true", help="only list what is due; erase nothing"
    )
    retention_run.add_argument("--rules", help="a TOML rules file (default: HUB_RETENTION_RULES)")
    retention_run.add_argument("--today", help="the day to run for (YYYY-MM-DD; default: today)")
    retention_run.set_defaults(func=cmd_retention_run, operator=True)

    bench = sub.add_parser("bench", help="pipeline benchmark on throwaway embedded servers")
    bench.add_argument(
        "what",
        nargs="?",
        choices=["pipeline", "reads", "rebuild", "scale"],
        default="pipeline",
        help="reads: timeline and indicators under wrk; rebuild: replay into every read model;"
        " scale: the reads on data brought in by the bulk import",
    )
    bench.add_argument("--arrivals", type=int, default=2000)
    bench.add_argument(
        "--million", action="store_true", help="reads, scale: also at 1,000,000 events"
    )
    bench.add_argument(
        "--wrk-seconds", type=int, default=10, help="reads, scale: seconds per wrk run"
    )
    bench.add_argument(
        "--gateway-workers",
        type=int,
        action="append",
        metavar="N",
        help="reads: N gateway processes on the port (HUB_GATEWAY_WORKERS); repeat it to"
        " measure several counts on the same data, e.g. --gateway-workers 1 --gateway-workers 2",
    )
    bench.add_argument("--events", type=int, default=100_000, help="rebuild: events to replay")
    bench.add_argument("--keep", action="store_true", help="keep the throwaway data directory")
    bench.add_argument("--quick", action="store_true", help="a short run (300 arrivals, 5 s)")
    bench.add_argument(
        "--rate",
        type=float,
        action="append",
        help="paced load: arrivals per second (repeat for several runs) instead of the burst",
    )
    bench.add_argument("--seconds", type=float, default=20.0, help="length of each paced run")
    bench.add_argument("--json", metavar="FILE", help="write the figures as JSON to FILE")
    bench.set_defaults(func=cmd_bench)

    from hub.importer import add_import_parser  # hub import, and hub bench --import N

    add_import_parser(sub, bench)

    provision = sub.add_parser(
        "provision",
        help="create the streams (as the bus's admin user) and the database's schemas, tables"
        " and per-process roles (as its administrator); hub up does it itself",
    )
    provision.set_defaults(func=cmd_provision)

    run = sub.add_parser("run", help="run one process (used by hub up)")
    run.add_argument("process", choices=["service", "relay", "projector", "gateway"])
    run.add_argument("name", nargs="?")
    run.set_defaults(func=cmd_run)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    settings = HubSettings()
    if getattr(args, "operator", False):  # the servers of a hub up on this machine, if unset
        settings = local_servers.with_running_hub(settings)
    configure_logging(_process_name(args), env=settings.env, level=settings.log_level)
    try:
        return int(args.func(args, settings))
    except KeyboardInterrupt:
        return 130
    except RuntimeError as error:
        print(f"hub: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        if not getattr(args, "operator", False) or not _unreachable(error):
            raise
        print(f"hub: {_unreachable(error)}", file=sys.stderr)
        return 1


def _unreachable(error: BaseException) -> str | None:
    """What an operator's command says when a server it needs cannot be reached or refuses
    it (instead of a traceback); None for any other error."""
    import asyncpg
    import nats.errors
    import psycopg

    from services.runtime.database import ASYNCPG_LOST

    if isinstance(error, nats.errors.Error):
        return f"cannot reach the bus (HUB_NATS_URL): {error or type(error).__name__}"
    if isinstance(error, (*ASYNCPG_LOST, asyncpg.PostgresError, psycopg.Error)):
        return f"the database refused (HUB_POSTGRES_URL): {error}"
    if isinstance(error, OSError):
        return f"cannot reach a server (HUB_POSTGRES_URL, HUB_NATS_URL): {error}"
    return None


if __name__ == "__main__":
    sys.exit(main())
