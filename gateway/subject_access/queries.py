"""``subjectAccessReport(personId)``: the Art. 15 report, for the data-protection officer only."""

from __future__ import annotations

from uuid import UUID

import strawberry
from strawberry.types import Info

from contracts.roles import DATA_PROTECTION
from gateway.context import HubContext, HubError, ctx
from gateway.subject_access.report import produce
from gateway.subject_access.types import SubjectAccessReport, from_document


@strawberry.type
class SubjectAccessQueries:
    @strawberry.field(
        description="What the hub holds on a person, their consents, the recipients of their "
        "data and the reads about them (Art. 15 GDPR); the data-protection officer only. "
        "null for a person no service knows. As PDF: GET /reports/subject-access/<id>.pdf"
    )
    async def subject_access_report(
        self, info: Info[HubContext, None], person_id: strawberry.ID
    ) -> SubjectAccessReport | None:
        context = ctx(info)
        principal = context.require(DATA_PROTECTION, "request a subject access report")
        try:
            person = UUID(str(person_id))
        except ValueError:
            raise HubError("personId is not a person id", "invalid_input", "personId") from None
        document = await produce(context.pool, context.commands, principal, person)
        return None if document is None else from_document(document)
