"""Special categories (Art. 9 GDPR): one set, used by the domain and by the SQL rule."""

from __future__ import annotations

import pytest

from kernel.categories import SPECIAL_CATEGORIES, is_special, sql_array_literal
from projections.timeline import visibility
from services.case_management.domain import SPECIAL_CATEGORIES as CASE_SPECIAL
from services.case_management.domain import DataCategory


def test_health_religion_and_ethnicity_are_the_special_categories() -> None:
    assert frozenset({"health", "religion", "ethnicity"}) == SPECIAL_CATEGORIES
    assert is_special("health")
    assert not is_special("work")


def test_case_management_builds_its_set_from_the_kernel() -> None:
    assert all(isinstance(category, DataCategory) for category in CASE_SPECIAL)
    assert {str(category) for category in CASE_SPECIAL} == SPECIAL_CATEGORIES


def test_the_sql_literal_is_generated_from_the_set() -> None:
    assert sql_array_literal() == "{ethnicity,health,religion}"
    assert sql_array_literal() == visibility.SPECIAL
    assert f"'{sql_array_literal()}'" in visibility.visible()


@pytest.mark.parametrize("bad", ["health}", "x,y", "it's", "Health", ""])
def test_only_plain_names_go_into_sql(bad: str) -> None:
    with pytest.raises(ValueError, match="plain"):
        sql_array_literal(frozenset({bad}))
