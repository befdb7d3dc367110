-- version: 5
-- Read models of KIM case management: cases, consents, referrals, mediation, gaps.
CREATE TABLE IF NOT EXISTS projections.cv_cases (
    case_id           uuid PRIMARY KEY,
    person_id         uuid NOT NULL,
    agency            text NOT NULL,
    case_manager      text NOT NULL,
    target_group      text NOT NULL,
    legal_spheres     text[] NOT NULL,
    intake_source     text NOT NULL,
    interpreter_needed boolean NOT NULL,
    opened_on         date NOT NULL,
    status            text NOT NULL,          -- open | closed
    closed_on         date,
    close_reason      text,
    needs             jsonb NOT NULL DEFAULT '{}',
    conferences       integer NOT NULL DEFAULT 0,
    last_conference   date
);
CREATE INDEX IF NOT EXISTS cv_cases_manager_idx ON projections.cv_cases (agency, case_manager);
CREATE INDEX IF NOT EXISTS cv_cases_person_idx ON projections.cv_cases (person_id);

CREATE TABLE IF NOT EXISTS projections.cv_goals (
    goal_id      uuid PRIMARY KEY,
    case_id      uuid NOT NULL,
    domain       text NOT NULL,
    target_date  date NOT NULL,
    agreed_at    timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS cv_goals_case_idx ON projections.cv_goals (case_id);

CREATE TABLE IF NOT EXISTS projections.cv_consents (
    consent_id   uuid PRIMARY KEY,
    case_id      uuid NOT NULL,
    person_id    uuid NOT NULL,
    recipients   text[] NOT NULL,
    categories   text[] NOT NULL,
    purposes     text[] NOT NULL,
    special_explicit boolean NOT NULL,
    valid_from   date NOT NULL,
    valid_until  date NOT NULL,
    language     text NOT NULL,
    mutual       boolean NOT NULL,
    status       text NOT NULL,              -- active | withdrawn | expired
    ended_on     date
);
CREATE INDEX IF NOT EXISTS cv_consents_case_idx ON projections.cv_consents (case_id);
CREATE INDEX IF NOT EXISTS cv_consents_person_idx ON projections.cv_consents (person_id);

CREATE TABLE IF NOT EXISTS projections.cv_referrals (
    referral_id  uuid PRIMARY KEY,
    case_id      uuid NOT NULL,
    person_id    uuid NOT NULL,
    from_agency  text NOT NULL,
    to_agency    text NOT NULL,
    service      text NOT NULL,
    consent_id   uuid NOT NULL,
    shared_categories text[] NOT NULL,
    purpose      text NOT NULL,
    status       text NOT NULL,              -- sent | accepted | declined | completed
    sent_at      timestamptz NOT NULL,
    answered_at  timestamptz,
    decline_reason text,
    outcome      text
);
-- Position of the last event that changed the referral or its consent (for subscriptions).
ALTER TABLE projections.cv_referrals ADD COLUMN IF NOT EXISTS version bigint NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS cv_referrals_to_idx ON projections.cv_referrals (to_agency, sent_at);
-- An agency's referral inbox: its latest version, and what changed after a subscriber's
-- cursor, read as a range (not every referral the agency ever received).
CREATE INDEX IF NOT EXISTS cv_referrals_to_version_idx ON projections.cv_referrals (to_agency, version);
CREATE INDEX IF NOT EXISTS cv_referrals_case_idx ON projections.cv_referrals (case_id);

CREATE TABLE IF NOT EXISTS projections.cv_pools (
    pool_id      uuid PRIMARY KEY,
    agency       text NOT NULL
);

CREATE TABLE IF NOT EXISTS projections.cv_mediators (
    mediator_id  uuid PRIMARY KEY,
    pool_id      uuid NOT NULL,
    languages    text[] NOT NULL,
    availability text[] NOT NULL,
    pledge_signed_on date
);

CREATE TABLE IF NOT EXISTS projections.cv_mediation (
    request_id   uuid PRIMARY KEY,
    case_id      uuid NOT NULL,
    agency       text NOT NULL,
    language     text NOT NULL,
    starts_at    timestamptz NOT NULL,
    minutes      integer NOT NULL,
    status       text NOT NULL,              -- requested | assigned | unserved
    mediator_id  uuid,
    reason       text
);
CREATE INDEX IF NOT EXISTS cv_mediation_agency_idx ON projections.cv_mediation (agency, starts_at);

CREATE TABLE IF NOT EXISTS projections.cv_gaps (
    gap_id       uuid PRIMARY KEY,
    category     text NOT NULL,
    legal_sphere text,
    description  text NOT NULL,
    affected_count integer,
    agency       text NOT NULL,
    reported_on  date NOT NULL
);

-- a person erased by case management: their cases stay for the pseudonymous statistics
-- (target groups) and are shown to nobody; goals and consents are dropped
ALTER TABLE projections.cv_cases ADD COLUMN IF NOT EXISTS erased boolean NOT NULL DEFAULT false;

-- Version 3 (issue 11): case managers' own pre-check assessments (livelihood, convictions,
-- commitment), with the agency that made them (the event's source agency). Case-management
-- data: read only for that agency's own pre-check, never for the foreigners authority.
CREATE TABLE IF NOT EXISTS projections.cv_precheck (
    person_id   uuid NOT NULL,
    case_id     uuid NOT NULL,
    position    bigint NOT NULL,
    agency      text NOT NULL,
    role        text NOT NULL,
    requirement text NOT NULL,
    outcome     text NOT NULL,
    assessed_on date NOT NULL,
    PRIMARY KEY (case_id, position)
);
CREATE INDEX IF NOT EXISTS cv_precheck_person_idx ON projections.cv_precheck (person_id, agency);

-- Version 4 (issue 12): a case's history as data, for the Fallakte: each change of legal
-- sphere (Rechtskreiswechsel) and each case conference, keyed by the position of its event in
-- case management's log (the timeline's rows carry the same position). Conference
-- participants are the agencies or roles the event names, never a person. Dropped when the
-- person is erased or their processing restricted, like the goals.
CREATE TABLE IF NOT EXISTS projections.cv_sphere_changes (
    case_id      uuid NOT NULL,
    position     bigint NOT NULL,
    from_sphere  text,                       -- NULL: the case had no legal sphere before
    to_sphere    text NOT NULL,
    effective_on date NOT NULL,
    PRIMARY KEY (case_id, position)
);

CREATE TABLE IF NOT EXISTS projections.cv_conferences (
    case_id      uuid NOT NULL,
    position     bigint NOT NULL,
    held_on      date NOT NULL,
    participants text[] NOT NULL,
    PRIMARY KEY (case_id, position)
);
