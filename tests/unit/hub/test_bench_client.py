"""The benchmarks' load client against a real HTTP server on loopback: it reads what a
server may answer (a length, chunks, a close) and never sends a request twice."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable

import pytest

from hub import bench_client
from hub.bench_client import GraphQLLoad, ResponseError

Answer = Callable[[bytes], bytes]


async def _serve(
    answer: Answer, keep_alive: float = 60.0
) -> tuple[asyncio.Server, str, list[bytes]]:
    """A server that answers each request with ``answer(body)`` and closes a connection idle
    for ``keep_alive`` seconds; it records the requests."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), keep_alive)
                length = next(
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                body = await reader.readexactly(length)
                seen.append(head + body)
                writer.write(answer(body))
                await writer.drain()
                if b"connection: close" in answer(body).lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}", seen


@pytest.fixture
async def served() -> AsyncIterator[Callable[[Answer], object]]:
    servers: list[asyncio.Server] = []

    async def start(answer: Answer, keep_alive: float = 60.0) -> tuple[str, list[bytes]]:
        server, url, seen = await _serve(answer, keep_alive)
        servers.append(server)
        return url, seen

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def _echo(body: bytes, *, chunked: bool = False, close: bool = False) -> bytes:
    variables = json.loads(body)["variables"]
    payload = json.dumps({"data": variables}).encode()
    headers = [b"HTTP/1.1 200 OK", b"content-type: application/json"]
    if close:
        headers.append(b"Connection: close")
    if chunked:
        half = len(payload) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (payload[:half], payload[half:]))
        return b"\r\n".join([*headers, b"transfer-encoding: chunked", b"", chunks + b"0\r\n\r\n"])
    return b"\r\n".join([*headers, b"content-length: %d" % len(payload), b"", payload])


@pytest.mark.parametrize(
    "answer",
    [_echo, lambda b: _echo(b, chunked=True), lambda b: _echo(b, close=True)],
    ids=["length", "chunked", "close"],
)
async def test_each_operation_is_sent_once_and_its_own_answer_comes_back(
    served: Callable[[Answer], object], answer: Answer
) -> None:
    url, seen = await served(answer)  # type: ignore[misc]
    load = GraphQLLoad(url, "t0ken", size=4)
    try:
        answers = await asyncio.gather(*(load.execute("query { x }", {"n": n}) for n in range(50)))
    finally:
        load.close()
    assert [a["data"]["n"] for a in answers] == list(range(50))
    assert len(seen) == 50
    assert all(b"Authorization: Bearer t0ken" in request for request in seen)


async def test_a_body_that_is_not_json_is_a_clear_error(
    served: Callable[[Answer], object],
) -> None:
    url, _ = await served(  # type: ignore[misc]
        lambda _: b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 4\r\n\r\noops"
    )
    load = GraphQLLoad(url, "t", size=1)
    try:
        with pytest.raises(ResponseError, match="HTTP 502"):
            await load.execute("{ x }", {})
    finally:
        load.close()


async def test_a_connection_idle_longer_than_the_servers_keep_alive_is_not_reused(
    served: Callable[..., object], monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a server that closes a connection idle for 0.3 s (uvicorn's is 5 s)
    url, seen = await served(_echo, keep_alive=0.3)  # type: ignore[misc]
    monkeypatch.setattr(bench_client, "IDLE_SECONDS", 0.1)
    load = GraphQLLoad(url, "t", size=2)
    try:
        assert (await load.execute("{ x }", {"n": 1}))["data"] == {"n": 1}
        await asyncio.sleep(0.5)  # the server has closed the idle connection meanwhile
        # when the next operation is sent, then it goes out on a new connection
        assert (await load.execute("{ x }", {"n": 2}))["data"] == {"n": 2}
    finally:
        load.close()
    assert len(seen) == 2
