"""The blind index's writer: a new file's tokens are written off the command's path.

A command that opens a residence file (``register_arrival``, an inbound ``new_person``, one by
one or in a batch) answers as soon as its events are stored; it only hands the file to this
writer (:meth:`IndexWriter.submit`, no I/O). A thread of the command server then writes the
tokens of every file waiting, many files in one statement (:meth:`SearchIndex.index`), after
a short ``linger`` that lets a burst of arrivals share it.

What stays as it was without the writer:

- **A search finds what was saved before it.** :meth:`IndexWriter.drain` writes everything
  waiting, in the searching thread, after waiting for a batch being written by another: a
  file is taken from the queue only by a thread holding the write lock, so once the drain
  holds it every file handed over before the search is in the table.
- **An erasure leaves no token.** :meth:`IndexWriter.forget` takes the write lock, drops the
  person's waiting file and deletes their tokens. A batch written meanwhile by another process
  (a replica, the index job) cannot outlive it either: the index statement locks the persons'
  vault rows ``FOR SHARE`` and writes only for those not erased, so the erasure's update of the
  row waits for the batch's commit (and the deletion that follows sees its rows), or the batch
  waits for the erasure's commit and then leaves the person out.
- **A transfer moves the tokens**, at once (:meth:`IndexWriter.move`), under the write lock, so a
  waiting file of that person gets the new authority and a batch in flight is committed first.
- **A lost write is repaired.** If the process dies with files still waiting, or a write
  fails, the command server's index job (``index_unindexed_files``, at start and every 10
  minutes) indexes every file without tokens.

Without :meth:`IndexWriter.start` (a bare application: tests, scripts, a bench's raw writer)
:meth:`IndexWriter.submit` writes at once in the caller's thread, as before the writer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar
from uuid import UUID

from services.foreigners_authority.search_index import Identity, SearchIndex
from services.runtime.vault import PersonalDataUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

#: most files one statement writes
BATCH = 500
#: how long the writer waits after the first waiting file for others to join its batch
LINGER_SECONDS = 0.02


@dataclass
class WriterStats:
    """What the writer did (for tests and benchmarks): files written, the statements that
    wrote them, the largest batch, the writes that failed (files left to the index job)."""

    files: int = 0
    batches: int = 0
    largest: int = 0
    failed: int = 0
    skipped: int = 0


class IndexWriter(Generic[T]):
    """Writes the tokens of opened files in batches, on a thread of its own.

    ``identity`` turns a waiting file (``T``: what the application hands over, its personal
    values still encrypted) into its :class:`Identity`; it runs on the writer's thread, so the
    decryption is off the command's path too."""

    def __init__(
        self,
        index: SearchIndex,
        identity: Callable[[UUID, T], Identity],
        *,
        batch: int = BATCH,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self.index = index
        self._identity = identity
        self.batch = batch
        self.linger = linger
        self.stats = WriterStats()
        #: person -> (holding authority, the file) handed over and not yet taken
        self._waiting: dict[UUID, tuple[str, T]] = {}
        self._cond = threading.Condition()
        #: held by whoever takes files from the queue and writes them, moves or forgets
        self._write_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    # -- the command's side -------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def submit(self, files: Sequence[tuple[UUID, str, T]]) -> None:
        """Hand over opened files (person, holding authority, file); no I/O while the writer
        runs. Without a running writer they are written now."""
        if not files:
            return
        if not self.running:
            with self._write_lock:
                self._write({p: (a, f) for p, a, f in files})
            return
        with self._cond:
            for person_id, authority, file in files:
                self._waiting[person_id] = (authority, file)
            self._cond.notify()

    def move(self, moves: Mapping[UUID, str]) -> None:
        """The files in ``moves`` are now held by the authority each maps to: a waiting file
        is written with it, the tokens in the table are moved now."""
        if not moves:
            return
        with self._write_lock:
            with self._cond:
                for person_id, authority in moves.items():
                    if person_id in self._waiting:
                        self._waiting[person_id] = (authority, self._waiting[person_id][1])
            self.index.move(moves)

    def forget(self, person_id: UUID) -> int:
        """The person's erasure: nothing waiting of theirs is written, their tokens are
        deleted. Returns how many tokens there were."""
        with self._write_lock:
            with self._cond:
                self._waiting.pop(person_id, None)
            return self.index.forget(person_id)

    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    # -- writing --------------------------------------------------------------------------
    def drain(self) -> int:
        """Write every file waiting now, in the caller's thread, after a batch in flight:
        afterwards each file handed over before the call is in the table (or, if the write
        failed, left to the index job). Returns how many files this call wrote."""
        done = 0
        with self._write_lock:
            while True:
                taken = self._take()
                if not taken:
                    return done
                done += self._write(taken)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the write lock (the index job writes under it, so its batches and the
        writer's never interleave in this process)."""
        with self._write_lock:
            yield

    def _take(self) -> dict[UUID, tuple[str, T]]:
        """Up to ``batch`` waiting files, out of the queue (only under the write lock)."""
        with self._cond:
            if len(self._waiting) <= self.batch:
                taken, self._waiting = self._waiting, {}
                return taken
            taken = {}
            for person_id in list(self._waiting)[: self.batch]:
                taken[person_id] = self._waiting.pop(person_id)
            return taken

    def _write(self, taken: Mapping[UUID, tuple[str, T]]) -> int:
        files: list[tuple[UUID, str, Identity]] = []
        for person_id, (authority, file) in taken.items():
            try:
                files.append((person_id, authority, self._identity(person_id, file)))
            except PersonalDataUnavailable:  # erased meanwhile: nothing to find
                self.stats.skipped += 1
            except Exception as error:  # the vault unreachable: left to the index job
                self.stats.failed += 1
                log.warning("search index: a file not indexed now (%s)", type(error).__name__)
        if not files:
            return 0
        try:
            self.index.index(files)
        except Exception as error:  # the events are stored; the index job catches up
            self.stats.failed += len(files)
            log.warning("search index: not updated now (%s)", type(error).__name__)
            return 0
        self.stats.files += len(files)
        self.stats.batches += 1
        self.stats.largest = max(self.stats.largest, len(files))
        return len(files)

    # -- the thread -----------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer's thread (the command server does, when it registers the search)."""
        if self.running:
            return
        self._stopping = False
        self._thread = threading.Thread(
            target=self._run, name="foreigners_authority-index-writer", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Write what is waiting and stop the thread."""
        thread = self._thread
        if thread is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify()
        thread.join(timeout)
        self._thread = None
        self.drain()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
            if self.linger > 0:  # let a burst share the statement
                first = time.monotonic()
                with self._cond:
                    while len(self._waiting) < self.batch and not self._stopping:
                        left = first + self.linger - time.monotonic()
                        if left <= 0:
                            break
                        self._cond.wait(left)
            try:
                with self._write_lock:
                    self._write(self._take())
            except Exception as error:  # never let the thread die: the job adds what it held
                log.warning("search index writer: a batch failed (%s)", type(error).__name__)
