-- version: 4
-- after: case_views, pathway
-- The steering indicators' running aggregates (issue 13 item 6): each indicator reads a number
-- of rows that grows with its groups, not with the persons. They are derived from the
-- pathway's and the case views' tables by the triggers below (which mark the persons a
-- statement touches; their contributions are refreshed at the commit of the transaction that
-- changed them): whatever writes those tables (the projectors, a rebuild's switch, a bulk
-- load) keeps the aggregates right, and a rebuild of pathway or case_views rebuilds them
-- with it. Applying this file (a first install or a new version)
-- recomputes them from the tables (projections.ind_recompute(), at the end). A writer that
-- replaces whole tables (a rebuild's switch) sets hub.indicators_whole = 'on' for its
-- transaction: its statements then mark only the families they feed, recomputed once at
-- its commit, instead of every person (version 2). Milestone durations over all years read a
-- histogram of their own (version 3) and its 30-day buckets (version 4), not the one by year
-- summed at query time.
--
-- Record digests: the first 32 bits of SHA-256 over the person's id, no secret. A group
-- keeps the count and the plain sum of its persons' digests; the gateway turns (count, sum)
-- into the cell key with the deployment secret (kernel/disclosure.py cell_key), so the
-- projector never holds HUB_INDICATOR_KEY (docs/data-protection.md).
--
-- Every person's own contribution is kept (ind_person_*), so a change to one person takes
-- out exactly what they added and adds what they add now.

CREATE OR REPLACE FUNCTION projections.ind_digest(id uuid) RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT ('x' || encode(substr(sha256(convert_to(id::text, 'UTF8')), 1, 4), 'hex'))::bit(32)::bigint $$;

-- (1) persons per stage by municipality and by target group (the target group of the
-- person's latest case in cv_cases, by opened_on and then case_id; 'no_case' without one)
CREATE TABLE IF NOT EXISTS projections.ind_person_stage (
    person_id    uuid PRIMARY KEY,
    municipality text NOT NULL,
    target_group text NOT NULL,
    stage        text NOT NULL,
    digest       bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS projections.ind_stage_counts (
    dim         text NOT NULL,         -- municipality, target_group
    grp         text NOT NULL,
    stage       text NOT NULL,
    persons     bigint NOT NULL,
    persons_key bigint NOT NULL,       -- the sum of the persons' digests (not reduced)
    PRIMARY KEY (dim, grp, stage)
);

-- (2) the month series: a person's stage at a month end is the stage of their latest history
-- entry (since, position) with since on or before it. Each person's steps: the month ends at
-- which that stage differs from the month before (before: the stage until then, NULL for the
-- first); the aggregate keeps per (month end, stage) the change of the count and of the
-- digest sum, so a month's counts are the sums of the changes up to it.
CREATE TABLE IF NOT EXISTS projections.ind_person_month (
    person_id uuid NOT NULL,
    month     date NOT NULL,           -- a month's last day
    stage     text NOT NULL,
    before    text,
    digest    bigint NOT NULL,
    PRIMARY KEY (person_id, month)
);
CREATE TABLE IF NOT EXISTS projections.ind_stage_month (
    month       date NOT NULL,
    stage       text NOT NULL,
    persons     bigint NOT NULL,       -- change at this month end
    persons_key bigint NOT NULL,
    PRIMARY KEY (month, stage)
);

-- (3) milestone durations: whole days from one milestone to the other (reached on the same
-- day or later), per pair and the first milestone's year: a histogram
CREATE TABLE IF NOT EXISTS projections.ind_person_milestone (
    person_id uuid NOT NULL,
    from_milestone text NOT NULL,
    to_milestone   text NOT NULL,
    year      integer NOT NULL,
    days      integer NOT NULL,
    digest    bigint NOT NULL,
    PRIMARY KEY (person_id, from_milestone, to_milestone)
);
CREATE TABLE IF NOT EXISTS projections.ind_milestone_days (
    from_milestone text NOT NULL,
    to_milestone   text NOT NULL,
    year        integer NOT NULL,
    days        integer NOT NULL,
    persons     bigint NOT NULL,
    persons_key bigint NOT NULL,
    PRIMARY KEY (from_milestone, to_milestone, year, days)
);
-- the same over all years: what milestoneDurations reads unless it is asked by year. Summing
-- the histogram by year at query time read every (year, days) of a pair: tens of thousands of
-- rows for a district's imported files (35 ms at 1,000,000 events), where this has one row a
-- distinct number of days
CREATE TABLE IF NOT EXISTS projections.ind_milestone_days_all (
    from_milestone text NOT NULL,
    to_milestone   text NOT NULL,
    days        integer NOT NULL,
    persons     bigint NOT NULL,
    persons_key bigint NOT NULL,
    PRIMARY KEY (from_milestone, to_milestone, days)
);
-- the same in buckets of 30 days (bucket = days / 30): a percentile finds its bucket among at
-- most a few hundred of these, then its value among the bucket's at most 30 days, so the read
-- costs the same for a thousand persons as for a hundred thousand
CREATE TABLE IF NOT EXISTS projections.ind_milestone_buckets (
    from_milestone text NOT NULL,
    to_milestone   text NOT NULL,
    bucket      integer NOT NULL,
    persons     bigint NOT NULL,
    persons_key bigint NOT NULL,
    PRIMARY KEY (from_milestone, to_milestone, bucket)
);

-- the pairs of projections/indicators/queries.py MILESTONE_PAIRS (a test compares them)
CREATE OR REPLACE FUNCTION projections.ind_milestone_pairs()
    RETURNS TABLE (from_milestone text, to_milestone text)
    LANGUAGE sql IMMUTABLE
    AS $$ VALUES ('entry', 'first_title'), ('first_title', 'integration_course_completed'),
                 ('entry', 'permanent_status'), ('entry', 'naturalised') $$;

-- a set of persons larger than this is recomputed whole (a rebuild's switch, a bulk load);
-- smaller ones are refreshed through generic plans (an index scan by the ids: no planning
-- per commit)
CREATE OR REPLACE FUNCTION projections.ind_whole() RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$ SELECT 20000 $$;

-- (1) ------------------------------------------------------------------------------------

-- every person's municipality, target group and stage (a view: a refresh reads the persons it
-- names through it, by their ids, and a recompute reads it whole)
CREATE OR REPLACE VIEW projections.ind_stage_rows AS
    SELECT p.person_id, COALESCE(p.municipality_key, 'unknown') AS municipality,
           COALESCE(c.target_group, 'no_case') AS target_group, p.stage,
           projections.ind_digest(p.person_id) AS digest
    FROM projections.pathway_persons p LEFT JOIN LATERAL (
        SELECT k.target_group FROM projections.cv_cases k WHERE k.person_id = p.person_id
        ORDER BY k.opened_on DESC, k.case_id DESC LIMIT 1) c ON true;

-- Two projectors write the tables this family is derived from (pathway_persons, cv_cases),
-- in transactions of their own: one at a time refreshes it, until its transaction ends, so
-- the second one's statements see the first one's contributions once it has committed.
CREATE OR REPLACE FUNCTION projections.ind_stages_lock() RETURNS void
    LANGUAGE sql AS $$ SELECT pg_advisory_xact_lock(hashtext('hub-indicators-stages')) $$;

CREATE OR REPLACE FUNCTION projections.ind_refresh_stages(ids uuid[]) RETURNS void
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM projections.ind_stages_lock();
    IF cardinality(ids) > projections.ind_whole() THEN
        PERFORM projections.ind_recompute_stages();
        RETURN;
    END IF;
    WITH gone AS (DELETE FROM projections.ind_person_stage WHERE person_id = ANY(ids)
                  RETURNING *)
    INSERT INTO projections.ind_stage_counts AS a (dim, grp, stage, persons, persons_key)
        SELECT dim, grp, stage, -count(*), -sum(digest) FROM (
            SELECT 'municipality' AS dim, municipality AS grp, stage, digest FROM gone
            UNION ALL SELECT 'target_group', target_group, stage, digest FROM gone) d
        GROUP BY 1, 2, 3
        ON CONFLICT (dim, grp, stage) DO UPDATE SET persons = a.persons + EXCLUDED.persons,
            persons_key = a.persons_key + EXCLUDED.persons_key;
    WITH fresh AS (INSERT INTO projections.ind_person_stage
                   SELECT * FROM projections.ind_stage_rows WHERE person_id = ANY(ids)
                   RETURNING *)
    INSERT INTO projections.ind_stage_counts AS a (dim, grp, stage, persons, persons_key)
        SELECT dim, grp, stage, count(*), sum(digest) FROM (
            SELECT 'municipality' AS dim, municipality AS grp, stage, digest FROM fresh
            UNION ALL SELECT 'target_group', target_group, stage, digest FROM fresh) d
        GROUP BY 1, 2, 3
        ON CONFLICT (dim, grp, stage) DO UPDATE SET persons = a.persons + EXCLUDED.persons,
            persons_key = a.persons_key + EXCLUDED.persons_key;
END $$;

CREATE OR REPLACE FUNCTION projections.ind_recompute_stages() RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM projections.ind_stages_lock();
    DELETE FROM projections.ind_person_stage;
    DELETE FROM projections.ind_stage_counts;
    INSERT INTO projections.ind_person_stage SELECT * FROM projections.ind_stage_rows;
    INSERT INTO projections.ind_stage_counts
        SELECT dim, grp, stage, count(*), sum(digest) FROM (
            SELECT 'municipality' AS dim, municipality AS grp, stage, digest
            FROM projections.ind_person_stage
            UNION ALL SELECT 'target_group', target_group, stage, digest
            FROM projections.ind_person_stage) d
        GROUP BY 1, 2, 3;
END $$;

-- (2) ------------------------------------------------------------------------------------

-- every person's steps, from their stage history (a view, as above)
CREATE OR REPLACE VIEW projections.ind_month_steps AS
    SELECT s.person_id, s.month, s.stage, s.before, projections.ind_digest(s.person_id) AS digest
    FROM (
        SELECT l.person_id, l.month, l.stage,
               lag(l.stage) OVER (PARTITION BY l.person_id ORDER BY l.month) AS before
        FROM (
            SELECT DISTINCT ON (h.person_id, h.month) h.person_id, h.month, h.stage
            FROM (
                SELECT h.person_id, h.stage, h.since, h.position,
                       (date_trunc('month', h.since) + interval '1 month - 1 day')::date AS month
                FROM projections.pathway_stage_history h) h
            ORDER BY h.person_id, h.month, h.since DESC, h.position DESC) l) s
    WHERE s.before IS DISTINCT FROM s.stage;

-- the changes to the month aggregate of steps (sign -1: taken out)
CREATE OR REPLACE FUNCTION projections.ind_month_delta(integer, date, text, text, bigint)
    RETURNS TABLE (month date, stage text, n integer, k bigint)
    LANGUAGE sql IMMUTABLE AS $$
    -- ($1 sign, $2 month, $3 stage, $4 before, $5 digest)
    SELECT $2, $3, $1, $1 * $5
    UNION ALL SELECT $2, $4, -$1, -$1 * $5 WHERE $4 IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION projections.ind_refresh_months(ids uuid[]) RETURNS void
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    IF cardinality(ids) > projections.ind_whole() THEN
        PERFORM projections.ind_recompute_months();
        RETURN;
    END IF;
    WITH gone AS (DELETE FROM projections.ind_person_month WHERE person_id = ANY(ids)
                  RETURNING *)
    INSERT INTO projections.ind_stage_month AS a (month, stage, persons, persons_key)
        SELECT d.month, d.stage, sum(d.n), sum(d.k) FROM gone g,
            projections.ind_month_delta(-1, g.month, g.stage, g.before, g.digest) d
        GROUP BY 1, 2
        ON CONFLICT (month, stage) DO UPDATE SET persons = a.persons + EXCLUDED.persons,
            persons_key = a.persons_key + EXCLUDED.persons_key;
    WITH fresh AS (INSERT INTO projections.ind_person_month
                   SELECT * FROM projections.ind_month_steps WHERE person_id = ANY(ids)
                   RETURNING *)
    INSERT INTO projections.ind_stage_month AS a (month, stage, persons, persons_key)
        SELECT d.month, d.stage, sum(d.n), sum(d.k) FROM fresh f,
            projections.ind_month_delta(1, f.month, f.stage, f.before, f.digest) d
        GROUP BY 1, 2
        ON CONFLICT (month, stage) DO UPDATE SET persons = a.persons + EXCLUDED.persons,
            persons_key = a.persons_key + EXCLUDED.persons_key;
END $$;

CREATE OR REPLACE FUNCTION projections.ind_recompute_months() RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM projections.ind_person_month;
    DELETE FROM projections.ind_stage_month;
    INSERT INTO projections.ind_person_month SELECT * FROM projections.ind_month_steps;
    INSERT INTO projections.ind_stage_month
        SELECT d.month, d.stage, sum(d.n), sum(d.k) FROM projections.ind_person_month p,
            projections.ind_month_delta(1, p.month, p.stage, p.before, p.digest) d
        GROUP BY 1, 2;
END $$;

-- (3) ------------------------------------------------------------------------------------

-- every person's spans between the milestones of each pair (a view, as above)
CREATE OR REPLACE VIEW projections.ind_milestone_spans AS
    SELECT a.person_id, pairs.from_milestone, pairs.to_milestone,
           extract(year FROM a.reached_on)::int AS year, b.reached_on - a.reached_on AS days,
           projections.ind_digest(a.person_id) AS digest
    FROM projections.ind_milestone_pairs() pairs
    JOIN projections.pathway_milestones a ON a.milestone = pairs.from_milestone
    JOIN projections.pathway_milestones b ON b.person_id = a.person_id
         AND b.milestone = pairs.to_milestone AND b.reached_on >= a.reached_on;

CREATE OR REPLACE FUNCTION projections.ind_refresh_milestones(ids uuid[]) RETURNS void
    LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    IF ids IS NULL OR cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    IF cardinality(ids) > projections.ind_whole() THEN
        PERFORM projections.ind_recompute_milestones();
        RETURN;
    END IF;
    WITH gone AS (DELETE FROM projections.ind_person_milestone WHERE person_id = ANY(ids)
                  RETURNING *),
    by_year AS (
        INSERT INTO projections.ind_milestone_days AS a
            (from_milestone, to_milestone, year, days, persons, persons_key)
            SELECT from_milestone, to_milestone, year, days, -count(*), -sum(digest)
            FROM gone GROUP BY 1, 2, 3, 4
            ON CONFLICT (from_milestone, to_milestone, year, days) DO UPDATE
            SET persons = a.persons + EXCLUDED.persons,
                persons_key = a.persons_key + EXCLUDED.persons_key),
    all_years AS (
        INSERT INTO projections.ind_milestone_days_all AS a
            (from_milestone, to_milestone, days, persons, persons_key)
            SELECT from_milestone, to_milestone, days, -count(*), -sum(digest)
            FROM gone GROUP BY 1, 2, 3
            ON CONFLICT (from_milestone, to_milestone, days) DO UPDATE
            SET persons = a.persons + EXCLUDED.persons,
                persons_key = a.persons_key + EXCLUDED.persons_key)
    INSERT INTO projections.ind_milestone_buckets AS a
        (from_milestone, to_milestone, bucket, persons, persons_key)
        SELECT from_milestone, to_milestone, days / 30, -count(*), -sum(digest)
        FROM gone GROUP BY 1, 2, 3
        ON CONFLICT (from_milestone, to_milestone, bucket) DO UPDATE
        SET persons = a.persons + EXCLUDED.persons,
            persons_key = a.persons_key + EXCLUDED.persons_key;
    WITH fresh AS (INSERT INTO projections.ind_person_milestone
                   SELECT * FROM projections.ind_milestone_spans WHERE person_id = ANY(ids)
                   RETURNING *),
    by_year AS (
        INSERT INTO projections.ind_milestone_days AS a
            (from_milestone, to_milestone, year, days, persons, persons_key)
            SELECT from_milestone, to_milestone, year, days, count(*), sum(digest)
            FROM fresh GROUP BY 1, 2, 3, 4
            ON CONFLICT (from_milestone, to_milestone, year, days) DO UPDATE
            SET persons = a.persons + EXCLUDED.persons,
                persons_key = a.persons_key + EXCLUDED.persons_key),
    all_years AS (
        INSERT INTO projections.ind_milestone_days_all AS a
            (from_milestone, to_milestone, days, persons, persons_key)
            SELECT from_milestone, to_milestone, days, count(*), sum(digest)
            FROM fresh GROUP BY 1, 2, 3
            ON CONFLICT (from_milestone, to_milestone, days) DO UPDATE
            SET persons = a.persons + EXCLUDED.persons,
                persons_key = a.persons_key + EXCLUDED.persons_key)
    INSERT INTO projections.ind_milestone_buckets AS a
        (from_milestone, to_milestone, bucket, persons, persons_key)
        SELECT from_milestone, to_milestone, days / 30, count(*), sum(digest)
        FROM fresh GROUP BY 1, 2, 3
        ON CONFLICT (from_milestone, to_milestone, bucket) DO UPDATE
        SET persons = a.persons + EXCLUDED.persons,
            persons_key = a.persons_key + EXCLUDED.persons_key;
END $$;

CREATE OR REPLACE FUNCTION projections.ind_recompute_milestones() RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM projections.ind_person_milestone;
    DELETE FROM projections.ind_milestone_days;
    DELETE FROM projections.ind_milestone_days_all;
    DELETE FROM projections.ind_milestone_buckets;
    INSERT INTO projections.ind_person_milestone
        SELECT * FROM projections.ind_milestone_spans;
    INSERT INTO projections.ind_milestone_days
        SELECT from_milestone, to_milestone, year, days, count(*), sum(digest)
        FROM projections.ind_person_milestone GROUP BY 1, 2, 3, 4;
    INSERT INTO projections.ind_milestone_days_all
        SELECT from_milestone, to_milestone, days, sum(persons), sum(persons_key)
        FROM projections.ind_milestone_days GROUP BY 1, 2, 3;
    INSERT INTO projections.ind_milestone_buckets
        SELECT from_milestone, to_milestone, days / 30, sum(persons), sum(persons_key)
        FROM projections.ind_milestone_days_all GROUP BY 1, 2, 3;
END $$;

CREATE OR REPLACE FUNCTION projections.ind_recompute() RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM projections.ind_recompute_stages();
    PERFORM projections.ind_recompute_months();
    PERFORM projections.ind_recompute_milestones();
END $$;

-- the triggers --------------------------------------------------------------------------
-- A write marks the persons it touched (ind_pending, by family) and its transaction
-- (ind_pending_tx); the aggregates are refreshed once per transaction, at its commit, for
-- every marked person (a deferred constraint trigger): a flush that writes a batch of persons
-- in many statements (an executemany) pays for one refresh of the batch, not one per row.
CREATE TABLE IF NOT EXISTS projections.ind_pending (
    family    text NOT NULL,               -- stages, months, milestones
    person_id uuid NOT NULL
);
CREATE TABLE IF NOT EXISTS projections.ind_pending_tx (
    xid bigint PRIMARY KEY
);

-- this transaction has marked persons: refresh at its commit (one row per transaction; the
-- transaction-local setting spares the insert after the first mark)
CREATE OR REPLACE FUNCTION projections.ind_mark_tx() RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('hub.indicators_marked', true) IS DISTINCT FROM txid_current()::text
    THEN
        -- set first: under SET CONSTRAINTS ALL IMMEDIATE the insert runs the refresh at
        -- once, which clears the setting so that a later mark inserts the row again
        PERFORM set_config('hub.indicators_marked', txid_current()::text, true);
        INSERT INTO projections.ind_pending_tx VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
END $$;

-- an update of a counted column of pathway_persons or cv_cases (the triggers' WHEN), each
-- row: its person, before and after (a flush updates its persons one statement each)
CREATE OR REPLACE FUNCTION projections.ind_on_row() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO projections.ind_pending VALUES ('stages', NEW.person_id);
    IF OLD.person_id <> NEW.person_id THEN
        INSERT INTO projections.ind_pending VALUES ('stages', OLD.person_id);
    END IF;
    PERFORM projections.ind_mark_tx();
    RETURN NULL;
END $$;

-- inserts and deletes of the four tables, and updates of the stage history and milestones,
-- each statement: every person touched (a rebuild's switch or a bulk load: one statement)
CREATE OR REPLACE FUNCTION projections.ind_on_statement() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    family text := CASE TG_TABLE_NAME WHEN 'pathway_stage_history' THEN 'months'
                   WHEN 'pathway_milestones' THEN 'milestones' ELSE 'stages' END;
BEGIN
    -- a writer that replaces whole tables (a rebuild's switch) says so for its transaction:
    -- marking every person would cost more than recomputing their families at the commit
    IF current_setting('hub.indicators_whole', true) = 'on' THEN
        PERFORM set_config('hub.indicators_whole_' || family, 'on', true);
        PERFORM projections.ind_mark_tx();
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO projections.ind_pending SELECT DISTINCT family, person_id FROM ind_new;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO projections.ind_pending SELECT DISTINCT family, person_id FROM ind_old;
    ELSE
        INSERT INTO projections.ind_pending SELECT family, person_id FROM ind_new
            UNION SELECT family, person_id FROM ind_old;
    END IF;
    IF FOUND THEN
        PERFORM projections.ind_mark_tx();
    END IF;
    RETURN NULL;
END $$;

-- at the commit of a transaction that marked persons: refresh their contributions
CREATE OR REPLACE FUNCTION projections.ind_on_commit() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    stages uuid[];
    months uuid[];
    milestones uuid[];
BEGIN
    DELETE FROM projections.ind_pending_tx WHERE xid = NEW.xid;
    -- (only this transaction's marks are visible: the others' are not committed yet, and
    -- every transaction takes its own out before it commits)
    WITH gone AS (DELETE FROM projections.ind_pending RETURNING family, person_id)
    SELECT array_agg(DISTINCT person_id) FILTER (WHERE family = 'stages'),
           array_agg(DISTINCT person_id) FILTER (WHERE family = 'months'),
           array_agg(DISTINCT person_id) FILTER (WHERE family = 'milestones')
    INTO stages, months, milestones FROM gone;
    IF current_setting('hub.indicators_whole_stages', true) = 'on' THEN
        PERFORM projections.ind_recompute_stages();
    ELSE
        PERFORM projections.ind_refresh_stages(stages);
    END IF;
    IF current_setting('hub.indicators_whole_months', true) = 'on' THEN
        PERFORM projections.ind_recompute_months();
    ELSE
        PERFORM projections.ind_refresh_months(months);
    END IF;
    IF current_setting('hub.indicators_whole_milestones', true) = 'on' THEN
        PERFORM projections.ind_recompute_milestones();
    ELSE
        PERFORM projections.ind_refresh_milestones(milestones);
    END IF;
    -- done: a later write in this transaction (after SET CONSTRAINTS ALL IMMEDIATE) marks
    -- it again, and is refreshed at the commit
    PERFORM set_config('hub.indicators_marked', '', true);
    PERFORM set_config('hub.indicators_whole_stages', '', true);
    PERFORM set_config('hub.indicators_whole_months', '', true);
    PERFORM set_config('hub.indicators_whole_milestones', '', true);
    RETURN NULL;
END $$;

-- TRUNCATE (tests, repairs): recompute what the table feeds, at once
CREATE OR REPLACE FUNCTION projections.ind_on_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME IN ('pathway_persons', 'cv_cases') THEN
        PERFORM projections.ind_recompute_stages();
    ELSIF TG_TABLE_NAME = 'pathway_stage_history' THEN
        PERFORM projections.ind_recompute_months();
    ELSE
        PERFORM projections.ind_recompute_milestones();
    END IF;
    RETURN NULL;
END $$;

DROP FUNCTION IF EXISTS projections.ind_on_persons() CASCADE;
DROP FUNCTION IF EXISTS projections.ind_on_cases() CASCADE;
DROP FUNCTION IF EXISTS projections.ind_on_history() CASCADE;

DO $$
DECLARE
    source record;
BEGIN
    FOR source IN SELECT * FROM (VALUES ('pathway_persons', 'stage, municipality_key'),
                                        ('cv_cases', 'target_group, opened_on'),
                                        ('pathway_stage_history', NULL),
                                        ('pathway_milestones', NULL)) s(tbl, counted)
    LOOP
        EXECUTE format('DROP TRIGGER IF EXISTS ind_insert ON projections.%I', source.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS ind_update ON projections.%I', source.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS ind_delete ON projections.%I', source.tbl);
        EXECUTE format('DROP TRIGGER IF EXISTS ind_truncate ON projections.%I', source.tbl);
        EXECUTE format('CREATE TRIGGER ind_insert AFTER INSERT ON projections.%I'
                       ' REFERENCING NEW TABLE AS ind_new FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION projections.ind_on_statement()', source.tbl);
        EXECUTE format('CREATE TRIGGER ind_delete AFTER DELETE ON projections.%I'
                       ' REFERENCING OLD TABLE AS ind_old FOR EACH STATEMENT'
                       ' EXECUTE FUNCTION projections.ind_on_statement()', source.tbl);
        IF source.counted IS NOT NULL THEN
            EXECUTE format('CREATE TRIGGER ind_update AFTER UPDATE ON projections.%I'
                           ' FOR EACH ROW WHEN ((OLD.person_id, OLD.%s)'
                           ' IS DISTINCT FROM (NEW.person_id, NEW.%s))'
                           ' EXECUTE FUNCTION projections.ind_on_row()', source.tbl,
                           replace(source.counted, ', ', ', OLD.'),
                           replace(source.counted, ', ', ', NEW.'));
        ELSE
            EXECUTE format('CREATE TRIGGER ind_update AFTER UPDATE ON projections.%I'
                           ' REFERENCING OLD TABLE AS ind_old NEW TABLE AS ind_new'
                           ' FOR EACH STATEMENT EXECUTE FUNCTION projections.ind_on_statement()',
                           source.tbl);
        END IF;
        EXECUTE format('CREATE TRIGGER ind_truncate AFTER TRUNCATE ON projections.%I'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION projections.ind_on_truncate()',
                       source.tbl);
    END LOOP;
END $$;

DROP TRIGGER IF EXISTS ind_commit ON projections.ind_pending_tx;
CREATE CONSTRAINT TRIGGER ind_commit AFTER INSERT ON projections.ind_pending_tx
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION projections.ind_on_commit();

SELECT projections.ind_recompute();
