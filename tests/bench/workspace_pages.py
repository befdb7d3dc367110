"""Server time to render each page of the workspace on the demo data (``make up``).

    .venv/bin/python -m tests.bench.workspace_pages --url http://127.0.0.1:8000 --rounds 50

Signs in as each demo user, finds a case and a person on the pages themselves, then requests
every page ``rounds`` times one after another and prints p50, p95 and max per page (wall time
of the request on this machine's loopback: the server's rendering plus a little transport).
"""

from __future__ import annotations

import argparse
import re
import statistics
import time

import httpx


def _timed(client: httpx.Client, path: str, rounds: int) -> list[float]:
    client.get(path)  # warm: templates compiled, documents parsed and cached
    times: list[float] = []
    while len(times) < rounds:
        started = time.perf_counter()
        response = client.get(path)
        took = (time.perf_counter() - started) * 1000
        if response.status_code == 429:  # the hub's rate limit (20/s per user): wait, repeat
            time.sleep(float(response.headers.get("retry-after", "1")))
            continue
        if response.status_code != 200:
            raise SystemExit(f"{path}: HTTP {response.status_code}")
        times.append(took)
    return times


def _signed_in(url: str, user: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    response = client.post("/anmelden", data={"benutzer": user})
    if response.status_code != 303:
        raise SystemExit(f"sign-in as {user}: HTTP {response.status_code}")
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    pages: list[tuple[str, str]] = [
        ("fallmanagement", "/faelle"),
        ("fallmanagement", "/faelle/neu"),
    ]
    client = _signed_in(args.url, "fallmanagement")
    case = re.search(r'href="/faelle/([0-9a-f-]{36})"', client.get("/faelle").text)
    client.close()
    if case:
        pages += [
            ("fallmanagement", f"/faelle/{case.group(1)}"),
            ("fallmanagement", f"/faelle/{case.group(1)}?zweck=referral"),
            ("fallmanagement", f"/faelle/{case.group(1)}/einwilligung"),
            ("fallmanagement", f"/faelle/{case.group(1)}/ueberweisung"),
        ]
    pages += [("awo", "/eingang"), ("awo", "/eingang?zweck=referral"), ("abh", "/personen")]
    client = _signed_in(args.url, "abh")
    person = re.search(r'href="/personen/([0-9a-f-]{36})"', client.get("/personen").text)
    client.close()
    if person:
        pages.append(("abh", f"/personen/{person.group(1)}"))
        pages.append(("abh", f"/personen/{person.group(1)}/verlauf"))
    pages.append(("abh", "/personen/suche?gemeinde=05315000"))
    pages.append(("konfliktmanagement", "/konflikte"))
    client = _signed_in(args.url, "konfliktmanagement")
    conflict = re.search(r'href="/konflikte/([0-9a-f-]{36})"', client.get("/konflikte").text)
    client.close()
    if conflict:
        pages.append(("konfliktmanagement", f"/konflikte/{conflict.group(1)}"))
    pages += [("lenkungsgruppe", "/steuerung"), ("lenkungsgruppe", "/steuerung/luecken")]
    client = _signed_in(args.url, "lenkungsgruppe")
    gap = re.search(
        r'href="/steuerung/luecken/([0-9a-f-]{36})"', client.get("/steuerung/luecken").text
    )
    client.close()
    if gap:
        pages.append(("lenkungsgruppe", f"/steuerung/luecken/{gap.group(1)}"))
    pages.append(("datenschutz", "/datenschutz"))
    if person:
        pages.append(("datenschutz", f"/datenschutz/auskunft?person={person.group(1)}"))
    pages.append(("", "/anmelden"))

    print(f"{'page':<58} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    worst = 0.0
    clients: dict[str, httpx.Client] = {}
    for user, path in pages:
        if user not in clients:
            clients[user] = _signed_in(args.url, user) if user else httpx.Client(base_url=args.url)
        times = sorted(_timed(clients[user], path, args.rounds))
        p95 = times[min(len(times) - 1, round(0.95 * len(times)) - 1)]
        worst = max(worst, p95)
        shown = re.sub(r"[0-9a-f-]{36}", "<id>", path)
        print(
            f"{(user + ' ' + shown).strip():<58} {statistics.median(times):8.1f} "
            f"{p95:8.1f} {times[-1]:8.1f}"
        )
    for client in clients.values():
        client.close()
    print(f"worst p95: {worst:.1f} ms ({'under' if worst < 300 else 'OVER'} the 300 ms aim)")


if __name__ == "__main__":
    main()
