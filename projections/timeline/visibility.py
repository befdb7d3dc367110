"""Who may see what: the consent rule of the read side, as SQL fragments every read composes.

This is the only place a read decides visibility. The person timeline, the pathway, the
referrals' consent status and shared case data, and both subscriptions (checked at delivery)
build their SQL from these fragments; no reader writes a consent predicate of its own. It is
the SQL form of case management's domain rule (``coverage`` in its consent module), and
tests/integration/test_visibility_property.py checks every read against that rule.

A consent covers a sharing (:func:`covers`) while it is active and not past its end date
(from that day on it covers nothing, whether or not the expiry has been recorded yet), names
the recipient, covers every data category shared (special categories only with the explicit
flag, Art. 9 GDPR) and names the purpose.

Purpose at read time: every read names its purpose (the reader's ``purpose``, from the
request's ``Hub-Purpose`` header or its token's ``purpose`` claim), and a consent releases a
fact only when it names that purpose. A read that names no purpose (``NULL``) is released
nothing by any consent: it sees what the reader's agency controls, nothing more. A referral's
shared case data needs its consent to name both the referral's purpose (it was sent for it)
and the purpose of the read.

Who controls a fact: every row names its owner, the agency whose service recorded it (the
case-holding agency for a case's records, the authority for the foreigners authority's). A
consent's controller is the agency of the case it was recorded on; it releases only that
agency's records. Nobody can release another controller's records.

Who sees a fact about a person (:func:`may_see`):

- ``admin`` sees everything; ``steering`` sees nothing (aggregates only).
- The foreigners authority (``abh_officer``) sees only foreigners-authority facts, and of
  those only about persons whose file its agency holds now (the authority that registered the
  person, or the one the file was last transferred to): a person registered by one authority
  is invisible to the others, and a transfer hands the whole file over. Nothing of case
  management reaches it (§ 87 AufenthG).
- Anyone else sees the facts their agency controls (for any purpose, or none), and another
  controller's facts only while a consent *that controller recorded* releases them to their
  agency for the purpose of the read:
  - a fact about a consent itself: when the consent names their agency and the read's
    purpose (so a withdrawal is visible to those it concerned);
  - a fact governed by a consent (a referral): while that consent covers their agency for the
    read's purpose;
  - any other fact: while some consent of the person covers their agency, the read's purpose
    and every data category the fact reveals.
- The foreigners authority's facts reach nobody else on a case manager's consent alone: they
  need a consent of the person that covers the reader, the read's purpose and the fact's
  categories and that the
  authority holding the file has confirmed (``confirmConsent``; ``declineConsent`` ends it;
  after a transfer, the new holder decides). The authority learns only the consent's id
  (§ 87 AufenthG). A case-management fact without an owner is released to no one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from kernel.categories import sql_array_literal

SPECIAL = sql_array_literal()  # the special categories (Art. 9 GDPR) as a text[] literal

#: The consents as the timeline projection has read them (timeline rows and the pathway).
CONSENTS = "projections.timeline_events_consents"
#: The category of a fact about a consent itself (granted, withdrawn, expired).
ABOUT_A_CONSENT = "'{consent}'::text[]"
NOTHING = "'{}'::text[]"
#: The source of the foreigners authority's facts.
AUTHORITY = "foreigners_authority"


def _beside(consents: str, suffix: str) -> str:
    """The side table ``suffix`` kept beside the consents table ``consents``."""
    return consents.removesuffix("_consents") + suffix


def holds(person: str, authority: str, *, consents: str = CONSENTS) -> str:
    """SQL boolean: ``authority`` holds the file of ``person`` now.

    A look-up by the person's key for each row read (``OFFSET 0`` keeps PostgreSQL from
    turning the EXISTS into a hash of every file the authority holds: planned for a window of
    a few new rows, that hash read all the authority's holders, 50,000 of them for 3 rows)."""
    return (
        f"EXISTS (SELECT 1 FROM {_beside(consents, '_holders')} h"
        f" WHERE h.person_id = {person} AND h.authority = {authority} OFFSET 0)"
    )


@dataclass(frozen=True)
class Reader:
    """Who reads, on which day and for which purpose (``None``: the request named none): the
    values a read binds to the fragments' parameters."""

    agency: str
    role: str
    today: date
    purpose: str | None = None


@dataclass(frozen=True)
class Fact:
    """What a read reveals about a person, as SQL expressions: about whom, from which service,
    which data categories (a ``text[]``), whose record it is and the consent governing it."""

    person: str
    source: str
    categories: str
    owner: str | None = None
    consent: str | None = None

    @classmethod
    def row(cls, alias: str = "t") -> Fact:
        """A row of the timeline (or of a table shaped like it)."""
        return cls(
            person=f"{alias}.person_id",
            source=f"{alias}.source",
            categories=f"{alias}.categories",
            owner=f"{alias}.owner_agency",
            consent=f"{alias}.consent_id",
        )

    @classmethod
    def residence_file(cls, person: str, *categories: str) -> Fact:
        """Data of the foreigners authority about ``person`` in the given categories."""
        listed = ",".join(categories)
        return cls(person=person, source=f"'{AUTHORITY}'", categories=f"'{{{listed}}}'::text[]")


def consent_status(c: str = "c", *, today: str) -> str:
    """SQL text: consent row ``c``'s status on ``today``: active, withdrawn or expired (an
    active consent past its end date is expired, recorded or not)."""
    return (
        f"(CASE WHEN {c}.status = 'active' AND {c}.valid_until < {today}"
        f" THEN 'expired' ELSE {c}.status END)"
    )


def names_purpose(c: str = "c", *, purpose: str) -> str:
    """SQL boolean: consent row ``c`` names ``purpose`` (false when ``purpose`` is NULL: a
    read that names no purpose is covered by no consent)."""
    return f"COALESCE({purpose} = ANY({c}.purposes), false)"


def covers(
    c: str = "c",
    *,
    recipient: str,
    categories: str,
    today: str,
    purpose: str,
) -> str:
    """SQL boolean: consent row ``c`` lets ``recipient`` receive ``categories`` on ``today``
    for ``purpose`` (never for a NULL purpose)."""
    return (
        f"({c}.status = 'active' AND {c}.valid_until >= {today}"
        f" AND {recipient} = ANY({c}.recipients)"
        f" AND {categories} <@ {c}.categories"
        f" AND ({c}.special_explicit OR NOT {categories} && '{SPECIAL}')"
        f" AND {names_purpose(c, purpose=purpose)})"
    )


def may_see(
    fact: Fact,
    *,
    agency: str = "$2",
    role: str = "$3",
    today: str = "$4",
    purpose: str = "$5",
    consents: str = CONSENTS,
) -> str:
    """SQL boolean: the reader (``agency``, ``role`` on ``today``, reading for ``purpose``)
    may see ``fact``."""
    releases: list[str] = []  # any one of these lets another reader see it
    covered = {"recipient": agency, "today": today, "purpose": purpose}  # by a consent `c`
    if fact.owner is not None:
        releases.append(f"{fact.owner} = {agency}")
        released = f"c.owner_agency = {fact.owner}"  # a consent releases its controller's
        person_consent = (
            f"EXISTS (SELECT 1 FROM {consents} c WHERE c.person_id = {fact.person}"
            f" AND {released}"
            f" AND {covers(categories=fact.categories, **covered)})"
        )
        if fact.consent is None:
            releases.append(person_consent)
        else:
            about = f"{fact.categories} = {ABOUT_A_CONSENT}"
            releases += [
                f"({about} AND EXISTS (SELECT 1 FROM {consents} c"
                f" WHERE c.consent_id = {fact.consent} AND {released}"
                f" AND {agency} = ANY(c.recipients) AND {names_purpose(purpose=purpose)}))",
                # a referral reveals itself, which its consent covered when it was sent
                f"({fact.consent} IS NOT NULL AND NOT {about} AND EXISTS (SELECT 1"
                f" FROM {consents} c WHERE c.consent_id = {fact.consent} AND {released}"
                f" AND {covers(categories=NOTHING, **covered)}))",
                f"({fact.consent} IS NULL AND {person_consent})",
            ]
    releases = releases or ["false"]
    return f"""(
      {role} = 'admin'
      OR ({role} = 'abh_officer' AND {fact.source} = '{AUTHORITY}'
          AND {holds(fact.person, agency, consents=consents)})
      OR ({role} NOT IN ('abh_officer', 'steering') AND {fact.source} <> '{AUTHORITY}' AND (
           {" OR ".join(releases)}
      ))
      OR ({role} NOT IN ('abh_officer', 'steering') AND {fact.source} = '{AUTHORITY}'
          AND {_confirmed_release(fact, consents=consents, **covered)})
    )"""


def _confirmed_release(
    fact: Fact, *, recipient: str, today: str, purpose: str, consents: str
) -> str:
    """SQL boolean: a consent of the person that covers ``recipient`` for the fact's
    categories and ``purpose`` has been confirmed by the authority that holds the person's
    file now, and not declined since."""
    consented = {"recipient": recipient, "today": today, "purpose": purpose}
    confirmations = _beside(consents, "_confirmations")
    return (
        f"EXISTS (SELECT 1 FROM {consents} c JOIN {confirmations} k"
        f" ON k.consent_id = c.consent_id AND k.confirmed"
        f" WHERE c.person_id = {fact.person}"
        f" AND {holds(fact.person, 'k.authority', consents=consents)}"
        f" AND {covers(categories=fact.categories, **consented)})"
    )


def visible(
    table: str = "projections.timeline_events",
    alias: str = "t",
    *,
    agency: str = "$2",
    role: str = "$3",
    today: str = "$4",
    purpose: str = "$5",
) -> str:
    """SQL boolean: the reader may see row ``alias`` of the timeline ``table``."""
    return may_see(
        Fact.row(alias),
        agency=agency,
        role=role,
        today=today,
        purpose=purpose,
        consents=f"{table}_consents",
    )


def referral_shared(r: str = "r", c: str = "c", *, today: str, purpose: str) -> str:
    """SQL boolean: referral row ``r``'s consent ``c`` still covers what it shares: its
    recipient receiving its categories for its purpose on ``today``, and it names ``purpose``,
    the purpose of the read (so a read that names no purpose gets no shared case data)."""
    to, shared, sent_for = f"{r}.to_agency", f"{r}.shared_categories", f"{r}.purpose"
    return (
        f"({covers(c, recipient=to, categories=shared, purpose=sent_for, today=today)}"
        f" AND {names_purpose(c, purpose=purpose)})"
    )
