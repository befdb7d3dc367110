"""Who may see a timeline row: one rule, used for queries and for subscription deliveries.

- ``admin`` sees everything; ``steering`` sees no row (aggregates only).
- The foreigners authority (``abh_officer``) sees only foreigners-authority rows: nothing of
  case management reaches it (§ 87 AufenthG).
- Anyone else sees rows of their own agency, and other rows only while a consent covers them:
  - a row about a consent itself: when the consent names their agency (so a withdrawal is
    visible to those it concerned);
  - a row governed by a consent (a referral): while that consent is active, not past its end
    date, and names their agency;
  - any other row: while some active consent of the person names their agency and covers
    every data category the row reveals (special categories only with the explicit flag).
"""

from __future__ import annotations

SPECIAL = "{health,religion,ethnicity}"


def visible(
    table: str = "projections.timeline_events",
    alias: str = "t",
    *,
    agency: str = "$2",
    role: str = "$3",
    today: str = "$4",
) -> str:
    """A SQL boolean expression over ``alias`` (a row of ``table``) for the given parameters."""
    consents = f"{table}_consents"
    return f"""(
      {role} = 'admin'
      OR ({role} = 'abh_officer' AND {alias}.source = 'foreigners_authority')
      OR ({role} NOT IN ('abh_officer', 'steering') AND (
           {alias}.owner_agency = {agency}
        OR ({alias}.categories = '{{consent}}' AND EXISTS (
              SELECT 1 FROM {consents} c
              WHERE c.consent_id = {alias}.consent_id AND {agency} = ANY(c.recipients)))
        OR ({alias}.consent_id IS NOT NULL AND {alias}.categories <> '{{consent}}' AND EXISTS (
              SELECT 1 FROM {consents} c
              WHERE c.consent_id = {alias}.consent_id AND c.status = 'active'
                AND c.valid_until >= {today} AND {agency} = ANY(c.recipients)))
        OR ({alias}.consent_id IS NULL AND EXISTS (
              SELECT 1 FROM {consents} c
              WHERE c.person_id = {alias}.person_id AND c.status = 'active'
                AND c.valid_until >= {today} AND {agency} = ANY(c.recipients)
                AND {alias}.categories <@ c.categories
                AND (c.special_explicit OR NOT {alias}.categories && '{SPECIAL}')))
      ))
    )"""
