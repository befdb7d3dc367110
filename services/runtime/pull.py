"""Reading a JetStream pull consumer without nats-py's ``fetch``.

nats-py's ``fetch(batch)`` makes a task and a timer for every message it waits for and parses
each message's full metadata. :class:`PullWindow` instead keeps pull requests for up to
``window`` messages outstanding on one inbox of its own: one subscription, whose callback
queues each message and decodes it as it arrives (while the consumer loop waits for the
database to write the batch before). The stream sequence is read from the reply subject
(``projection_base.stream_sequence``); acks, naks and terms go to the message's reply subject
as always (``Msg.ack`` and friends).

Two ways to ask:

- ``follow=False`` (the rebuild's replay): only for messages the consumer has pending
  (``available``), so every request is filled at once. A request that ends short (any status:
  it expired, the consumer went away) means the stream changed under it: the window stalls
  and its owner starts over at its cursor.
- ``follow=True`` (the live projector): requests wait on the server for new messages and
  expire after ``expires`` seconds; the server's 408 then says how many messages of the
  request were not used, and the window asks for them again. Anything else a request ends
  with (409: consumer deleted, leadership change, too many waiting requests) stalls the
  window, and so does a reconnect of the connection since the requests were sent (the server
  restarted or the connection dropped: either way it no longer knows them), and so does
  silence: requests still counted when they should have expired long ago (``grace``) were
  forgotten by the server, so the owner starts over.

The owner waits in :meth:`take` on an event the callback sets: no polling while idle beyond
one request and its expiry every ``expires`` seconds, and a stop (the owner cancels
``take``) is noticed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from nats.aio.msg import Msg
from nats.js import JetStreamContext

__all__ = ["PullWindow"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: the status of a pull request that expired (headers: how many of its messages were unused)
REQUEST_TIMEOUT = "408"
#: an idle heartbeat (not asked for here, ignored if it comes)
HEARTBEAT = "100"
PENDING_MESSAGES = "Nats-Pending-Messages"


class PullWindow(Generic[T]):
    """Pull requests kept outstanding on one inbox, the messages queued and decoded as they
    arrive (see the module docstring)."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        durable: str,
        *,
        batch_size: int,
        window: int,
        follow: bool,
        expires: float,
        decode: Callable[[Msg], T],
        grace: float = 5.0,
        linger: float = 0.0,
    ) -> None:
        self.js = js
        self.stream = stream
        self.durable = durable
        self.batch_size = batch_size
        self.window = max(window, batch_size)
        self.follow = follow
        self.expires = expires
        self.grace = grace
        #: when the first message of an empty queue ends a wait shorter than this, wait
        #: this long for more before handing it out (0: hand it out at once). A short wait
        #: means messages are flowing: a larger batch then saves each commit's fixed cost.
        #: After a longer wait (a quiet stream) the message is handed out at once, so
        #: lingering never delays an event that came alone.
        self.linger = linger
        self._decode = decode
        self.queue: deque[Msg] = deque()
        self.decoded: dict[int, T] = {}  # by id() of the queued message
        self.stalled = False
        #: messages pending on the consumer not yet asked for (``follow=False``)
        self.available = 0
        self._credit = 0  # messages asked for and not yet received or expired
        self._deadline = 0.0  # ``follow``: by then every outstanding request has ended
        self._reconnects = 0  # the connection's reconnects when the last request was sent
        self._arrived = asyncio.Event()
        self._sub: Any = None
        self._inbox = ""

    @property
    def credit(self) -> int:
        """Messages asked for and not yet received (nor given up by an expired request)."""
        return self._credit

    @property
    def is_open(self) -> bool:
        return self._sub is not None

    @property
    def _next_subject(self) -> str:
        prefix = getattr(self.js, "_prefix", "$JS.API")
        return f"{prefix}.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}"

    async def open(self, available: int = 0) -> None:
        """Start over on a new inbox (what the old one still receives is dropped)."""
        await self.close()
        self.available = available
        nc = self.js._nc
        self._inbox = inbox = nc.new_inbox()

        async def received(msg: Msg) -> None:
            if inbox == self._inbox:  # else a message to an inbox since closed
                self._received(msg)

        self._sub = await nc.subscribe(inbox, cb=received)

    async def close(self) -> None:
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        self.queue.clear()
        self.decoded.clear()
        self._credit = self.available = 0
        self._deadline = 0.0
        self.stalled = False
        self._inbox = ""

    def _received(self, msg: Msg) -> None:
        headers = msg.headers
        status = headers.get("Status") if headers and not msg.data else None
        if status is None:
            self._credit -= 1
            self.queue.append(msg)
            self.decoded[id(msg)] = self._decode(msg)
        elif status == HEARTBEAT:
            return
        elif self.follow and status == REQUEST_TIMEOUT:
            unused = int((headers or {}).get(PENDING_MESSAGES) or 0)
            self._credit = max(0, self._credit - unused)
        else:
            log.warning(
                "%s: pull request ended: %s %s",
                self.durable,
                status,
                (headers or {}).get("Description", ""),
            )
            self.stalled = True
        self._arrived.set()

    async def request(self) -> None:
        """Ask for more messages, keeping up to ``window`` asked for or queued."""
        if self._sub is None or self.stalled:
            return
        room = self.window - self._credit - len(self.queue)
        if self.follow:
            want = room
            if want < max(self.window // 2, 1):
                return
            self._deadline = time.monotonic() + self.expires + self.grace
        else:
            want = min(room, self.available)
            if want <= 0 or want < min(self.batch_size, self.available):
                return
            self.available -= want
        self._credit += want
        self._reconnects = self._reconnect_count()
        body = json.dumps({"batch": want, "expires": int(self.expires * 1e9)})
        await self.js._nc.publish(self._next_subject, body.encode(), reply=self._inbox)

    def _reconnect_count(self) -> int:
        stats = getattr(self.js._nc, "stats", None) or {}
        return int(stats.get("reconnects", 0))

    def _forgotten(self) -> bool:
        """Requests the server no longer knows: the connection reconnected since they were
        sent, or they are still counted long after they should have ended (unless their
        answers are still waiting in the subscription's queue)."""
        if not (self.follow and self._credit > 0):
            return False
        if self._reconnect_count() != self._reconnects:
            return True
        return time.monotonic() > self._deadline and not (
            self._sub is not None and self._sub.pending_msgs
        )

    async def take(self, timeout: float) -> list[Msg]:
        """Up to ``batch_size`` queued messages, waiting up to ``timeout`` for the first;
        ``[]`` when none came (or the window stalled: see :attr:`stalled`)."""
        await self.request()
        if not self.queue:
            if self.stalled or (not self.follow and not self._credit):
                return []
            if self._forgotten():
                log.warning(
                    "%s: pull requests lost (reconnected, or unanswered); starting over",
                    self.durable,
                )
                self.stalled = True
                return []
            self._arrived.clear()
            waiting_since = time.monotonic()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
            if not self.queue:
                return []
            if (
                self.linger > 0
                and len(self.queue) < self.batch_size
                and time.monotonic() - waiting_since < self.linger
            ):
                await asyncio.sleep(self.linger)
        n = min(self.batch_size, len(self.queue))
        msgs = [self.queue.popleft() for _ in range(n)]
        await self.request()
        return msgs

    def pop_decoded(self, msg: Msg) -> T | None:
        """What ``msg`` was decoded to when it arrived (once), or None."""
        return self.decoded.pop(id(msg), None)
