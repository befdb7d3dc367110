"""GraphQL types of the pathway: stage, milestones, status periods, readiness, worklist pages."""

from __future__ import annotations

import dataclasses
import datetime as dt

import strawberry

from gateway.context import HubError, today
from projections.pathway.readiness import Assessment, PathwayFacts, evaluate

WITHHELD = "not shown: no consent covers the person's language data for your agency"
WITHHELD_DE = (
    "nicht angezeigt: keine Einwilligung erfasst die Sprachdaten der Person für Ihre Stelle"
)


@strawberry.type(description="A milestone on the path (entry, first title, naturalised, ...)")
class Milestone:
    name: str
    reached_on: dt.date


@strawberry.type(description="One requirement of § 10 StAG: met, not met, or unknown (null)")
class ReadinessRequirement:
    key: str
    met: bool | None = strawberry.field(
        description="true, false, or null: not known, or a decision of the authority is needed"
    )
    reason: str
    reason_de: str = strawberry.field(description="The reason in German, for case managers")
    code: str = strawberry.field(
        description="A stable reason code, e.g. met, not_yet, decision_12b2, waived"
    )
    decision_needed: bool = strawberry.field(
        description="The law leaves this to the authority's discretion (e.g. § 12b Abs. 2 "
        "StAG): the hub does not guess"
    )
    state: str = strawberry.field(description="met, not_met, unknown or decision_needed")


@strawberry.type(description="Naturalisation readiness under the law in force on asOf")
class Readiness:
    as_of: dt.date
    law_version: str
    ready: bool
    counted_residence_days: int
    earliest_residence_date: dt.date | None = strawberry.field(
        description="The first day on which the residence requirement is met under the law in "
        "force on that day, as known on asOf (the day the current unbroken run of such days "
        "began, or the next such day); projected, where needed, under the assumption that "
        "the current title is renewed on time (see renewalAssumed, assumption)"
    )
    earliest_residence_date_without_renewal: dt.date | None = strawberry.field(
        description="The same date on the known periods only, without assuming a renewal"
    )
    renewal_assumed: bool = strawberry.field(
        description="Whether earliestResidenceDate assumes the current title is renewed on time"
    )
    assumption: str | None = strawberry.field(description="The assumption made, in English")
    assumption_de: str | None = strawberry.field(description="The assumption made, in German")
    known_law_versions: list[str] = strawberry.field(
        description="The versions of § 10 StAG promulgated by asOf, which the answer uses"
    )
    requirements: list[ReadinessRequirement]


@strawberry.type(description="A status period on the path (Gestattung, Duldung, title, ...)")
class StatusPeriod:
    kind: str
    start: dt.date
    end: dt.date | None
    paragraph: str | None


@strawberry.type(description="The person's path to naturalisation")
class Pathway:
    stage: str = strawberry.field(
        description="arrival, status_pending, protected_or_tolerated, titled, permanent, "
        "naturalisation_applied, naturalised, departed or transferred"
    )
    stage_since: dt.date
    entry_date: dt.date | None
    municipality_key: str | None
    milestones: list[Milestone]
    periods: list[StatusPeriod]
    facts: strawberry.Private[PathwayFacts]
    language_withheld: strawberry.Private[bool] = False
    #: a case manager's own agency's pre-check assessments (only ever for ``precheck``)
    own_assessments: strawberry.Private[tuple[Assessment, ...]] = ()

    @strawberry.field(
        description="Readiness for naturalisation (§ 10 StAG) on a date, on the facts the "
        "caller may see"
    )
    def readiness(self, as_of: dt.date | None = None) -> Readiness:
        return _readiness(self.facts, self.language_withheld, as_of)

    @strawberry.field(
        description="A pre-check before any application: readiness on the facts of the "
        "authority the caller may see together with the caller's own agency's assessments "
        "(recordPrecheckAssessment). For the authority it equals readiness: a case manager's "
        "assessment never counts for it (§ 87 AufenthG)"
    )
    def precheck(self, as_of: dt.date | None = None) -> Readiness:
        facts = dataclasses.replace(
            self.facts, assessments=self.facts.assessments + self.own_assessments
        )
        return _readiness(facts, self.language_withheld, as_of)


def _readiness(facts: PathwayFacts, language_withheld: bool, as_of: dt.date | None) -> Readiness:
    try:
        result = evaluate(facts, as_of or today())
    except (LookupError, OverflowError):
        raise HubError(
            "no version of § 10 StAG known to the hub is in force on asOf",
            "invalid_input",
            "asOf",
        ) from None
    return Readiness(
        as_of=result.as_of,
        law_version=result.law_version,
        ready=result.ready,
        counted_residence_days=result.counted_residence_days,
        earliest_residence_date=result.earliest_residence_date,
        earliest_residence_date_without_renewal=result.earliest_residence_date_without_renewal,
        renewal_assumed=result.renewal_assumed,
        assumption=result.assumption,
        assumption_de=result.assumption_de,
        known_law_versions=list(result.known_law_versions),
        requirements=[
            ReadinessRequirement(
                key=r.key,
                met=None,
                reason=WITHHELD,
                reason_de=WITHHELD_DE,
                code="withheld",
                decision_needed=False,
                state="unknown",
            )
            if language_withheld and r.key == "language"
            else ReadinessRequirement(
                key=r.key,
                met=r.met,
                reason=r.reason,
                reason_de=r.reason_de,
                code=r.code,
                decision_needed=r.decision_needed,
                state=r.state,
            )
            for r in result.requirements
        ],
    )


@strawberry.type(description="A person at a stage (the foreigners authority's worklist)")
class PersonAtStage:
    person_id: strawberry.ID
    stage: str
    stage_since: dt.date
    municipality_key: str | None
    entry_date: dt.date | None


@strawberry.type
class PersonPage:
    items: list[PersonAtStage]
    next_cursor: str | None = strawberry.field(description="Pass as after for the next page")
