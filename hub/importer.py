"""``hub import FILE``: a bulk import through the inbound interface's batch form.

Reads an NDJSON file of inbound messages (docs/foreigners-authority.md) and sends it in
batches to ``POST /inbound/batches``, with a progress bar on stderr; prints the receipts'
counts and the rate at the end. Exits 1 if any message was rejected, 2 if the import could
not run. A second run is safe: what was stored already comes back as ``duplicate``.

**References to new persons.** The hub gives a new person's id in the receipt of the
``new_person`` notice, so a file of existing files cannot hold it. A message of the file may
name its person by the ``messageId`` of that notice instead: ``"personRef": "<messageId>"`` in
place of ``personId`` (in the envelope, or in the body of an ``address_change``). The importer
holds such messages back until the notice's receipt gives the person id, keeps each person's
messages in their order, and sends them with the id filled in. A message whose notice was
rejected (or is not in the file) is rejected here (code ``unresolved_reference``) and sent
nowhere.

``hub import --generate N FILE`` writes a synthetic file of N persons' paths (the demo's
archetypes, services/foreigners_authority/inbound/synthetic.py), with such references.
"""

from __future__ import annotations

import json
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO

import httpx

#: how many lines waiting for a reference may be read ahead, in batches
LOOKAHEAD_BATCHES = 4
#: pauses (seconds) before sending a batch again after a transient failure
RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0)
NEW_PERSON_EVENTS = 3  # a new person's file opens with three events; every other message one


@dataclass
class Line:
    number: int
    text: str
    message_id: str | None = None
    ref: str | None = None  # the personRef to fill in
    in_body: bool = False  # the reference is in the body (address_change)
    new_person: bool = False
    #: why the line is refused here, never sent (not UTF-8, not JSON, too large): the codes of
    #: the endpoint's own refusals, so that a batch of only such lines cannot stop the import
    refused: dict[str, str] | None = None


@dataclass
class ImportResult:
    counts: dict[str, int] = field(default_factory=dict)
    events: int = 0
    seconds: float = 0.0
    rejections: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0  # batches sent again after a transient failure

    @property
    def messages(self) -> int:
        return sum(self.counts.values())

    def count(self, status: str) -> None:
        self.counts[status] = self.counts.get(status, 0) + 1


def _refusal(code: str, message: str) -> dict[str, str]:
    return {"field": "message", "code": code, "message": message}


def _parse(number: int, raw: bytes, max_bytes: int) -> Line:
    if len(raw) > max_bytes:
        return Line(
            number,
            "",
            refused=_refusal("too_large", f"a message is at most {max_bytes} bytes"),
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Line(
            number,
            "",
            refused=_refusal("not_utf8", f"the line is not UTF-8 text (byte {error.start + 1})"),
        )
    line = Line(number, text)
    try:
        data = json.loads(text)
    except ValueError:
        line.refused = _refusal("invalid_json", "the message is not valid JSON")
        return line
    if not isinstance(data, dict):
        return line  # the endpoint rejects it, with the reason
    message_id = data.get("messageId")
    line.message_id = message_id if isinstance(message_id, str) else None
    body = data.get("body")
    line.new_person = isinstance(body, dict) and body.get("kind") == "new_person"
    if isinstance(data.get("personRef"), str):
        line.ref = data["personRef"]
    elif isinstance(body, dict) and isinstance(body.get("personRef"), str):
        line.ref, line.in_body = body["personRef"], True
    return line


def _resolved(line: Line, person_id: str) -> str:
    data = json.loads(line.text)
    target = data["body"] if line.in_body else data
    del target["personRef"]
    target["personId"] = person_id
    return json.dumps(data, ensure_ascii=False)


def read_lines(path: Path) -> Iterator[Line]:
    """The file's non-empty lines, each decoded on its own: a line that is not UTF-8 is
    refused with its number, and the others go on."""
    from services.foreigners_authority.inbound.limits import MAX_BYTES

    with path.open("rb") as source:
        for number, raw in enumerate(source, 1):
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark is no message
            raw = raw.rstrip(b"\r\n")
            if raw.strip():
                yield _parse(number, raw, MAX_BYTES)


class Progress:
    """A progress bar on stderr (only on a terminal unless forced)."""

    def __init__(
        self, total: int, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self.total = max(total, 1)
        stream = stream or sys.stderr
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.started = time.perf_counter()

    def update(self, done: int, counts: dict[str, int]) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / self.total)
        rate = done / max(time.perf_counter() - self.started, 1e-9)
        summary = " ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        self.stream.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total}"
            f" {rate:,.0f} msg/s {summary}   "
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class Importer:
    """Sends lines in batches, holding back those whose person is not yet known."""

    def __init__(self, client: httpx.Client, batch_size: int) -> None:
        self.client = client
        self.batch_size = batch_size
        self.persons: dict[str, str] = {}  # messageId of a new_person -> person id
        self.failed: set[str] = set()  # messageIds of new_person notices rejected
        self.result = ImportResult()

    def _post(self, body: bytes) -> httpx.Response:
        """Post a batch; a transient failure (no connection, a timeout, 502/503/504) is
        retried with growing pauses: sending a batch again is safe, what was stored of it
        comes back as ``duplicate``."""
        for pause in (*RETRY_PAUSES, None):
            try:
                response = self.client.post(
                    "/inbound/batches",
                    content=body,
                    headers={"Content-Type": "application/x-ndjson"},
                )
            except httpx.TransportError:
                if pause is None:
                    raise
            else:
                if response.status_code not in (502, 503, 504) or pause is None:
                    return response
            self.result.retries += 1
            time.sleep(pause)
        raise AssertionError("unreachable")

    def _send(self, batch: list[tuple[Line, str]]) -> None:
        body = "".join(text + "\n" for _, text in batch).encode()
        response = self._post(body)
        if response.status_code == 413 and len(batch) > 1:
            # over the endpoint's limits (HUB_INBOUND_BATCH_MAX, _BYTES): nothing of it was
            # stored; send it in halves, and smaller batches from now on
            self.batch_size = max(1, len(batch) // 2)
            self._send(batch[: len(batch) // 2])
            self._send(batch[len(batch) // 2 :])
            return
        if response.status_code != 200:
            raise ImportFailed(
                f"the endpoint refused a batch: {response.status_code} {response.text}"
            )
        receipts = [json.loads(text) for text in response.text.splitlines() if text.strip()]
        if len(receipts) != len(batch):
            raise ImportFailed(f"{len(batch)} messages sent, {len(receipts)} receipts received")
        for (line, _), receipt in zip(batch, receipts, strict=True):
            status = str(receipt.get("status"))
            self.result.count(status)
            if line.new_person and line.message_id is not None:
                person = receipt.get("personId")
                if status in ("accepted", "duplicate") and isinstance(person, str):
                    self.persons[line.message_id] = person
                else:
                    self.failed.add(line.message_id)
            if status == "accepted":
                self.result.events += NEW_PERSON_EVENTS if line.new_person else 1
            elif status == "rejected":
                self._reject(line, receipt.get("errors") or [])

    def _reject(self, line: Line, errors: list[dict[str, Any]]) -> None:
        if len(self.result.rejections) < 20:
            self.result.rejections.append(
                {"line": line.number, "messageId": line.message_id, "errors": errors}
            )

    def run(self, lines: Iterable[Line], progress: Progress) -> ImportResult:
        started = time.perf_counter()
        source = iter(lines)
        held: deque[Line] = deque()
        exhausted = False
        lookahead = LOOKAHEAD_BATCHES * self.batch_size
        while True:
            batch: list[tuple[Line, str]] = []
            waiting: deque[Line] = deque()
            # first what was held back, in order, then new lines
            while held and len(batch) < self.batch_size:
                self._place(held.popleft(), batch, waiting)
            while not exhausted and len(batch) < self.batch_size and len(waiting) < lookahead:
                line = next(source, None)
                if line is None:
                    exhausted = True
                    break
                self._place(line, batch, waiting)
            held = waiting + held
            if not batch:
                if not held:
                    break
                # nothing sent can resolve them any more: their notices are not in the file
                # (or further on than the lookahead: a notice comes before its messages)
                for line in held:
                    self.result.count("rejected")
                    self._reject(line, [_unresolved(line)])
                held.clear()
                continue
            self._send(batch)
            progress.update(self.result.messages, self.result.counts)
        self.result.seconds = time.perf_counter() - started
        progress.close()
        return self.result

    def _place(self, line: Line, batch: list[tuple[Line, str]], waiting: deque[Line]) -> None:
        if line.refused is not None:
            self.result.count("rejected")
            self._reject(line, [line.refused])
        elif line.ref is None:
            batch.append((line, line.text))
        elif line.ref in self.persons:
            batch.append((line, _resolved(line, self.persons[line.ref])))
        elif line.ref in self.failed:
            self.result.count("rejected")
            self._reject(line, [_unresolved(line)])
        else:
            waiting.append(line)


def _unresolved(line: Line) -> dict[str, str]:
    return {
        "field": "body.personRef" if line.in_body else "personRef",
        "code": "unresolved_reference",
        "message": f"no new_person notice {line.ref!r} of this file was accepted",
    }


class ImportFailed(RuntimeError):
    """The import could not go on (the endpoint refused a batch, or is unreachable)."""


def import_file(
    path: Path,
    base_url: str,
    token: str,
    *,
    batch_size: int = 2000,
    progress: bool | None = None,
    stream: TextIO | None = None,
    transport: httpx.BaseTransport | None = None,
) -> ImportResult:
    total = sum(1 for _ in read_lines(path))
    bar = Progress(total, stream, progress)
    with httpx.Client(
        base_url=base_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=300,
        transport=transport,
    ) as client:
        return Importer(client, batch_size).run(read_lines(path), bar)


def report(result: ImportResult, out: TextIO | None = None) -> None:
    out = out or sys.stdout
    seconds = max(result.seconds, 1e-9)
    counts = ", ".join(
        f"{status} {result.counts.get(status, 0)}"
        for status in ("accepted", "duplicate", "rejected")
    )
    out.write(
        f"hub import: {result.messages} messages in {result.seconds:.2f} s: {counts}\n"
        f"  {result.messages / seconds:,.0f} messages/s,"
        f" {result.events / seconds:,.0f} events/s ({result.events} events stored)\n"
    )
    if result.retries:
        out.write(f"  {result.retries} batches sent again after a transient failure\n")
    for rejection in result.rejections:
        reasons = "; ".join(
            f"{e.get('field')}: {e.get('code')}: {e.get('message')}" for e in rejection["errors"]
        )
        named = f" ({rejection['messageId']})" if rejection["messageId"] else ""
        out.write(f"  line {rejection['line']}{named} rejected: {reasons}\n")
    rejected = result.counts.get("rejected", 0)
    if rejected > len(result.rejections):
        out.write(f"  … and {rejected - len(result.rejections)} more rejected\n")


def generate(
    path: Path,
    persons: int,
    *,
    today: date,
    sender: str = "abh-05315",
    seed: int = 20261121,
    prefix: str | None = None,
) -> int:
    """Write ``persons`` synthetic paths as NDJSON, with ``personRef``; returns the lines."""
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        for text in synthetic_lines(persons, today=today, sender=sender, seed=seed, prefix=prefix):
            out.write(text + "\n")
            lines += 1
    return lines


def synthetic_lines(
    persons: int,
    *,
    today: date,
    sender: str = "abh-05315",
    seed: int = 20261121,
    prefix: str | None = None,
) -> Iterator[str]:
    """``persons`` synthetic paths (the demo's archetypes), a message a line, each person's
    messages naming the person by ``personRef``; message ids begin with ``prefix``."""
    from services.foreigners_authority.inbound.synthetic import synthetic_paths

    prefix = prefix or f"import-{seed}"
    for synthetic in synthetic_paths(persons, seed=seed, today=today, sender=sender):
        first: str | None = None
        for message in synthetic.messages:
            message = {
                **message,
                "messageId": message["messageId"].replace("demo-", f"{prefix}-", 1),
            }
            if first is None:
                first = message["messageId"]
            if message.get("personId") == "{person}":
                del message["personId"]
                message["personRef"] = first
            yield json.dumps(message, ensure_ascii=False)


def import_texts(
    texts: Iterable[str], base_url: str, token: str, *, batch_size: int = 2000
) -> ImportResult:
    """Import messages held in memory (each a JSON text), as ``hub import`` a file's lines,
    without a progress bar."""
    from services.foreigners_authority.inbound.limits import MAX_BYTES

    lines = [_parse(number, text.encode(), MAX_BYTES) for number, text in enumerate(texts, 1)]
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=300
    ) as client:
        return Importer(client, batch_size).run(lines, Progress(len(lines), enabled=False))


def add_import_parser(sub: Any, bench: Any) -> None:
    """``hub import``'s arguments, and ``hub bench --import N`` (wired in hub/cli.py): the
    bench's own command runs unless ``--import`` is given."""
    run_bench = bench.get_default("func")

    def bench_or_import(args: Any, settings: Any) -> int:
        if args.import_arrivals:
            from hub.bench_import import run_import_benchmark

            return run_import_benchmark(args.import_arrivals, keep=args.keep)
        return int(run_bench(args, settings))

    bench.set_defaults(func=bench_or_import)
    bench.add_argument(
        "--import",
        dest="import_arrivals",
        type=int,
        metavar="N",
        help="instead: bulk import of N synthetic persons' paths (hub/bench_import.py)",
    )
    command = sub.add_parser(
        "import",
        help="bulk import of an NDJSON file of inbound messages (POST /inbound/batches)",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    command.add_argument("file", type=Path, help="NDJSON: one inbound message a line")
    command.add_argument(
        "--url", help="the inbound interface (default: http://HUB_INBOUND_HOST:HUB_INBOUND_PORT)"
    )
    who = command.add_mutually_exclusive_group()
    who.add_argument("--token", help="the sender's bearer token (default: $HUB_IMPORT_TOKEN)")
    who.add_argument(
        "--agency",
        help="issue a token for this authority with the hub's own secret (dev only,"
        " as hub token does)",
    )
    command.add_argument("--batch-size", type=int, default=2000, metavar="N")
    command.add_argument("--no-progress", action="store_true", help="no progress bar")
    command.add_argument(
        "--generate",
        type=int,
        metavar="N",
        help="instead: write N synthetic persons' paths to FILE (with personRef)",
    )
    command.add_argument("--seed", type=int, default=20261121, help="for --generate")
    command.add_argument("--sender", default="abh-05315", help="for --generate")
    command.set_defaults(func=run_import_command)


def run_import_command(args: Any, settings: Any) -> int:
    import os

    if args.generate is not None:
        from kernel.clock import today_in_germany

        lines = generate(
            args.file, args.generate, today=today_in_germany(), sender=args.sender, seed=args.seed
        )
        print(f"hub import: wrote {lines} messages of {args.generate} persons to {args.file}")
        return 0
    if not args.file.exists():
        print(f"hub import: no file {args.file}", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"hub import: {args.file} is not a file", file=sys.stderr)
        return 2
    if args.batch_size < 1:
        print("hub import: --batch-size must be at least 1", file=sys.stderr)
        return 2
    token = args.token or os.environ.get("HUB_IMPORT_TOKEN")
    if not token and args.agency:
        from gateway.auth import issue_token

        token = issue_token(
            settings.resolved_jwt_secret(),
            subject="hub-import",
            agency=args.agency,
            role="abh_officer",
            issuer=settings.jwt_issuer,
            ttl_seconds=12 * 3600,
        )
    if not token:
        print("hub import: give --token, $HUB_IMPORT_TOKEN or --agency", file=sys.stderr)
        return 2
    url = args.url or f"http://{settings.inbound_host}:{settings.inbound_port}"
    try:
        # a wrong address stops at once; an outage during the import is waited out (_post)
        httpx.get(f"{url}/inbound/healthz", timeout=10)
        result = import_file(
            args.file,
            url,
            token,
            batch_size=args.batch_size,
            progress=False if args.no_progress else None,
        )
    except httpx.TransportError as error:
        print(f"hub import: cannot reach the inbound interface at {url}: {error}", file=sys.stderr)
        return 2
    except (ImportFailed, httpx.HTTPError, OSError) as error:
        print(f"hub import: {error}", file=sys.stderr)
        return 2
    report(result)
    return 1 if result.counts.get("rejected") else 0
