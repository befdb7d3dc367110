"""The roles a bearer token may carry, and the groups of roles that operations admit.

One place for every role set: the command catalogue names these groups for each command, and
the gateway's queries and the inbound interface use the same groups for reads.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """A caller's role (the ``role`` claim of a token)."""

    ABH_OFFICER = "abh_officer"  # Ausländerbehörde
    CASE_MANAGER = "case_manager"  # KIM-Case-Management
    PARTNER_AGENCY = "partner_agency"  # AWO, Caritas, Diakonie, Jobcenter, schools, ...
    STEERING = "steering"  # Lenkungsgruppe
    CONFLICT_BOARD = "conflict_board"  # Kommunales Konfliktmanagement
    ADMIN = "admin"
    DPO = "dpo"  # Datenschutzbeauftragte(r): erasure and the Art. 15 report, nothing else


def _roles(*roles: Role) -> frozenset[str]:
    return frozenset(str(role) for role in roles)


#: the foreigners authority's officers: residence files and the inbound interface
AUTHORITY = _roles(Role.ABH_OFFICER, Role.ADMIN)
#: KIM case managers: cases, consents, referrals, mediation, systemic gaps
CASE_MANAGERS = _roles(Role.CASE_MANAGER, Role.ADMIN)
#: who works on referrals: the partner agencies that receive them and the case managers
PARTNERS = _roles(Role.PARTNER_AGENCY, Role.CASE_MANAGER, Role.ADMIN)
#: readers who see a person's data only under a consent naming their agency
WITH_CONSENT = _roles(Role.CASE_MANAGER, Role.PARTNER_AGENCY)
#: who may read a person's timeline (each row still filtered by role, agency and consent)
TIMELINE_READERS = _roles(Role.ABH_OFFICER, Role.CASE_MANAGER, Role.PARTNER_AGENCY, Role.ADMIN)
#: the conflict management board
BOARD = _roles(Role.CONFLICT_BOARD, Role.ADMIN)
#: who may report a conflict to the board
CONFLICT_REPORTERS = _roles(Role.CONFLICT_BOARD, Role.CASE_MANAGER, Role.PARTNER_AGENCY, Role.ADMIN)
#: the steering group (pseudonymised, aggregated data only)
STEERING = _roles(Role.STEERING, Role.ADMIN)
#: the data-protection officer: erases a person (Art. 17 GDPR) and answers Art. 15 requests;
#: reads no file, case or timeline (need-to-know)
DATA_PROTECTION = _roles(Role.DPO)
