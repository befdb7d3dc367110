"""KIM case management (KIM-Case-Management): the domain model.

Modules import nothing but the standard library, ``eventsourcing.domain`` and the shared
``kernel``.
"""

from __future__ import annotations

from services.case_management.domain.case import Case, Client
from services.case_management.domain.consent import Consent, Coverage, coverage
from services.case_management.domain.errors import (
    DomainError,
    InvalidValue,
    NotAllowed,
    NotFound,
    SharingRefused,
)
from services.case_management.domain.gap import SystemicGap
from services.case_management.domain.mediation import MediationRequest, MediatorPool
from services.case_management.domain.referral import Referral
from services.case_management.domain.vocabulary import (
    SPECIAL_CATEGORIES,
    DataCategory,
    LegalSphere,
    LifeDomain,
    Purpose,
)

__all__ = [
    "SPECIAL_CATEGORIES",
    "Case",
    "Client",
    "Consent",
    "Coverage",
    "DataCategory",
    "DomainError",
    "InvalidValue",
    "LegalSphere",
    "LifeDomain",
    "MediationRequest",
    "MediatorPool",
    "NotAllowed",
    "NotFound",
    "Purpose",
    "Referral",
    "SharingRefused",
    "SystemicGap",
    "coverage",
]
