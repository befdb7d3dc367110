"""Pairing a rebuilt table's indexes with the live table's by their definitions
(``projections.swap``): each shadow index gets the name of its twin, or the table is copied."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from projections.swap import _index_shape, _paired


def index(name: str, table: str, columns: str, *, unique: bool = False) -> dict[str, str]:
    kind = "UNIQUE INDEX" if unique else "INDEX"
    return {
        "name": name,
        "definition": f"CREATE {kind} {name} ON s.{table} USING btree ({columns})",
    }


def test_indexes_are_paired_by_their_definition_without_their_names() -> None:
    live = [index("t_pkey", "t", "a", unique=True), index("t_b_idx", "t", "b, c")]
    shadow = [
        index("t_rebuild_pkey", "t_rebuild", "a", unique=True),
        index("t_b_idx_rebuild", "t_rebuild", "b, c"),
    ]

    assert _paired(live, shadow, _index_shape) == {
        "t_rebuild_pkey": "t_pkey",
        "t_b_idx_rebuild": "t_b_idx",
    }
    # an index made by hand on the live table has no twin: the table is copied, not renamed
    assert _paired([*live, index("x", "t", "d")], shadow, _index_shape) is None
    assert _paired(live, shadow[:1], _index_shape) is None


def test_quoted_names_are_left_out_of_the_shape() -> None:
    quoted = 'CREATE INDEX "My ""odd"" index" ON "s"."t x" USING btree (b, c)'
    assert _index_shape(quoted) == "CREATE INDEX ON USING btree (b, c)"
    assert _index_shape("CREATE UNIQUE INDEX p ON ONLY s.t USING btree (a)") == (
        "CREATE UNIQUE INDEX ON USING btree (a)"
    )


shapes = st.tuples(st.sampled_from(["a", "b", "a, b", "b, a", "c"]), st.booleans())


@given(live=st.lists(shapes, max_size=6), shadow=st.lists(shapes, max_size=6))
def test_a_pairing_is_one_to_one_between_equal_definitions_or_none(
    live: list[tuple[str, bool]], shadow: list[tuple[str, bool]]
) -> None:
    live_rows = [index(f"live_{n}", "t", c, unique=u) for n, (c, u) in enumerate(live)]
    shadow_rows = [index(f"new_{n}", "t_rebuild", c, unique=u) for n, (c, u) in enumerate(shadow)]

    paired = _paired(live_rows, shadow_rows, _index_shape)

    if Counter(live) != Counter(shadow):
        assert paired is None
        return
    assert paired is not None
    assert sorted(paired) == sorted(r["name"] for r in shadow_rows)  # every shadow index
    assert sorted(paired.values()) == sorted(r["name"] for r in live_rows)  # each live name once
    definitions = {r["name"]: _index_shape(r["definition"]) for r in live_rows + shadow_rows}
    assert all(definitions[new] == definitions[old] for new, old in paired.items())
