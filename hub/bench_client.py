"""The benchmarks' load client: GraphQL POSTs over keep-alive HTTP/1.1 connections, each
request sent as prepared bytes on a plain asyncio stream.

The load runs on the same two cores as the hub. A general-purpose client (httpx: its
connection pool, anyio streams, h11 parsing and header models) cost the burst about 7 ms of
CPU a request, a third of the machine, taken from the processes being measured. This one
writes the request line and headers prepared once per connection and parses only what a
response of the gateway needs (status, ``content-length`` or chunked, ``connection:
close``). A request is never sent twice: a connection that fails fails its request, and a
connection idle for ``IDLE_SECONDS`` is closed rather than reused, before the server's
keep-alive timeout (uvicorn's: 5 s) can close it under a request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

#: a connection idle this long is not reused (the gateway closes one idle for 5 s)
IDLE_SECONDS = 2.0


class ResponseError(RuntimeError):
    """The gateway answered with something other than a JSON body."""


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._head = head  # "POST ... HTTP/1.1" and the fixed headers, without a length
        self.open = True
        self.last_used = time.monotonic()

    @classmethod
    async def connect(cls, base_url: str, path: str, headers: dict[str, str]) -> Connection:
        url = urlsplit(base_url)
        if url.scheme != "http" or url.hostname is None:
            raise ValueError(f"the load client speaks plain http only, not {base_url}")
        port = url.port or 80
        reader, writer = await asyncio.open_connection(url.hostname, port)
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {url.hostname}:{port}",
            "Content-Type: application/json",
            "Accept: application/json",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        return cls(reader, writer, ("\r\n".join(lines) + "\r\n").encode())

    async def post(self, body: bytes) -> tuple[int, bytes]:
        """Send ``body``; the response's status and body."""
        if not self.open:
            raise ConnectionError("the connection is closed")
        try:
            self._writer.write(self._head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            return await self._response()
        except BaseException:
            self.close()
            raise
        finally:
            self.last_used = time.monotonic()

    async def _response(self) -> tuple[int, bytes]:
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].split(b"\r\n")
        status = int(status_line.split(b" ", 2)[1])
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip().lower()
        if b"content-length" in headers:
            body = await self._reader.readexactly(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding") == b"chunked":
            body = await self._chunked()
        else:  # the body runs to the end of the connection
            body = await self._reader.read()
            self.close()
        if headers.get(b"connection") == b"close":
            self.close()
        return status, body

    async def _chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";", 1)[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers from the gateway
                return b"".join(parts)
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    def close(self) -> None:
        if self.open:
            self.open = False
            self._writer.close()


class GraphQLLoad:
    """Up to ``size`` connections to ``base_url``'s ``/graphql``, opened as needed and reused;
    ``execute`` sends one operation on a free one."""

    def __init__(self, base_url: str, token: str, size: int) -> None:
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {token}"}
        self._free: list[Connection] = []
        self._slots = asyncio.Semaphore(size)
        self._all: list[Connection] = []

    async def execute(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The operation's answer (a dict with ``data`` and/or ``errors``)."""
        body = json.dumps({"query": query, "variables": variables}).encode()
        async with self._slots:
            connection = await self._take()
            status, raw = await connection.post(body)
            if connection.open:
                self._free.append(connection)
        try:
            answer = json.loads(raw)
        except ValueError:
            raise ResponseError(f"HTTP {status}: {raw[:200]!r}") from None
        if not isinstance(answer, dict):
            raise ResponseError(f"HTTP {status}: {raw[:200]!r}")
        return answer

    async def _take(self) -> Connection:
        """The most recently used free connection, unless it has been idle too long."""
        while self._free:
            connection = self._free.pop()
            if time.monotonic() - connection.last_used < IDLE_SECONDS:
                return connection
            connection.close()
        return await self._connect()

    async def _connect(self) -> Connection:
        connection = await Connection.connect(self.base_url, "/graphql", self.headers)
        self._all = [*(c for c in self._all if c.open), connection]
        return connection

    def close(self) -> None:
        for connection in self._all:
            connection.close()


@asynccontextmanager
async def graphql_load(base_url: str, token: str, size: int) -> AsyncIterator[GraphQLLoad]:
    load = GraphQLLoad(base_url, token, size)
    try:
        yield load
    finally:
        load.close()
