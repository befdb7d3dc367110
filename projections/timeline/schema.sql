-- version: 4
-- Cross-service person timeline: one row per contract event about a person.
CREATE TABLE IF NOT EXISTS projections.timeline_events (
    source        text        NOT NULL,  -- owning service
    position      bigint      NOT NULL,  -- notification id in that service's log
    event_id      text        NOT NULL,
    person_id     uuid        NOT NULL,
    event_type    text        NOT NULL,
    occurred_at   timestamptz NOT NULL,  -- business time
    recorded_at   timestamptz NOT NULL,  -- record time in the source service
    summary       text        NOT NULL,  -- person-free
    trace_id      text,
    PRIMARY KEY (source, position)
);
-- Visibility (added with case management): what the row reveals, whose data it is, and the
-- consent that governs it where one does (referrals).
ALTER TABLE projections.timeline_events ADD COLUMN IF NOT EXISTS categories text[] NOT NULL DEFAULT '{}';
ALTER TABLE projections.timeline_events ADD COLUMN IF NOT EXISTS owner_agency text;
ALTER TABLE projections.timeline_events ADD COLUMN IF NOT EXISTS consent_id uuid;
CREATE INDEX IF NOT EXISTS timeline_events_person_idx
    ON projections.timeline_events (person_id, occurred_at, recorded_at);

-- Consents as the timeline has read them, in stream order with the rows they govern.
CREATE TABLE IF NOT EXISTS projections.timeline_events_consents (
    consent_id    uuid        PRIMARY KEY,
    person_id     uuid        NOT NULL,
    owner_agency  text,
    recipients    text[]      NOT NULL,
    categories    text[]      NOT NULL,
    purposes      text[]      NOT NULL,
    special_explicit boolean  NOT NULL,
    valid_until   date        NOT NULL,
    status        text        NOT NULL  -- active | withdrawn | expired
);
CREATE INDEX IF NOT EXISTS timeline_events_consents_person_idx
    ON projections.timeline_events_consents (person_id);

-- Which agency owns a case, referral or request, and which consent governs it.
CREATE TABLE IF NOT EXISTS projections.timeline_events_refs (
    ref_id        uuid        PRIMARY KEY,
    owner_agency  text,
    consent_id    uuid
);

-- The foreigners authority's decisions on consents (version 2): an authority's records reach
-- another agency only under a consent that authority has confirmed (and not declined since).
CREATE TABLE IF NOT EXISTS projections.timeline_events_confirmations (
    consent_id    uuid        NOT NULL,
    authority     text        NOT NULL,
    confirmed     boolean     NOT NULL,
    PRIMARY KEY (consent_id, authority)
);

-- Which foreigners authority holds each person's file now (version 3): the authority that
-- registered the person, then the one the file was last transferred to. Only the holder's
-- officers see the authority's records of the person, and only the holder's confirmation
-- releases them to another agency.
CREATE TABLE IF NOT EXISTS projections.timeline_events_holders (
    person_id     uuid        PRIMARY KEY,
    authority     text        NOT NULL
);

-- persons erased in a source service: their rows from that source are gone, and any later
-- event of that source about them is not shown (issue: erasure, contracts/privacy.py)
CREATE TABLE IF NOT EXISTS projections.timeline_events_erased (
    person_id     uuid        NOT NULL,
    source        text        NOT NULL,
    PRIMARY KEY (person_id, source)
);
