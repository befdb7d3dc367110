"""The erasure (Art. 17 GDPR) and restriction (Art. 18 GDPR) commands, which every service serves.

It is not a mutation of its own per service: the gateway's ``erasePerson`` sends it to every
service (``gateway/erasure.py``), and the retention run to the services a rule names, and
both resume until every service has answered. Each service destroys the person's key in its
vault and records ``PersonalDataErased`` (contracts/privacy.py); sent again, it answers with
the erasure it already recorded.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from contracts.commands.spec import Command, CommandPayload
from contracts.privacy import SERVICES, ErasureGround, RestrictionGround
from contracts.roles import DATA_PROTECTION

ERASE_PERSON = "erase_person"
RESTRICT_PROCESSING = "restrict_processing"
MUTATION = "erasePerson"
RESTRICT_MUTATION = "restrictProcessing"
LEGAL_BASIS = "Art. 17 DSGVO"
RESTRICT_LEGAL_BASIS = "Art. 18 DSGVO, § 84 Abs. 3 SGB X"
PURPOSE = "data_subject_rights"


class _AboutAPerson(CommandPayload):
    person_id: UUID
    rule: str | None = Field(
        default=None,
        description="The retention rule that made it due (set by the retention run)",
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
    )


class ErasePerson(_AboutAPerson):
    """Erase a person's data: their key is destroyed, nothing more is recorded about them."""

    ground: ErasureGround = Field(description="Why (Art. 17 GDPR); coded, never free text")


class RestrictProcessing(_AboutAPerson):
    """Restrict the processing of a person's data: it is kept, and neither shown nor changed."""

    ground: RestrictionGround = Field(description="Why (Art. 18 GDPR, § 84 (3) SGB X)")


def _in_every_service(
    name: str, mutation: str, payload: type[CommandPayload], legal_basis: str, description: str
) -> tuple[Command, ...]:
    """The command, once per service; one mutation (not exposed) sends it to all of them."""
    return tuple(
        Command(
            name=name,
            service=service,
            mutation=mutation,
            payload=payload,
            roles=DATA_PROTECTION,
            legal_basis=legal_basis,
            purpose=PURPOSE,
            description=description,
            exposed=False,
        )
        for service in SERVICES
    )


COMMANDS = _in_every_service(
    ERASE_PERSON,
    MUTATION,
    ErasePerson,
    LEGAL_BASIS,
    "Erase a person's data in this service (crypto-shredding)",
)
RESTRICT_COMMANDS = _in_every_service(
    RESTRICT_PROCESSING,
    RESTRICT_MUTATION,
    RestrictProcessing,
    RESTRICT_LEGAL_BASIS,
    "Restrict the processing of a person's data in this service",
)
