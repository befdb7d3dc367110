"""The token buckets behind the gateway's rate limit per token subject."""

from __future__ import annotations

from gateway.ratelimit import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_subject_may_send_its_burst_and_then_waits_for_the_refill() -> None:
    clock = Clock()
    buckets = TokenBuckets(per_second=2.0, burst=3, clock=clock)

    waits = [buckets.take("alice") for _ in range(4)]

    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == 0.5


def test_the_bucket_refills_with_time() -> None:
    clock = Clock()
    buckets = TokenBuckets(per_second=2.0, burst=1, clock=clock)
    buckets.take("alice")

    clock.now += 0.5

    assert buckets.take("alice") == 0.0


def test_subjects_do_not_share_a_bucket() -> None:
    buckets = TokenBuckets(per_second=1.0, burst=1, clock=Clock())
    buckets.take("alice")

    assert buckets.take("bob") == 0.0
    assert buckets.take("alice") > 0


def test_a_rate_of_zero_means_no_limit() -> None:
    buckets = TokenBuckets(per_second=0.0, burst=1, clock=Clock())

    assert [buckets.take("alice") for _ in range(5)] == [0.0] * 5


def test_the_buckets_forget_refilled_subjects_when_there_are_too_many() -> None:
    clock = Clock()
    buckets = TokenBuckets(per_second=1.0, burst=1, clock=clock)
    buckets.MAX_SUBJECTS = 2
    buckets.take("alice")
    buckets.take("bob")

    clock.now += 5
    buckets.take("carol")

    assert set(buckets._buckets) == {"carol"}
