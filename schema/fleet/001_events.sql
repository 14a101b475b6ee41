-- A fleet's shared tables in PostgreSQL (src/fleet/), created in the configured schema (the
-- search_path is set to it). Applied by the daemon, or by `f2b-store fleet init`, in one
-- transaction; the version is kept in fleet_schema.

-- Every host that ever joined, and where it stands.
CREATE TABLE hosts (
  node        text        PRIMARY KEY,       -- [fleet] node
  first_seen  timestamptz NOT NULL DEFAULT now(),
  last_seen   timestamptz NOT NULL DEFAULT now(),
  pushed_seq  bigint      NOT NULL DEFAULT 0, -- the last of its local change ids it pushed
  last_push   timestamptz,
  pulled_id   bigint      NOT NULL DEFAULT 0, -- the last event id its puller took in
  last_pull   timestamptz
);

-- Every host's decisions, in the order they commit (see events_serialise). (origin, seq) is the
-- origin's own change id: pushing the same change twice (a crash before the pusher saved its
-- cursor) inserts nothing the second time.
CREATE TABLE events (
  id          bigserial   PRIMARY KEY,
  origin      text        NOT NULL,
  seq         bigint      NOT NULL,
  kind        text        NOT NULL CHECK (kind IN ('ban', 'extend', 'lift')),
  address     text        NOT NULL,          -- canonical, as f2b-store writes it
  jail        text        NOT NULL,
  expires_at  bigint,                        -- epoch seconds; NULL = permanent (for 'lift': the lifted ban's)
  source      text        NOT NULL,          -- the ban's source at its origin
  at          bigint      NOT NULL,          -- when the origin decided it, epoch seconds by its clock
  created_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (origin, seq)
);
CREATE INDEX events_ban ON events (address, jail, id);

-- The skipped-id trap: a bigserial id is taken when a row is inserted, not when its transaction
-- commits, so with two writers id 8 may commit after id 9; a reader that saw 9 and asks for
-- `id > 9` never sees 8. Every insert into events therefore first takes one transaction-scoped
-- advisory lock, before its rows get their ids (a BEFORE STATEMENT trigger fires before the
-- statement computes any row): writers take ids one transaction after another and commit in
-- that order, so what a reader sees is always every event up to some id. The other way,
-- reading only below pg_snapshot_xmin(pg_current_snapshot()) with each row's xid, lets writers
-- run side by side but makes every reader wait for the oldest transaction open anywhere in the
-- cluster (a long report elsewhere would stop the fleet); pushes are one short statement per
-- batch, so serialising them costs little. A trigger, not the pusher, takes the lock, so no
-- writer can forget it.
CREATE FUNCTION events_serialise() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('f2b-store events ' || TG_TABLE_SCHEMA));
  RETURN NULL;
END $$;
CREATE TRIGGER events_serialise BEFORE INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION events_serialise();

-- Wakes every puller listening on f2b_store_fleet when events commit (NOTIFY is delivered at commit).
CREATE FUNCTION events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('f2b_store_fleet', TG_TABLE_SCHEMA);
  RETURN NULL;
END $$;
CREATE TRIGGER events_notify AFTER INSERT ON events FOR EACH STATEMENT EXECUTE FUNCTION events_notify();
