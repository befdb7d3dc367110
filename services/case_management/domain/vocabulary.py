"""The words of KIM case management (code lists kept small and explicit)."""

from __future__ import annotations

from enum import StrEnum

from kernel import categories
from kernel.purposes import Purpose as Purpose  # the hub's one list of purposes


class LegalSphere(StrEnum):
    """Rechtskreise a case may span."""

    SGB_II = "sgb_ii"  # Grundsicherung für Arbeitsuchende (Jobcenter)
    SGB_III = "sgb_iii"  # Arbeitsförderung (Agentur für Arbeit)
    SGB_VIII = "sgb_viii"  # Kinder- und Jugendhilfe (Jugendamt)
    SGB_XII = "sgb_xii"  # Sozialhilfe (Sozialamt)
    ASYLBLG = "asylblg"  # Asylbewerberleistungsgesetz
    AUFENTHG = "aufenthg"  # Aufenthaltsgesetz


class LifeDomain(StrEnum):
    """Lebensbereiche assessed in a case."""

    RESIDENCE = "residence"
    LANGUAGE = "language"
    EDUCATION = "education"
    WORK = "work"
    HOUSING = "housing"
    HEALTH = "health"
    FAMILY = "family"


class DataCategory(StrEnum):
    """Categories of data a consent (Schweigepflichtentbindung) can cover."""

    CASE_BASIC = "case_basic"  # that a case exists, its target group and spheres
    IDENTITY = "identity"  # names, birth date, contact
    RESIDENCE = "residence"
    SOCIAL_BENEFITS = "social_benefits"  # social data, § 35 SGB I
    LANGUAGE = "language"
    EDUCATION = "education"
    WORK = "work"
    HOUSING = "housing"
    FAMILY = "family"
    HEALTH = "health"  # Art. 9 GDPR
    RELIGION = "religion"  # Art. 9 GDPR
    ETHNICITY = "ethnicity"  # Art. 9 GDPR


#: The kernel's special categories (Art. 9 GDPR) as members of this vocabulary.
SPECIAL_CATEGORIES = frozenset(DataCategory(c) for c in categories.SPECIAL_CATEGORIES)

#: The data category of what a life domain's assessment or goal reveals.
DOMAIN_CATEGORY = {
    LifeDomain.RESIDENCE: DataCategory.RESIDENCE,
    LifeDomain.LANGUAGE: DataCategory.LANGUAGE,
    LifeDomain.EDUCATION: DataCategory.EDUCATION,
    LifeDomain.WORK: DataCategory.WORK,
    LifeDomain.HOUSING: DataCategory.HOUSING,
    LifeDomain.HEALTH: DataCategory.HEALTH,
    LifeDomain.FAMILY: DataCategory.FAMILY,
}


class TargetGroup(StrEnum):
    """Zielgruppen of KIM case management."""

    NEWLY_ARRIVED = "newly_arrived"
    TOLERATED = "tolerated"  # Geduldete
    YOUNG_ADULTS = "young_adults"
    FAMILIES = "families"
    EU_CITIZENS = "eu_citizens"
    OTHER = "other"


class IntakeSource(StrEnum):
    SELF_REFERRAL = "self_referral"
    FOREIGNERS_AUTHORITY = "foreigners_authority"
    JOBCENTER = "jobcenter"
    SOCIAL_SERVICES = "social_services"
    SCHOOL = "school"
    COUNSELLING_SERVICE = "counselling_service"
    OTHER = "other"


class CloseReason(StrEnum):
    GOALS_REACHED = "goals_reached"
    HANDED_OVER = "handed_over"  # to a standard service (Regelsystem)
    MOVED_AWAY = "moved_away"
    NO_CONTACT = "no_contact"
    DECLINED_BY_PERSON = "declined_by_person"
    OTHER = "other"


class ReopenReason(StrEnum):
    PERSON_RETURNED = "person_returned"
    NEW_NEED = "new_need"
    CLOSED_BY_MISTAKE = "closed_by_mistake"
    OTHER = "other"


class GapCategory(StrEnum):
    """Kinds of systemic gap case managers report to the steering group."""

    ACCESS_TO_SERVICE = "access_to_service"
    WAITING_TIMES = "waiting_times"
    MISSING_OFFER = "missing_offer"
    LANGUAGE_BARRIER = "language_barrier"
    INTERFACE_BETWEEN_AUTHORITIES = "interface_between_authorities"
    DIGITAL_ACCESS = "digital_access"
    OTHER = "other"
