-- Cross-service person timeline: one row per contract event about a person.
CREATE TABLE IF NOT EXISTS projections.{table} (
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
CREATE INDEX IF NOT EXISTS {table}_person_idx
    ON projections.{table} (person_id, occurred_at, recorded_at);
