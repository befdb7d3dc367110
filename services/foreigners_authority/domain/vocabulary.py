"""Code lists of the foreigners authority (kept small and explicit)."""

from __future__ import annotations

import re
from enum import StrEnum

NATIONALITY = re.compile(r"^[A-Z]{3}$")
MUNICIPALITY_KEY = re.compile(r"^(0[1-9]|1[0-6])\d{6}$")
PARAGRAPH = re.compile(
    r"^§ \d+[a-z]?( Abs\. \d+)?( (Satz|S\.) \d+)?( Nr\. \d+)?"
    r" (AufenthG|AsylG|FreizügG/EU|BeschV|StAG)$"
)


class EntryMode(StrEnum):
    """How the person entered Germany (Einreise)."""

    VISA = "visa"
    VISA_FREE = "visa_free"
    ASYLUM = "asylum"
    TEMPORARY_PROTECTION = "temporary_protection"
    EU_FREE_MOVEMENT = "eu_free_movement"
    FAMILY_REUNIFICATION = "family_reunification"
    OTHER = "other"


class TitleKind(StrEnum):
    """Kinds of residence title (Aufenthaltstitel, § 4 (1) AufenthG)."""

    NATIONAL_VISA = "national_visa"  # Visum (D), § 6 (3)
    RESIDENCE_PERMIT = "residence_permit"  # Aufenthaltserlaubnis, § 7
    EU_BLUE_CARD = "eu_blue_card"  # Blaue Karte EU, § 18g
    ICT_CARD = "ict_card"  # ICT-Karte, § 19
    SETTLEMENT_PERMIT = "settlement_permit"  # Niederlassungserlaubnis, § 9
    EU_LONG_TERM_RESIDENCE = "eu_long_term_residence"  # Daueraufenthalt-EU, § 9a


class AsylumOutcome(StrEnum):
    """BAMF decisions on an asylum application."""

    ASYLUM = "asylum"  # Art. 16a GG
    REFUGEE = "refugee"  # § 3 AsylG
    SUBSIDIARY = "subsidiary"  # § 4 AsylG
    DEPORTATION_BAN = "deportation_ban"  # § 60 (5), (7) AufenthG
    REJECTED = "rejected"


PROTECTION_OUTCOMES = frozenset(
    {AsylumOutcome.ASYLUM, AsylumOutcome.REFUGEE, AsylumOutcome.SUBSIDIARY}
)


class DuldungGround(StrEnum):
    """Grounds of a Duldung (§ 60a ff. AufenthG)."""

    GENERAL = "general"  # § 60a (2)
    TRAINING = "training"  # § 60c Ausbildungsduldung
    EMPLOYMENT = "employment"  # § 60d Beschäftigungsduldung
    UNCLEAR_IDENTITY = "unclear_identity"  # § 60b
    FAMILY = "family"


class FiktionKind(StrEnum):
    """Fiktionsbescheinigung under § 81 AufenthG."""

    ABS_3 = "81_3"  # lawful stay without title: stay deemed permitted
    ABS_4 = "81_4"  # title applied for before expiry: title deemed continued
    ABS_5 = "81_5"


class CourseObligor(StrEnum):
    FOREIGNERS_AUTHORITY = "foreigners_authority"
    JOBCENTER = "jobcenter"


class Channel(StrEnum):
    ONLINE = "online"
    PAPER = "paper"


class NaturalisationRequirement(StrEnum):
    RESIDENCE_PERIOD = "residence_period"
    QUALIFYING_TITLE = "qualifying_title"
    LIVELIHOOD = "livelihood"
    LANGUAGE = "language"
    NATURALISATION_TEST = "naturalisation_test"
    COMMITMENT = "commitment"
    NO_CONVICTION = "no_conviction"
    IDENTITY = "identity"


class WaiverGround(StrEnum):
    """Grounds on which § 10 (6) StAG waives the language and knowledge requirements."""

    ILLNESS = "illness"  # körperliche, geistige oder seelische Krankheit
    DISABILITY = "disability"  # Behinderung
    AGE = "age"  # altersbedingt


class KnowledgeTestKind(StrEnum):
    """Tests of the knowledge of the legal and social order (§ 10 (1) Nr. 7 StAG)."""

    EINBUERGERUNGSTEST = "einbuergerungstest"  # EinbTestV
    LEBEN_IN_DEUTSCHLAND = "leben_in_deutschland"  # the orientation course's test, § 17 IntV


class RequirementOutcome(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    WAIVED = "waived"  # exception applies (e.g. livelihood for the guest-worker generation)


CEFR_LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
