"""The cell key from a cell's count and digest sum (kernel/disclosure.py): it depends on the set
of records only, needs the secret, and one record more or less gives an unrelated key."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from kernel.disclosure import KEY_SPACE, cell_key, record_digest

SECRET = "a-deployment-secret"


def key_of(ids: list[str], secret: str = SECRET) -> int:
    return cell_key(secret, len(ids), sum(record_digest(i) for i in ids))


def test_a_record_digest_is_the_first_32_bits_of_sha256_over_its_id() -> None:
    record = "8d9a8f0e-0000-4000-8000-000000000000"

    assert record_digest(record) == int.from_bytes(hashlib.sha256(record.encode()).digest()[:4])


def test_the_cell_key_is_hmac_over_count_and_digest_sum_under_the_secret() -> None:
    expected = hmac.new(SECRET.encode(), b"3:12", hashlib.sha256).digest()[:4]

    assert cell_key(SECRET, 3, 12) == int.from_bytes(expected)
    assert cell_key(SECRET, 3, 12 + KEY_SPACE) == cell_key(SECRET, 3, 12)  # sums modulo 2^32


@given(st.lists(st.uuids().map(str), min_size=1, max_size=30, unique=True), st.randoms())
def test_the_same_set_in_any_order_has_the_same_key_and_one_less_another(
    ids: list[str], rnd: object
) -> None:
    shuffled = list(ids)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]

    assert key_of(shuffled) == key_of(ids)
    assert key_of(ids[1:]) != key_of(ids)
    assert key_of(ids, "another secret") != key_of(ids)
    assert 0 <= key_of(ids) < KEY_SPACE


def test_an_extra_record_changes_the_key_even_if_its_digest_were_zero() -> None:
    # a cell of one more record has another count, so the sum alone never decides the key
    assert cell_key(SECRET, 4, 99) != cell_key(SECRET, 3, 99)
