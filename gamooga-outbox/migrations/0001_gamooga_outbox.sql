-- gamooga-outbox, schema 1: the transactional outbox for Gamooga events.
--
-- `gamooga_outbox::migrate(&pool)` applies this file (once, under an advisory lock). Teams
-- that run their own migrations copy it as it is: it creates the objects in the first schema
-- of the search_path, and the comment on `gamooga_outbox` (last statement) is how the relays
-- check that the schema is the one they expect.
--
-- Needs PostgreSQL 11 or later (tested on 15).

-- One row per event: the encoded request as the call builders made it (`tm` is inside the
-- query, fixed at enqueue), and its delivery state.
CREATE TABLE IF NOT EXISTS gamooga_outbox (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The Gamooga company the event belongs to: relays deliver one company's rows, and a
    -- pause (429/503 with Retry-After) holds every relay of that company.
    company          text        NOT NULL,
    -- The call (`evwid`, `evwidj`, `ev`, `evvprwid`, `vpr`) and its method. The URL path is
    -- rebuilt from the endpoint at delivery, never stored.
    endpoint         text        NOT NULL,
    method           text        NOT NULL,
    -- The encoded query and the JSON body (`evwidj` only): user ids and property values.
    query            text        NOT NULL,
    body             text,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    -- 'pending' (waiting, leased or in flight) or 'dead' (given up on, with dead_reason).
    state            text        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
    -- Attempts that counted against the retry policy (waits for the resolver do not).
    attempts         integer     NOT NULL DEFAULT 0,
    first_attempt_at timestamptz,
    -- No relay takes the row before this: a retry's backoff, or the end of a lease.
    not_before       timestamptz NOT NULL DEFAULT now(),
    -- The relay holding the row until not_before, and the claim that leased it.
    leased_by        text,
    lease_id         bigint,
    -- The last failure (the call, the host, the status: never ids or values).
    last_error       text,
    -- Why it is dead: rejected, retries_exhausted, unresolved, panicked, undecodable.
    dead_reason      text,
    dead_at          timestamptz
);

-- What a relay claims: a company's pending rows that are due, oldest first.
CREATE INDEX IF NOT EXISTS gamooga_outbox_due
    ON gamooga_outbox (company, not_before) WHERE state = 'pending';
-- Dead letters, listed and pruned by company and age.
CREATE INDEX IF NOT EXISTS gamooga_outbox_dead
    ON gamooga_outbox (company, dead_at) WHERE state = 'dead';

-- A pause every relay of a company honours before claiming: set when Gamooga answers 429 or
-- 503 with Retry-After (or 429 without it), or the backend cannot be resolved.
CREATE TABLE IF NOT EXISTS gamooga_outbox_pause (
    company text        PRIMARY KEY,
    until   timestamptz NOT NULL,
    cause   text        NOT NULL,
    set_by  text
);

-- Relays that have found nothing to do for a while (a second) and now sleep on LISTEN, until
-- `until` (they refresh it while they sleep; a dead relay's row expires).
CREATE TABLE IF NOT EXISTS gamooga_outbox_idle (
    relay   text        PRIMARY KEY,
    company text        NOT NULL,
    until   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS gamooga_outbox_idle_company ON gamooga_outbox_idle (company, until);

-- A committed pending row (a new event, or a replayed dead letter) wakes the sleeping relays
-- of its company (the payload is the company id). Only when one sleeps: PostgreSQL makes
-- the commits of notifying transactions wait for each other (one at a time, fsync included),
-- so a notification from every enqueue would cap the application's enqueuing transactions
-- at about one per disk flush. Relays that were busy within the last second poll instead
-- (every 50 ms), so under load no enqueue notifies. The check runs at commit (a deferred
-- trigger), and a rolled-back enqueue notifies nobody.
CREATE OR REPLACE FUNCTION gamooga_outbox_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM gamooga_outbox_idle
               WHERE company = NEW.company AND until > now()) THEN
        PERFORM pg_notify('gamooga_outbox', NEW.company);
    END IF;
    RETURN NULL;
END
$$;

-- A pause reaches every relay at once (the payload is the company id, the milliseconds the
-- pause still lasts and the relay that set it, separated by spaces: company ids hold no
-- whitespace). Pauses are written by relays, rarely, never by enqueues.
CREATE OR REPLACE FUNCTION gamooga_outbox_pause_notify() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gamooga_outbox_pause', NEW.company || ' '
        || ceil(greatest(extract(epoch FROM NEW.until - now()), 0) * 1000)::bigint
        || ' ' || coalesce(NEW.set_by, ''));
    RETURN NULL;
END
$$;

DROP TRIGGER IF EXISTS gamooga_outbox_pending ON gamooga_outbox;
CREATE CONSTRAINT TRIGGER gamooga_outbox_pending
    AFTER INSERT OR UPDATE OF state ON gamooga_outbox
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.state = 'pending')
    EXECUTE FUNCTION gamooga_outbox_notify();

DROP TRIGGER IF EXISTS gamooga_outbox_paused ON gamooga_outbox_pause;
CREATE TRIGGER gamooga_outbox_paused
    AFTER INSERT OR UPDATE ON gamooga_outbox_pause
    FOR EACH ROW
    EXECUTE FUNCTION gamooga_outbox_pause_notify();

COMMENT ON TABLE gamooga_outbox IS 'gamooga-outbox schema 1';
