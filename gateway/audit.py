"""Audit log of reads of person data: who, what, when, for which purpose (Art. 15 GDPR)."""

from __future__ import annotations

from uuid import UUID

import asyncpg

from gateway.auth import Principal

DDL = """
CREATE SCHEMA IF NOT EXISTS gateway;
CREATE TABLE IF NOT EXISTS gateway.audit_log (
    id          bigserial   PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    subject     text        NOT NULL,
    agency      text        NOT NULL,
    role        text        NOT NULL,
    action      text        NOT NULL,
    person_id   uuid,
    purpose     text        NOT NULL,
    detail      text
);
CREATE INDEX IF NOT EXISTS audit_log_person_idx ON gateway.audit_log (person_id, at);
"""


async def create_tables(pool: asyncpg.Pool) -> None:
    await pool.execute(DDL)


async def record_read(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    action: str,
    person_id: UUID | None,
    purpose: str,
    detail: str | None = None,
) -> None:
    await pool.execute(
        "INSERT INTO gateway.audit_log (subject, agency, role, action, person_id, purpose, detail)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        principal.subject,
        principal.agency,
        principal.role,
        action,
        person_id,
        purpose,
        detail,
    )
