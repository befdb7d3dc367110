-- version: 5
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
-- (only persons without any history: re-applying this file on a later version adds nothing)
INSERT INTO projections.pathway_stage_history (person_id, since, stage, position)
    SELECT person_id, stage_since, stage, 0 FROM projections.pathway_persons p
    WHERE NOT EXISTS (SELECT 1 FROM projections.pathway_stage_history h
                      WHERE h.person_id = p.person_id)
    ON CONFLICT (person_id, position) DO NOTHING;

-- a person erased by the foreigners authority: the row stays for the pseudonymous process
-- statistics (stage counts), and no read about the person shows it any more
ALTER TABLE projections.pathway_persons ADD COLUMN IF NOT EXISTS erased boolean NOT NULL DEFAULT false;

-- Version 4 (issue 11): dated facts, each kept with the day it holds from and who recorded it
-- (the agency and role codes of the event's envelope, never a name), so readiness can count
-- each from its date. Rows projected before version 4 get these facts on a rebuild.
ALTER TABLE projections.pathway_persons ADD COLUMN IF NOT EXISTS nationalities text[];
-- a Fiktionsbescheinigung under § 81 (4) AufenthG: the paragraph of the title it continues
ALTER TABLE projections.pathway_periods ADD COLUMN IF NOT EXISTS continues text;

-- language certificates, integration courses (level, final test) and knowledge tests
CREATE TABLE IF NOT EXISTS projections.pathway_certificates (
    person_id   uuid NOT NULL,
    position    bigint NOT NULL,
    kind        text NOT NULL,        -- language_certificate, integration_course, knowledge_test
    on_date     date NOT NULL,
    level       text,                 -- CEFR level (certificates and courses)
    final_test_passed boolean,        -- integration courses: the course's final test
    test        text,                 -- knowledge tests: einbuergerungstest, leben_in_deutschland
    points      integer,              -- knowledge tests: correct answers of 33
    agency      text NOT NULL,
    role        text NOT NULL,
    PRIMARY KEY (person_id, position)
);

-- the authority's assessments of a requirement (also before an application: a pre-check),
-- waivers under § 10 (6) StAG with their ground
CREATE TABLE IF NOT EXISTS projections.pathway_assessments (
    person_id   uuid NOT NULL,
    position    bigint NOT NULL,
    requirement text NOT NULL,
    outcome     text NOT NULL,
    assessed_on date NOT NULL,
    law_version text NOT NULL,
    ground      text,
    agency      text NOT NULL,
    role        text NOT NULL,
    PRIMARY KEY (person_id, position)
);

-- stays abroad that are no departure (§ 12b (1) StAG)
CREATE TABLE IF NOT EXISTS projections.pathway_stays_abroad (
    person_id   uuid NOT NULL,
    position    bigint NOT NULL,
    left_on     date NOT NULL,
    returned_on date,
    permitted_until date,
    PRIMARY KEY (person_id, position)
);

-- a nationality given up, or kept under an exception of § 12 StAG
CREATE TABLE IF NOT EXISTS projections.pathway_nationality (
    person_id   uuid NOT NULL,
    position    bigint NOT NULL,
    nationality text NOT NULL,
    kind        text NOT NULL,        -- given_up, section_12_exception
    on_date     date NOT NULL,
    paragraph   text,
    PRIMARY KEY (person_id, position)
);

-- applications for a title (renewals: timely or late, § 81 (4) AufenthG, § 12b (3) StAG)
CREATE TABLE IF NOT EXISTS projections.pathway_title_applications (
    person_id   uuid NOT NULL,
    position    bigint NOT NULL,
    applied_on  date NOT NULL,
    paragraph   text,
    PRIMARY KEY (person_id, position)
);

-- Version 5 (issue 11, remaining gaps): the day an application was refused (the fiction of a
-- timely application ends then, § 81 (4) AufenthG); rows projected before it are rebuilt on
-- the next start (projections.rebuild_pending)
ALTER TABLE projections.pathway_title_applications ADD COLUMN IF NOT EXISTS refused_on date;
