"""The foreigners authority's domain: the residence file and its code lists.

The aggregate lived in ``services/foreigners_authority/domain.py`` before this package; its
stored events name topics like ``services.foreigners_authority.domain:ResidenceFile.X``. The
re-export below and the registrations keep those topics resolving.
"""

from __future__ import annotations

from eventsourcing.utils import register_topic

from services.foreigners_authority.domain.arrival import ArrivalFacts, check_arrival
from services.foreigners_authority.domain.errors import (
    Contradiction,
    DomainError,
    InvalidValue,
    UnknownPerson,
)
from services.foreigners_authority.domain.inbound import (
    InboundMessage,
    inbound_id,
    legacy_inbound_id,
)
from services.foreigners_authority.domain.residence_file import ResidenceFile
from services.foreigners_authority.domain.vocabulary import (
    AsylumOutcome,
    Channel,
    CourseObligor,
    DuldungGround,
    EntryMode,
    FiktionKind,
    KnowledgeTestKind,
    NaturalisationRequirement,
    RequirementOutcome,
    TitleKind,
    WaiverGround,
)

_OLD_MODULE = "services.foreigners_authority.domain"
register_topic(f"{_OLD_MODULE}:ResidenceFile", ResidenceFile)
for _name in ("PersonRegistered", "EntryRecorded", "ResidenceRegistered", "ResidenceTitleGranted"):
    register_topic(f"{_OLD_MODULE}:ResidenceFile.{_name}", getattr(ResidenceFile, _name))

__all__ = [
    "ArrivalFacts",
    "AsylumOutcome",
    "Channel",
    "Contradiction",
    "CourseObligor",
    "DomainError",
    "DuldungGround",
    "EntryMode",
    "FiktionKind",
    "InboundMessage",
    "InvalidValue",
    "KnowledgeTestKind",
    "NaturalisationRequirement",
    "RequirementOutcome",
    "ResidenceFile",
    "TitleKind",
    "UnknownPerson",
    "WaiverGround",
    "check_arrival",
    "inbound_id",
    "legacy_inbound_id",
]
