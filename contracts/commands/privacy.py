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


class ErasePerson(CommandPayload):
    """Erase a person's data: their key is destroyed, nothing more is recorded about them."""

    person_id: UUID
    ground: ErasureGround = Field(description="Why (Art. 17 GDPR); coded, never free text")
    rule: str | None = Field(
        default=None,
        description="The retention rule that made it due (set by the retention run)",
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
    )


class RestrictProcessing(CommandPayload):
    """Restrict the processing of a person's data: it is kept, and neither shown nor changed."""

    person_id: UUID
    ground: RestrictionGround = Field(description="Why (Art. 18 GDPR, § 84 (3) SGB X)")
    rule: str | None = Field(
        default=None,
        description="The retention rule that made it due (set by the retention run)",
        max_length=64,
        pattern=r"^[a-z][a-z0-9_]*$",
    )


COMMANDS = tuple(
    Command(
        name=ERASE_PERSON,
        service=service,
        mutation=MUTATION,
        payload=ErasePerson,
        roles=DATA_PROTECTION,
        legal_basis=LEGAL_BASIS,
        purpose=PURPOSE,
        description="Erase a person's data in this service (crypto-shredding)",
        exposed=False,
    )
    for service in SERVICES
)

RESTRICT_COMMANDS = tuple(
    Command(
        name=RESTRICT_PROCESSING,
        service=service,
        mutation=RESTRICT_MUTATION,
        payload=RestrictProcessing,
        roles=DATA_PROTECTION,
        legal_basis=RESTRICT_LEGAL_BASIS,
        purpose=PURPOSE,
        description="Restrict the processing of a person's data in this service",
        exposed=False,
    )
    for service in SERVICES
)
