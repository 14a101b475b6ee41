-- Where this host's fleet events are numbered from (src/fleet/pusher.ts): an event's seq in
-- PostgreSQL is this base plus the local change id (minus it, for the bans shared at joining).
-- A store made again under a node name the fleet already knows (a disk replaced, a reinstall)
-- starts its change ids at 1 again; its base, the highest seq the fleet held for the node when it
-- joined, keeps its events from colliding with the old store's, which `ON CONFLICT DO NOTHING`
-- would drop. Saved before the first push, so a push repeated after a crash uses the same base.
CREATE TABLE fleet_push_base (
  reader      TEXT    PRIMARY KEY,           -- the change log's reader that pushes (change_readers)
  base        INTEGER NOT NULL
);
