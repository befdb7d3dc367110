"""The chaos run's proof itself (no hub needed): a read model still applying its last batch
is not taken for complete, whatever the bus says.

The run twice reported the pathway lacking every arrival after the poison phase while the
timeline had them and "no consumer had anything pending": the evidence read the tables
first and the consumers' state on the bus a second later, when the pathway (a fetch behind
the timeline after the relay's stall) had just acknowledged its last batch. The pathway
caught up a moment later; nothing was lost.
"""

from __future__ import annotations

from collections import Counter

from tests.chaos import scenario
from tests.chaos.scenario import Evidence, Outcome


def evidence(pathway_seq: int, *, pathway: set[str]) -> Evidence:
    trace = "t" * 32
    keys = [("foreigners_authority", 10), ("foreigners_authority", 11)]
    return Evidence(
        stored={trace: keys},
        on_stream=Counter(keys),
        stream_traces={trace: keys},
        timeline={trace: keys},
        conferences={},
        pathway=pathway,
        consumers={
            "HUB_FOREIGNERS_AUTHORITY/pathway_foreigners_authority": {
                "pending": 0,
                "ack_pending": 0,
            },
        },
        dead_letters={},
        poison_seqs=[],
        positions={
            ("timeline", "foreigners_authority"): (11, 11),
            ("pathway", "foreigners_authority"): (pathway_seq, pathway_seq),
        },
        last_seqs={"foreigners_authority": 11},
    )


def test_a_read_model_short_of_its_stream_is_behind_though_the_bus_has_nothing_pending() -> None:
    late = evidence(9, pathway=set())
    assert scenario.behind(late) == ["pathway on foreigners_authority: stream seq 9 of 11"]
    assert scenario.behind(evidence(11, pathway={"p"})) == []


def test_the_verdict_names_a_read_model_that_did_not_catch_up() -> None:
    client = scenario.Client.__new__(scenario.Client)  # no hub: only its outcomes count
    client.outcomes = [Outcome("after", "arrival", "t" * 32, accepted=True, ids={"personId": "p"})]
    client.watcher = None
    report = scenario.judge(client, evidence(9, pathway=set()), {}, seed=1)
    assert (
        "read model pathway on foreigners_authority: stream seq 9 of 11: it did not"
        " catch up" in report.failures()
    )
    report = scenario.judge(client, evidence(11, pathway={"p"}), {}, seed=1)
    assert report.failures() == []
