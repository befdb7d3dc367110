-- version: 1
-- Conflict management read models: conflicts, escalations, interventions, the board log.
CREATE TABLE IF NOT EXISTS projections.cf_conflicts (
    conflict_id   uuid PRIMARY KEY,
    kind          text NOT NULL,
    district      text NOT NULL,
    parties       jsonb NOT NULL,
    stage         integer NOT NULL,
    status        text NOT NULL,        -- open | resolved
    description   text NOT NULL,
    reported_at   timestamptz NOT NULL,
    reported_by   text NOT NULL,        -- agency
    resolved_at   timestamptz,
    outcome       text,
    lessons       text,
    gaps          uuid[] NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS cf_conflicts_open_idx ON projections.cf_conflicts (status, district);

CREATE TABLE IF NOT EXISTS projections.cf_escalations (
    conflict_id   uuid NOT NULL,
    position      bigint NOT NULL,
    at            timestamptz NOT NULL,
    from_stage    integer NOT NULL,
    to_stage      integer NOT NULL,
    to_body       text NOT NULL,
    reason        text NOT NULL,
    agency        text NOT NULL,
    PRIMARY KEY (conflict_id, position)
);

CREATE TABLE IF NOT EXISTS projections.cf_interventions (
    intervention_id uuid PRIMARY KEY,
    conflict_id   uuid NOT NULL,
    format        text NOT NULL,
    scheduled_for date NOT NULL,
    facilitator   text NOT NULL,
    outcome       text,
    stage_after   integer,
    note          text
);

-- Append-only: one row per event of the conflict, with who and when.
CREATE TABLE IF NOT EXISTS projections.cf_log (
    conflict_id   uuid NOT NULL,
    position      bigint NOT NULL,
    at            timestamptz NOT NULL,
    agency        text NOT NULL,
    role          text NOT NULL,
    actor         text,
    kind          text NOT NULL,
    text          text NOT NULL,
    entry_id      uuid,
    corrects      uuid,
    PRIMARY KEY (conflict_id, position)
);
