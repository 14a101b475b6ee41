-- Row-level security: a host's PostgreSQL role may add events only under its own name, and
-- change only its own row in hosts, so no host can make a ban or a lift look like another's.
--
-- The mapping is a convention: a host's role is named as its node ([fleet] node, by default its
-- host name), and the policies compare origin (events) and node (hosts) with current_user.
-- There is nothing else to fill in or to keep in step: CREATE ROLE mail1 LOGIN for node mail1.
-- A host whose role is named otherwise is refused its first write ("new row violates
-- row-level security policy for table hosts") and goes on alone until [fleet] node and its
-- role's name agree.
--
-- Every host may read everything (pullers read every origin's events; fleet status reads every
-- host), and may delete events: pruning deletes every host's events of bans that ended
-- (FleetEvents.prune). A host that deletes what others have not pulled yet can make them miss a
-- ban, which is less than what its own lifts can do; it still cannot insert under another name.
-- Likewise any host may delete another host's row (`f2b-store fleet forget`, [fleet] forgetafter):
-- a forgotten host that returns loads the fleet's active bans again, so forgetting loses nothing.
-- fleet_schema is read-only to hosts: only the tables' owner moves the version.
--
-- Who bypasses: the tables' owner (the role of the schema, which `f2b-store fleet init` and the
-- migrations act as), superusers, and every role that is a member of the owner (PostgreSQL counts
-- a member as the owner), so a host's role must not be a member of the owner's role: the README
-- (Fleet) gives each host's role its privileges through a group of its own instead.
ALTER TABLE events ENABLE ROW LEVEL SECURITY;
CREATE POLICY events_read ON events FOR SELECT USING (true);
CREATE POLICY events_own ON events FOR INSERT WITH CHECK (origin = current_user);
CREATE POLICY events_prune ON events FOR DELETE USING (true);

ALTER TABLE hosts ENABLE ROW LEVEL SECURITY;
CREATE POLICY hosts_read ON hosts FOR SELECT USING (true);
CREATE POLICY hosts_own ON hosts FOR INSERT WITH CHECK (node = current_user);
CREATE POLICY hosts_own_update ON hosts FOR UPDATE USING (node = current_user) WITH CHECK (node = current_user);
CREATE POLICY hosts_forget ON hosts FOR DELETE USING (node <> current_user);

ALTER TABLE fleet_schema ENABLE ROW LEVEL SECURITY;
CREATE POLICY fleet_schema_read ON fleet_schema FOR SELECT USING (true);
