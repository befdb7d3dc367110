"""Version 1 privacy events, published by every service: a person's data was erased there, or
its processing restricted.

Each service records its own ``PersonalDataErased`` when it has destroyed the person's key in
its vault (crypto-shredding: every copy of the person's ciphertext, in its event store, on its
stream and in any dead letter, becomes unreadable) and refuses anything further about them.
The event carries the pseudonymous person id, the ground and who asked, never a personal
value; every projection that reads the service's stream drops or hides what it held.
"""

from __future__ import annotations

from enum import StrEnum

from contracts.registry import Payload, contract

#: the services that record erasures (every service of the hub)
SERVICES = ("foreigners_authority", "case_management", "conflict_management", "steering_group")
EVENT_NAME = "personal_data_erased"
RESTRICTED_NAME = "processing_restricted"


class ErasureGround(StrEnum):
    """Why a person's data is erased (Art. 17 GDPR, and the deletion duties of public bodies)."""

    REQUEST = "request"  # Art. 17(1)(a)/(c) GDPR: the person asked (withdrew consent, objected)
    NO_LONGER_NEEDED = "no_longer_needed"  # Art. 17(1)(a) GDPR, § 84 (2) SGB X
    RETENTION_ELAPSED = "retention_elapsed"  # a retention period ended (hub retention run)
    UNLAWFUL = "unlawful"  # Art. 17(1)(d) GDPR: processed unlawfully
    LEGAL_OBLIGATION = "legal_obligation"  # Art. 17(1)(e) GDPR: a court or statute orders it


class PersonalDataErased(Payload):
    """A service destroyed a person's key and holds nothing readable about them any more."""

    person_id: str
    ground: ErasureGround
    #: the role that asked (``dpo``, or ``retention`` for the retention run), never a name
    requested_by: str
    #: whether the service held a key for the person (False: it never held personal data)
    key_destroyed: bool
    #: the retention rule that made it due (``hub retention run``), if any
    rule: str | None = None


@contract("foreigners_authority", EVENT_NAME)
class ResidenceFileErased(PersonalDataErased):
    """The foreigners authority erased a person's data (their key is destroyed)."""


@contract("case_management", EVENT_NAME)
class CaseDataErased(PersonalDataErased):
    """Case management erased a person's data (their key is destroyed)."""


@contract("conflict_management", EVENT_NAME)
class ConflictDataErased(PersonalDataErased):
    """Conflict management recorded a person's erasure (it holds no personal data)."""


@contract("steering_group", EVENT_NAME)
class SteeringDataErased(PersonalDataErased):
    """The steering group recorded a person's erasure (it holds no personal data)."""


#: each service's erasure contract
ERASED: dict[str, type[PersonalDataErased]] = {
    "foreigners_authority": ResidenceFileErased,
    "case_management": CaseDataErased,
    "conflict_management": ConflictDataErased,
    "steering_group": SteeringDataErased,
}


class RestrictionGround(StrEnum):
    """Why the processing of a person's data is restricted instead of the data erased."""

    ERASURE_DISPROPORTIONATE = "erasure_disproportionate"  # § 84 (3) SGB X, e.g. at retention
    ACCURACY_CONTESTED = "accuracy_contested"  # Art. 18 (1) (a) GDPR
    ERASURE_OPPOSED = (
        "erasure_opposed"  # Art. 18 (1) (b) GDPR: unlawful, the person opposes erasure
    )
    LEGAL_CLAIMS = "legal_claims"  # Art. 18 (1) (c) GDPR: the person needs it for legal claims
    OBJECTION_PENDING = "objection_pending"  # Art. 18 (1) (d) GDPR


class ProcessingRestricted(Payload):
    """A service keeps a person's data but no longer processes it: nothing about them is
    shown or recorded any more (Art. 18 GDPR, § 84 (3) SGB X); their key is kept."""

    person_id: str
    ground: RestrictionGround
    requested_by: str
    rule: str | None = None


@contract("foreigners_authority", RESTRICTED_NAME)
class ResidenceFileRestricted(ProcessingRestricted):
    """The foreigners authority restricted the processing of a person's data."""


@contract("case_management", RESTRICTED_NAME)
class CaseDataRestricted(ProcessingRestricted):
    """Case management restricted the processing of a person's data."""


@contract("conflict_management", RESTRICTED_NAME)
class ConflictDataRestricted(ProcessingRestricted):
    """Conflict management recorded a restriction (it holds no personal data)."""


@contract("steering_group", RESTRICTED_NAME)
class SteeringDataRestricted(ProcessingRestricted):
    """The steering group recorded a restriction (it holds no personal data)."""


#: each service's restriction contract
RESTRICTED: dict[str, type[ProcessingRestricted]] = {
    "foreigners_authority": ResidenceFileRestricted,
    "case_management": CaseDataRestricted,
    "conflict_management": ConflictDataRestricted,
    "steering_group": SteeringDataRestricted,
}
