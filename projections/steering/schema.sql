-- version: 1
-- The steering group's read models (no person in any of them).
CREATE TABLE IF NOT EXISTS projections.sg_gaps (
    gap_id        uuid PRIMARY KEY,
    origin        text NOT NULL,
    category      text NOT NULL,
    legal_sphere  text,
    affected_count integer,
    reported_on   date NOT NULL,
    status        text NOT NULL,          -- new | triaged | closed
    priority      text,
    owner         text,
    resolution    text
);
CREATE TABLE IF NOT EXISTS projections.sg_measures (
    measure_id    uuid PRIMARY KEY,
    gap_id        uuid,
    goal_id       uuid,
    title         text NOT NULL,
    owner         text NOT NULL,
    due           date NOT NULL,
    completed_on  date
);
CREATE TABLE IF NOT EXISTS projections.sg_escalations (
    escalation_id uuid PRIMARY KEY,
    conflict_id   uuid NOT NULL,
    district      text NOT NULL,
    to_stage      integer NOT NULL,
    received_at   timestamptz NOT NULL,
    decision      text
);
CREATE TABLE IF NOT EXISTS projections.sg_goals (
    goal_id         uuid PRIMARY KEY,
    field_of_action text NOT NULL,
    goal            text NOT NULL,
    indicator       text NOT NULL,
    unit            text NOT NULL,
    baseline        double precision NOT NULL,
    target          double precision NOT NULL,
    defined_on      date NOT NULL,
    due             date NOT NULL
);
CREATE TABLE IF NOT EXISTS projections.sg_indicator_values (
    goal_id   uuid NOT NULL,
    period    text NOT NULL,
    value     double precision NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (goal_id, period)
);
