"""The access matrix of docs/security.md against the live schema and the command catalogue:
an operation or object type without a row fails the build, and so does a stale row."""

from __future__ import annotations

from graphql import GraphQLObjectType, GraphQLSchema, get_named_type

from contracts.commands import CATALOGUE
from gateway.schema import schema
from tests.access_matrix import ROLES, read

LIVE: GraphQLSchema = schema._schema
MATRIX = read()
ROOTS = {
    "Query": LIVE.query_type,
    "Mutation": LIVE.mutation_type,
    "Subscription": LIVE.subscription_type,
}


def reachable_object_types() -> set[str]:
    """The object types reachable from the root fields (results of mutations aside)."""
    seen: set[str] = set()
    todo = [
        get_named_type(field.type)
        for name in ("Query", "Subscription")
        for field in ROOTS[name].fields.values()  # type: ignore[union-attr]
    ]
    while todo:
        named = todo.pop()
        if not isinstance(named, GraphQLObjectType) or named.name in seen:
            continue
        seen.add(named.name)
        todo += [get_named_type(field.type) for field in named.fields.values()]
    return seen


def test_every_root_field_of_the_schema_has_a_row() -> None:
    live = {f"{kind}.{field}" for kind, root in ROOTS.items() for field in root.fields}  # type: ignore[union-attr]

    missing = sorted(live - set(MATRIX.rows))

    assert missing == [], f"no row in docs/security.md for {missing}"


def test_every_row_names_a_field_of_the_live_schema() -> None:
    stale = []
    for operation in MATRIX.rows:
        type_name, field = operation.split(".")
        owner = LIVE.get_type(type_name)
        if not isinstance(owner, GraphQLObjectType) or field not in owner.fields:
            stale.append(operation)

    assert stale == [], f"docs/security.md names fields the schema lacks: {stale}"


def test_every_row_has_a_cell_for_every_role() -> None:
    assert all(set(cells) == set(ROLES) for cells in MATRIX.rows.values())
    assert len(MATRIX.entries()) == len(MATRIX.rows) * len(ROLES)


def test_the_mutation_rows_say_what_the_command_catalogue_declares() -> None:
    differing = {}
    for command in CATALOGUE:
        documented = {
            r for r, cell in MATRIX.rows[f"Mutation.{command.mutation}"].items() if cell != "no"
        }
        if documented != command.roles:
            differing[command.mutation] = (sorted(documented), sorted(command.roles))

    assert differing == {}, f"(docs/security.md, catalogue): {differing}"


def test_mutations_are_allowed_or_refused_per_role_and_nothing_in_between() -> None:
    cells = {cell for row in MATRIX.of_kind("Mutation").values() for cell in row.values()}

    assert cells <= {"yes", "no"}


def test_every_object_type_reachable_from_a_root_field_is_classified() -> None:
    missing = sorted(reachable_object_types() - MATRIX.object_types)
    stale = sorted(
        name for name in MATRIX.object_types if "<" not in name and LIVE.get_type(name) is None
    )

    assert missing == [], f"docs/security.md does not say what data {missing} carry"
    assert stale == [], f"docs/security.md names types the schema lacks: {stale}"
