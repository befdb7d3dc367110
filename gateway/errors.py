"""One error style for the whole API: every GraphQL error carries ``extensions.code``.

Our own refusals (``HubError``) and the services' refusals carry their code already; the
schema gives the rest one too: a document that does not parse or validate gets
``invalid_query`` (``query_too_complex`` when it exceeds a size limit), a value that does not
fit its type gets ``invalid_input`` (with the input field at fault as ``field``), and an
unexpected failure, masked as "internal error", gets ``internal``. No message quotes an input
value, since it may be personal data. The codes are listed in docs/architecture.md ("Errors").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from graphql import GraphQLError

#: the answer to a request whose database went away meanwhile (a restart, a cut connection)
UNAVAILABLE = "the read models cannot be reached at the moment; try again shortly"
_VARIABLE = re.compile(r"^Variable '\$(\w+)' has invalid value(?: at \.?([\w.\[\]]+))?")
_REQUIRED = re.compile(r"required field '(\w+)'")
#: the limits of gateway/schema.py (tokens, depth, aliases) a document exceeds
_TOO_COMPLEX = re.compile(
    r"Document contains more than \d+ tokens|exceeds maximum operation depth|aliases found\."
)
_BAD_VALUE = ("cannot represent", "does not exist in", "Expected value of type")
#: parts of graphql-core's messages that echo the input (which may be personal data)
_ECHOES = (
    (re.compile(r",? found:? .*$", re.DOTALL), "."),
    (re.compile(r"(cannot represent [^:]*): .*$", re.DOTALL), r"\1."),
    (
        re.compile(r"^(.*)Value '.*' does not exist in '(\w+)' enum\.$", re.DOTALL),
        r"\1No such value in '\2'.",
    ),
)


def without_values(message: str) -> str:
    """``message`` without the input values graphql-core quotes in it."""
    for pattern, replacement in _ECHOES:
        message = pattern.sub(replacement, message)
    return message


def code_of(error: GraphQLError) -> tuple[str, str | None]:
    """The code (and field, where one is at fault) for an error that carries none."""
    if error.message == "internal error":
        return "internal", None
    if _TOO_COMPLEX.search(error.message):
        return "query_too_complex", None
    if error.message.startswith("GraphQL introspection has been disabled"):
        return "forbidden", None
    variable = _VARIABLE.match(error.message)
    if variable:
        required = _REQUIRED.search(error.message)
        field = required.group(1) if required else variable.group(2) or variable.group(1)
        return "invalid_input", field
    if any(marker in error.message for marker in _BAD_VALUE):
        return "invalid_input", None
    return "invalid_query", None


def add_codes(errors: Iterable[GraphQLError] | None) -> None:
    """Give every error that lacks one an ``extensions.code`` (and ``field``)."""
    for error in errors or ():
        extensions = error.extensions if error.extensions is not None else {}
        if "code" not in extensions:
            code, field = code_of(error)
            error.message = without_values(error.message)
            extensions["code"] = code
            if field:
                extensions["field"] = field
            error.extensions = extensions
