-- version: 3
-- The path of each person to naturalisation, as the foreigners authority's events tell it.
CREATE TABLE IF NOT EXISTS projections.pathway_persons (
    person_id        uuid PRIMARY KEY,
    abh_id           text NOT NULL,
    municipality_key text,
    entry_date       date,
    entry_mode       text,
    stage            text NOT NULL,
    stage_since      date NOT NULL,
    protection_granted_on date,
    language_level   text,
    course_completed_on date,
    test_passed_on   date,
    livelihood_secured boolean,
    no_relevant_conviction boolean,
    commitment_declared boolean,
    eu_or_swiss      boolean NOT NULL DEFAULT false,
    departed_on      date,
    naturalisation_applied_on date,
    naturalised_on   date
);
CREATE INDEX IF NOT EXISTS pathway_persons_stage_idx
    ON projections.pathway_persons (stage, person_id);

CREATE TABLE IF NOT EXISTS projections.pathway_periods (
    person_id   uuid NOT NULL,
    position    bigint NOT NULL,      -- the event that began it
    kind        text NOT NULL,
    start_on    date NOT NULL,
    end_on      date,
    paragraph   text,
    PRIMARY KEY (person_id, position)
);

CREATE TABLE IF NOT EXISTS projections.pathway_milestones (
    person_id   uuid NOT NULL,
    milestone   text NOT NULL,
    reached_on  date NOT NULL,
    PRIMARY KEY (person_id, milestone)
);

-- Every stage a person entered, and since when (for counts by month).
CREATE TABLE IF NOT EXISTS projections.pathway_stage_history (
    person_id   uuid NOT NULL,
    since       date NOT NULL,
    stage       text NOT NULL,
    position    bigint NOT NULL,
    PRIMARY KEY (person_id, position)
);
CREATE INDEX IF NOT EXISTS pathway_stage_history_since_idx
    ON projections.pathway_stage_history (since);
-- Version 2: the projector keeps the history; persons projected before it start with the
-- stage they are at (position 0 comes before every event).
INSERT INTO projections.pathway_stage_history (person_id, since, stage, position)
    SELECT person_id, stage_since, stage, 0 FROM projections.pathway_persons
    ON CONFLICT (person_id, position) DO NOTHING;

-- a person erased by the foreigners authority: the row stays for the pseudonymous process
-- statistics (stage counts), and no read about the person shows it any more
ALTER TABLE projections.pathway_persons ADD COLUMN IF NOT EXISTS erased boolean NOT NULL DEFAULT false;
