"""One error style for the whole API: every GraphQL error carries ``extensions.code``.

Our own refusals (``HubError``) and the services' refusals carry their code already; the
schema gives the rest one too: a document that does not parse or validate gets
``invalid_query``, a variable that does not fit its type gets ``invalid_input`` (with the
variable's name as ``field``), and an unexpected failure, masked as "internal error", gets
``internal``. The codes are listed in docs/architecture.md ("Errors").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from graphql import GraphQLError

_VARIABLE = re.compile(r"^Variable '\$(\w+)' has invalid value(?: at \.?([\w.\[\]]+))?")
_REQUIRED = re.compile(r"required field '(\w+)'")


def code_of(error: GraphQLError) -> tuple[str, str | None]:
    """The code (and field, where one is at fault) for an error that carries none."""
    if error.message == "internal error":
        return "internal", None
    variable = _VARIABLE.match(error.message)
    if variable:
        required = _REQUIRED.search(error.message)
        field = required.group(1) if required else variable.group(2) or variable.group(1)
        return "invalid_input", field
    return "invalid_query", None


def add_codes(errors: Iterable[GraphQLError] | None) -> None:
    """Give every error that lacks one an ``extensions.code`` (and ``field``)."""
    for error in errors or ():
        extensions = error.extensions if error.extensions is not None else {}
        if "code" not in extensions:
            code, field = code_of(error)
            extensions["code"] = code
            if field:
                extensions["field"] = field
            error.extensions = extensions
